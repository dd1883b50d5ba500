namespace RlhfKit.Dpo;

/// <summary>Which preference loss <see cref="DpoMath.Loss"/> computes (TRL's <c>loss_type</c>).</summary>
public enum DpoLossType
{
    /// <summary><c>"sigmoid"</c>, the DPO loss of Rafailov et al. 2023, with conservative label smoothing (cDPO):
    /// <c>-(1 - ε) log σ(β z) - ε log σ(-β z)</c>.</summary>
    Sigmoid,
    /// <summary><c>"hinge"</c>, the SLiC loss: <c>relu(1 - β z)</c>.</summary>
    Hinge,
    /// <summary><c>"ipo"</c>, Azar et al. 2023, eq. 17: <c>(z - 1 / (2β))²</c>, with β as the paper's τ.</summary>
    Ipo,
}

/// <summary>
/// The options of TRL's <c>DPOTrainer</c> (0.7.x, whose arguments became <c>DPOConfig</c> later) that shape the math and
/// the loop, with TRL's defaults in C# naming. The optimisation options are those of transformers'
/// <c>TrainingArguments</c> defaults (AdamW, learning rate 5e-5, batch 8, gradient clipping at 1.0), except the schedule:
/// the kit keeps the learning rate constant (transformers decays it linearly to 0 over a run length the kit's loop does
/// not fix in advance). Call <see cref="Validate"/> before use.
/// </summary>
public sealed record DpoConfig
{
    /// <summary>Temperature of the implicit reward <c>β log(π/π_ref)</c>; larger stays closer to the reference
    /// (<c>beta</c>, default 0.1).</summary>
    public double Beta { get; init; } = 0.1;

    /// <summary>Probability ε that a preference label is flipped, for the conservative DPO loss (<c>label_smoothing</c>,
    /// default 0: plain DPO). Only the sigmoid loss uses it; must be below 0.5.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>The loss (<c>loss_type</c>, default <c>"sigmoid"</c>).</summary>
    public DpoLossType LossType { get; init; } = DpoLossType.Sigmoid;

    /// <summary>Ignore the reference: its log-probabilities are taken as 0 (<c>reference_free</c>, default false).</summary>
    public bool ReferenceFree { get; init; }

    /// <summary>Average the response log-probabilities over the response's tokens instead of summing them. TRL 0.7.4
    /// always sums; later TRL releases average for <c>ipo</c>. Default false (sum), as 0.7.4.</summary>
    public bool AverageLogProb { get; init; }

    /// <summary>Longest prompt in tokens, eos included; longer prompts keep their start (<c>max_prompt_length</c>, default
    /// 128, as TRL; the kit's CLI and lesson pass 512, the length PPO reads).</summary>
    public int MaxPromptLength { get; init; } = 128;

    /// <summary>Longest response in tokens, eos included (<c>max_target_length</c>, TRL's encoder-decoder default 128).</summary>
    public int MaxTargetLength { get; init; } = 128;

    /// <summary>AdamW learning rate (<c>learning_rate</c>, transformers' default 5e-5).</summary>
    public double LearningRate { get; init; } = 5e-5;

    /// <summary>Pairs per optimiser step (<c>per_device_train_batch_size</c>, default 8).</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Gradient-norm clipping, none when null (<c>max_grad_norm</c>, default 1.0).</summary>
    public double? MaxGradNorm { get; init; } = 1.0;

    /// <summary>AdamW weight decay (<c>weight_decay</c>, default 0).</summary>
    public double WeightDecay { get; init; }

    /// <summary>Seed of the shuffles of <see cref="DpoTrainer.Train"/> (<c>seed</c>, default 42 in transformers; 0 here,
    /// as the kit's other trainers).</summary>
    public int Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, string message)
        {
            if (!ok) throw new ArgumentException(message, name);
        }
        Require(double.IsFinite(Beta) && Beta > 0, nameof(Beta), $"Beta must be a positive number, got {Beta}.");
        Require(LabelSmoothing is >= 0 and < 0.5, nameof(LabelSmoothing), $"LabelSmoothing must be in [0, 0.5), got {LabelSmoothing}.");
        Require(LabelSmoothing == 0 || LossType == DpoLossType.Sigmoid, nameof(LabelSmoothing), $"LabelSmoothing applies to the Sigmoid loss only; got {LabelSmoothing} with {LossType}.");
        Require(Enum.IsDefined(LossType), nameof(LossType), $"LossType must be one of Sigmoid, Hinge, Ipo, got {(int)LossType}.");
        Require(MaxPromptLength >= 1, nameof(MaxPromptLength), $"MaxPromptLength must be at least 1, got {MaxPromptLength}.");
        Require(MaxTargetLength >= 1, nameof(MaxTargetLength), $"MaxTargetLength must be at least 1, got {MaxTargetLength}.");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), $"LearningRate must be a positive number, got {LearningRate}.");
        Require(BatchSize >= 1, nameof(BatchSize), $"BatchSize must be at least 1, got {BatchSize}.");
        Require(MaxGradNorm is null || (double.IsFinite(MaxGradNorm.Value) && MaxGradNorm > 0), nameof(MaxGradNorm), $"MaxGradNorm must be null or a positive number, got {MaxGradNorm}.");
        Require(double.IsFinite(WeightDecay) && WeightDecay >= 0, nameof(WeightDecay), $"WeightDecay must be a non-negative number, got {WeightDecay}.");
    }
}
