namespace RlhfKit.Ppo;

/// <summary>How the per-token KL penalty is computed (TRL's <c>kl_penalty</c>).</summary>
public enum KlPenaltyKind
{
    /// <summary><c>"kl"</c>: <c>logprob - ref_logprob</c> of the sampled token.</summary>
    Kl,
    /// <summary><c>"abs"</c>: <c>|logprob - ref_logprob|</c>.</summary>
    Abs,
    /// <summary><c>"mse"</c>: <c>0.5 * (logprob - ref_logprob)^2</c>.</summary>
    Mse,
    /// <summary><c>"full"</c>: the exact KL(policy || reference) over the whole vocabulary at each position;
    /// the log-probabilities passed in are then whole log-softmax distributions <c>[batch, length, vocab]</c>.</summary>
    Full,
}

/// <summary>
/// The options of TRL 0.7.1's legacy <c>PPOConfig</c> that shape the PPO math and the optimisation loop, with TRL's
/// defaults, in C# naming (<c>init_kl_coef</c> becomes <see cref="InitKlCoef"/>, and so on). Tracking-only options
/// (experiment name, logger, hub pushing, accelerator kwargs) are left out, and so are <c>steps</c> and
/// <c>compare_steps</c> (how long to train is the caller's loop: the workshop's run has epochs and a step limit) and
/// <c>optimize_device_cache</c> (the trainer frees every pass's tensors as it goes). Call <see cref="Validate"/> before use;
/// unlike TRL (which only checks the batch-size divisibility and the penalty name) it rejects every value the math
/// cannot work with.
/// </summary>
public sealed record PpoConfig
{
    /// <summary>Seed for random generation (<c>seed</c>, default 0).</summary>
    public int Seed { get; init; }

    /// <summary>Adam learning rate (<c>learning_rate</c>). TRL 0.7.1 defaults to 1e-5; later TRL releases (and the
    /// TRL sentiment examples) use 1.41e-5.</summary>
    public double LearningRate { get; init; } = 1e-5;

    /// <summary>Use the adaptive KL controller, otherwise a fixed coefficient (<c>adap_kl_ctrl</c>, default true).</summary>
    public bool AdaptKlCtrl { get; init; } = true;

    /// <summary>Initial KL penalty coefficient (<c>init_kl_coef</c>, default 0.2).</summary>
    public double InitKlCoef { get; init; } = 0.2;

    /// <summary>How the per-token KL penalty is computed (<c>kl_penalty</c>, default <c>"kl"</c>).</summary>
    public KlPenaltyKind KlPenalty { get; init; } = KlPenaltyKind.Kl;

    /// <summary>Target KL for the adaptive controller (<c>target</c>, default 6).</summary>
    public double Target { get; init; } = 6;

    /// <summary>Horizon of the adaptive controller (<c>horizon</c>, default 10000).</summary>
    public double Horizon { get; init; } = 10000;

    /// <summary>Discount factor of GAE (<c>gamma</c>, default 1).</summary>
    public double Gamma { get; init; } = 1;

    /// <summary>Lambda of GAE (<c>lam</c>, default 0.95).</summary>
    public double Lam { get; init; } = 0.95;

    /// <summary>Clip range of the policy ratio (<c>cliprange</c>, default 0.2).</summary>
    public double Cliprange { get; init; } = 0.2;

    /// <summary>Clip range of the value prediction around the old values (<c>cliprange_value</c>, default 0.2).</summary>
    public double CliprangeValue { get; init; } = 0.2;

    /// <summary>Scale of the value loss (<c>vf_coef</c>, default 0.1).</summary>
    public double VfCoef { get; init; } = 0.1;

    /// <summary>Samples per optimisation step (<c>batch_size</c>, default 256).</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Samples per PPO minibatch, also the forward-pass batch (<c>mini_batch_size</c>, default 1).</summary>
    public int MiniBatchSize { get; init; } = 1;

    /// <summary>Gradient accumulation steps (<c>gradient_accumulation_steps</c>, default 1).</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Optimisation epochs per batch of samples (<c>ppo_epochs</c>, default 4).</summary>
    public int PpoEpochs { get; init; } = 4;

    /// <summary>Gradient-norm clipping, none when null (<c>max_grad_norm</c>, default null).</summary>
    public double? MaxGradNorm { get; init; }

    /// <summary>Stop the PPO epochs early when, at the end of an epoch, the last minibatch's policy KL exceeds
    /// 1.5 * <see cref="TargetKl"/> (<c>early_stopping</c>, default false; checked once per epoch, as TRL 0.7.1 does).</summary>
    public bool EarlyStopping { get; init; }

    /// <summary>KL level for early stopping (<c>target_kl</c>, default 0.1 as in TRL 0.7.1; 0.7.2 changed it to 1).</summary>
    public double TargetKl { get; init; } = 0.1;

    /// <summary>Skip minibatches whose masked mean ratio exceeds this (<c>ratio_threshold</c>, default 10).</summary>
    public double RatioThreshold { get; init; } = 10.0;

    /// <summary>Scale scores by a running standard deviation (<c>use_score_scaling</c>, default false).</summary>
    public bool UseScoreScaling { get; init; }

    /// <summary>Also subtract the running mean; only used with <see cref="UseScoreScaling"/>
    /// (<c>use_score_norm</c>, default false).</summary>
    public bool UseScoreNorm { get; init; }

    /// <summary>Clip scores to [-ScoreClip, ScoreClip], none when null (<c>score_clip</c>, default null).</summary>
    public double? ScoreClip { get; init; }

    /// <summary>Whiten the masked rewards (without shifting their mean) before GAE. Not in TRL 0.7.1 (added in a
    /// later release as <c>whiten_rewards</c>); false, the default, gives exactly 0.7.1's behaviour.</summary>
    public bool WhitenRewards { get; init; }

    /// <summary>
    /// Reproduce TRL 0.7.1 exactly where the kit chose otherwise (default false). With it: the seq2seq mask leaves out
    /// the first generated token (TRL's <c>start = 1</c> on already-shifted log-probabilities, so that token is neither
    /// trained nor penalised) and responses of fewer than 3 tokens raise as in TRL; <c>tokens/responses_len_*</c>
    /// count the decoder start token as TRL's do; score scaling divides by <c>std</c> instead of <c>std + 1e-8</c>;
    /// and the PPO math returns NaN or raises where TRL does (<see cref="PpoMath"/>'s <c>strictTrl</c>).
    /// </summary>
    public bool StrictTrl { get; init; }

    /// <summary>
    /// TRL 0.7.1's value-head dropout (default false). <c>AutoModelForSeq2SeqLMWithValueHead.from_pretrained</c> leaves
    /// the language model in eval mode but the freshly built <c>v_head</c> in train mode, and the trainer never switches
    /// it, so its dropout (<c>summary_dropout_prob</c>, 0.1) is active in every pass: the old values and the predicted
    /// values are both computed through a random dropout mask. True reproduces that (the masks are drawn from a
    /// generator seeded per step, so a resumed run draws the same ones); false, the kit's default, keeps every dropout
    /// off during the step, so the values are deterministic. Log-probabilities, and so the first ratio of exactly 1,
    /// are the same either way.
    /// </summary>
    public bool ValueHeadDropout { get; init; }

    /// <summary>Samples per optimizer step: <c>MiniBatchSize * GradientAccumulationSteps</c> (TRL's
    /// <c>backward_batch_size</c>).</summary>
    public int BackwardBatchSize => MiniBatchSize * GradientAccumulationSteps;

    /// <summary>The KL controller this configuration asks for: adaptive when <see cref="AdaptKlCtrl"/>, else fixed.</summary>
    public IKlController CreateKlController() =>
        AdaptKlCtrl ? new AdaptiveKlController(InitKlCoef, Target, Horizon) : new FixedKlController(InitKlCoef);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, string message)
        {
            if (!ok) throw new ArgumentException(message, name);
        }
        static bool Finite(double x) => double.IsFinite(x);

        Require(Finite(LearningRate) && LearningRate > 0, nameof(LearningRate), $"LearningRate must be a positive number, got {LearningRate}.");
        Require(Finite(InitKlCoef) && InitKlCoef >= 0, nameof(InitKlCoef), $"InitKlCoef must be a non-negative number, got {InitKlCoef}.");
        Require(Enum.IsDefined(KlPenalty), nameof(KlPenalty), $"KlPenalty must be one of Kl, Abs, Mse, Full, got {(int)KlPenalty}.");
        if (AdaptKlCtrl)
        {
            Require(Finite(Target) && Target > 0, nameof(Target), $"Target must be a positive number when AdaptKlCtrl is true, got {Target}.");
            Require(Finite(Horizon) && Horizon > 0, nameof(Horizon), $"Horizon must be a positive number when AdaptKlCtrl is true, got {Horizon}.");
        }
        Require(Gamma is >= 0 and <= 1, nameof(Gamma), $"Gamma must be in [0, 1], got {Gamma}.");
        Require(Lam is >= 0 and <= 1, nameof(Lam), $"Lam must be in [0, 1], got {Lam}.");
        Require(Finite(Cliprange) && Cliprange > 0, nameof(Cliprange), $"Cliprange must be a positive number, got {Cliprange}.");
        Require(Finite(CliprangeValue) && CliprangeValue > 0, nameof(CliprangeValue), $"CliprangeValue must be a positive number, got {CliprangeValue}.");
        Require(Finite(VfCoef) && VfCoef >= 0, nameof(VfCoef), $"VfCoef must be a non-negative number, got {VfCoef}.");
        Require(BatchSize >= 1, nameof(BatchSize), $"BatchSize must be at least 1, got {BatchSize}.");
        Require(MiniBatchSize >= 1, nameof(MiniBatchSize), $"MiniBatchSize must be at least 1, got {MiniBatchSize}.");
        Require(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), $"GradientAccumulationSteps must be at least 1, got {GradientAccumulationSteps}.");
        Require(BatchSize % BackwardBatchSize == 0, nameof(BatchSize),
            $"BatchSize ({BatchSize}) must be a multiple of MiniBatchSize * GradientAccumulationSteps " +
            $"({MiniBatchSize} * {GradientAccumulationSteps} = {BackwardBatchSize}).");
        Require(PpoEpochs >= 1, nameof(PpoEpochs), $"PpoEpochs must be at least 1, got {PpoEpochs}.");
        Require(MaxGradNorm is null || (Finite(MaxGradNorm.Value) && MaxGradNorm > 0), nameof(MaxGradNorm), $"MaxGradNorm must be null or a positive number, got {MaxGradNorm}.");
        Require(Finite(TargetKl) && TargetKl > 0, nameof(TargetKl), $"TargetKl must be a positive number, got {TargetKl}.");
        Require(RatioThreshold > 0 && !double.IsNaN(RatioThreshold), nameof(RatioThreshold), $"RatioThreshold must be a positive number, got {RatioThreshold}.");
        Require(ScoreClip is null || (Finite(ScoreClip.Value) && ScoreClip > 0), nameof(ScoreClip), $"ScoreClip must be null or a positive number, got {ScoreClip}.");
    }
}
