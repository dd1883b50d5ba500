using System.Diagnostics;
using RlhfKit.Common;
using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Ppo;

/// <summary>
/// TRL's PPO for an encoder-decoder policy. <see cref="Step"/> reads in the order of the algorithm: batch the
/// rollout, score it under the policy and the frozen reference, turn scores into per-token rewards with a KL
/// penalty, estimate advantages with GAE, run epochs of clipped updates on shuffled minibatches, then record
/// statistics and adapt the KL coefficient.
/// </summary>
/// <remarks>
/// Differences from TRL 0.7.1, each deliberate:
/// the mask covers every response token (TRL's seq2seq path drops the first generated token); dropout stays off in
/// the policy for the whole step (so the first ratio is exactly 1, as later TRL versions do); a minibatch whose mean
/// ratio exceeds <see cref="PpoConfig.RatioThreshold"/> skips its backward pass instead of back-propagating zeros;
/// random streams are derived from (seed, step) by SplitMix64, so a resumed run (in this process or a new one) continues
/// exactly where it stopped.
/// </remarks>
public sealed class PpoTrainer : IDisposable
{
    readonly Adam _optimizer;
    readonly RunningMoments _scoreMoments = new();
    readonly HashSet<string> _warned = [];

    public PpoTrainer(PpoConfig config, Seq2SeqLMWithValueHead policy, T5ForConditionalGeneration? reference = null)
    {
        config.Validate();
        Config = config;
        Policy = policy;
        Reference = reference ?? policy.CreateReferenceModel();
        foreach (var p in Reference.parameters()) p.requires_grad = false; // fast path: the reference never builds graphs
        Reference.eval();
        KlController = config.CreateKlController();
        Device = policy.parameters().First().device;
        _optimizer = Optimizers.Adam(policy.parameters().Where(p => p.requires_grad), lr: config.LearningRate);
    }

    public PpoConfig Config { get; }
    public Seq2SeqLMWithValueHead Policy { get; }
    public T5ForConditionalGeneration Reference { get; }
    public IKlController KlController { get; private set; }
    /// <summary>PPO steps taken so far.</summary>
    public int StepCount { get; private set; }
    /// <summary>Receives TRL's warnings (ratio threshold, negative KL, early stop).</summary>
    public Action<string>? Warn { get; set; }

    /// <summary>Where the policy lives (read once: module property getters can hand out new tensor wrappers).</summary>
    Device Device { get; }

    /// <summary>
    /// Compute type of the rollouts, e.g. <c>bfloat16</c> on CUDA; null (the default) samples with the policy itself.
    /// TorchSharp 0.107 has no autocast, so rollouts then run on a copy of the policy's language model in this type,
    /// refreshed from the trained weights before every <see cref="Generate"/> (one extra half-size copy of the
    /// weights on the device). PPO's log-probabilities and values are still computed in the policy's own type by
    /// <see cref="Step"/>; only which tokens are sampled is affected by the rounding. Prefer bfloat16: T5's
    /// feed-forward activations overflow float16. Meant for GPUs; on CPUs half-precision matmuls are usually slower.
    /// </summary>
    public ScalarType? RolloutDType
    {
        get => _rolloutDType;
        set => _rolloutDType = value == ScalarType.Float16 ? throw new ArgumentException("RolloutDType float16: " + AutoModel.T5Float16Refused, nameof(value)) : value;
    }
    ScalarType? _rolloutDType;

    /// <summary>
    /// Compute type of the PPO update's matrix products: null (the default) runs it in float32; <c>bfloat16</c> runs the
    /// no-gradient forward pass (old log-probabilities, values, reference) and every minibatch's forward and backward
    /// inside an <see cref="Autocast"/> region. The linear layers then multiply in bfloat16 (4-5x faster than float32 on
    /// CPUs with AVX512-BF16 or AMX, <see cref="CpuFeatures.HasBf16"/>; usually slower without), while the weights, their
    /// gradients, Adam, the norms, attention, log-softmax and the losses stay float32 (mixed precision, as
    /// <c>torch.autocast</c>). Log-probabilities then carry bfloat16's rounding (8-bit mantissa, about 2^-8 relative per
    /// product). <c>float16</c> is refused: T5's feed-forward products overflow it.
    /// </summary>
    public ScalarType? UpdateDType
    {
        get => _updateDType;
        set => _updateDType = value switch
        {
            null or ScalarType.Float32 => null,
            ScalarType.BFloat16 => value,
            ScalarType.Float16 => throw new ArgumentException("UpdateDType float16: " + AutoModel.T5Float16Refused, nameof(value)),
            _ => throw new ArgumentException($"UpdateDType {value}: the update runs in float32 (null) or under bfloat16 autocast.", nameof(value)),
        };
    }
    ScalarType? _updateDType;

    T5ForConditionalGeneration? _rolloutCopy;

    /// <summary>Samples responses for <paramref name="queries"/> with the policy (dropout off); the seed defaults
    /// to one derived from the config seed and the step, so a resumed run draws the same samples.</summary>
    public GenerationOutput Generate(IReadOnlyList<long[]> queries, GenerationConfig generation)
    {
        Policy.eval();
        // TRL's advice: settings that make the sampled tokens differ from the model's distribution bias the KL
        // estimate (it can turn negative). They are allowed, with a warning the first time each is seen.
        foreach (var warning in generation.KlBiasWarnings())
            if (_warned.Add(warning)) Warn?.Invoke("Rollout settings: " + warning);
        var seeded = generation.Seed is null && generation.DoSample ? generation with { Seed = DerivedSeed(1) } : generation;
        return Seq2SeqGenerator.Generate(RolloutModel(), queries, seeded, Device);
    }

    /// <summary>The policy, or its copy in <see cref="RolloutDType"/> with the current weights.</summary>
    internal ISeq2SeqLM RolloutModel()
    {
        if (RolloutDType is not ScalarType type || type == Policy.pretrained_model.lm_head.weight!.dtype)
        {
            _rolloutCopy?.Dispose();
            _rolloutCopy = null;
            return Policy;
        }
        if (_rolloutCopy is null || _rolloutCopy.shared.weight!.dtype != type)
        {
            _rolloutCopy?.Dispose();
            _rolloutCopy = new T5ForConditionalGeneration(Policy.Config);
            foreach (var p in _rolloutCopy.parameters()) p.requires_grad = false;
            _rolloutCopy.to(type);
            if (Device.type != DeviceType.CPU) _rolloutCopy.to(Device);
            _rolloutCopy.eval();
        }
        using (no_grad())
        {
            var source = Policy.pretrained_model.state_dict();
            foreach (var (name, target) in _rolloutCopy.state_dict()) target.copy_(source[name]); // casts on the device
        }
        return _rolloutCopy;
    }

    /// <summary>One PPO optimisation step on a batch of (query, response, score). Responses are the generated
    /// tokens without the decoder start token, eos included where one was produced.</summary>
    public PpoStepStats Step(IReadOnlyList<long[]> queries, IReadOnlyList<long[]> responses, IReadOnlyList<float> scores)
    {
        CheckBatch(queries, responses, scores);
        var total = Stopwatch.StartNew();
        var timings = new Dictionary<string, double>();
        var clock = Stopwatch.StartNew();
        double Lap() { var s = clock.Elapsed.TotalSeconds; clock.Restart(); return s; }
        using var scope = NewDisposeScope();
        Policy.eval(); // dropout off for the whole step: the first ratio is exactly 1
        if (Config.ValueHeadDropout)
        {
            Policy.v_head.train(); // TRL 0.7.1: the value head stays in train mode (see PpoConfig.ValueHeadDropout)
            Policy.v_head.SeedDropout(DerivedSeed(2)); // its dropout masks from its own generator: the same in a resumed run, whatever runs beside
        }

        // 1. Rollout batch: right-padded queries (T5's relative positions need right padding), decoder inputs
        //    = start token + response[:-1], targets = response, mask = the real response tokens (StrictTrl: all but
        //    the first, as TRL 0.7.1's seq2seq mask).
        var batch = RolloutBatch.Create(queries, responses, Policy.Config, Device, Config.StrictTrl);
        var scoreTensor = ProcessScores(tensor(scores.ToArray(), dtype: float32).to(Device), _scoreMoments);

        // 2. Old log-probabilities and values under the policy, and reference log-probabilities, without gradients.
        var (oldLogprobs, oldValues, oldFull, refLogprobs, refFull) = BatchedForwardPass(batch);
        Native.NativeHeap.Trim(); // the passes' activations are freed: give the pages back before the update allocates anew
        timings["time/ppo/forward_pass"] = Lap();

        // 3. Per-token rewards: -kl_coef * KL(policy || reference) at every token, plus the score on the last token.
        var klCoef = KlController.Value;
        var (rewards, nonScoreRewards) = PpoMath.ComputeRewards(scoreTensor, oldFull, refFull, batch.Mask, klCoef, Config.KlPenalty, Config.StrictTrl);
        timings["time/ppo/compute_rewards"] = Lap();

        // 4. Advantages by GAE (gamma, lambda), whitened; returns = advantages + values.
        var (values, advantages, returns) = PpoMath.ComputeAdvantages(oldValues, rewards, batch.Mask, Config.Gamma, Config.Lam, Config.WhitenRewards, Config.StrictTrl);
        timings["time/ppo/compute_advantages"] = Lap();

        // 5. Epochs of clipped updates over shuffled minibatches, stepping the optimiser every backward batch.
        var trainStats = new List<IReadOnlyDictionary<string, Tensor>>();
        var earlyStop = false;
        int skipped = 0;
        using var accumulation = Config.GradientAccumulationSteps.ToScalar(); // the loss divisor, held (Common/Scalars)
        for (int epoch = 0; epoch < Config.PpoEpochs && !earlyStop; epoch++)
        {
            var order = Seeding.Permutation(Config.BatchSize, DerivedSeed(100 + epoch)).Select(i => (long)i).ToArray();
            for (int b = 0; b < Config.BatchSize; b += Config.BackwardBatchSize)
            {
                for (int m = b; m < b + Config.BackwardBatchSize; m += Config.MiniBatchSize)
                {
                    using var mbScope = NewDisposeScope();
                    using var autocast = Autocast.Enable(UpdateDType); // forward and backward: bfloat16 products, float32 weights
                    var rows = tensor(order[m..(m + Config.MiniBatchSize)], dtype: int64, device: Device);
                    var mb = batch.Select(rows);
                    using var output = Policy.Forward(mb.InputIds, mb.AttentionMask, mb.DecoderInputIds, mb.DecoderMask);
                    var logprobs = PpoMath.LogprobsFromLogits(output.Logits, mb.Targets);
                    var loss = PpoMath.Loss(oldLogprobs.index_select(0, rows), values.index_select(0, rows), output.Logits,
                        output.Values, logprobs, mb.Mask, advantages.index_select(0, rows), returns.index_select(0, rows), Config, Warn, Config.StrictTrl);
                    // Ratio threshold exceeded: TRL zeroes the loss and back-propagates the zeros; skipping the backward
                    // pass adds the same nothing to the gradients, cheaper (StrictTrl back-propagates them as TRL does).
                    var combined = loss.PgLoss.Plus(loss.VfLossTimesCoef);
                    if (!combined.isfinite().item<bool>())
                    {
                        // NaN/Inf logits or loss: this minibatch contributes nothing rather than poisoning the weights.
                        Warn?.Invoke($"Step {StepCount}: non-finite loss in a minibatch of epoch {epoch}; skipped it.");
                        skipped++;
                    }
                    else if (!loss.RatioThresholdExceeded || Config.StrictTrl)
                        (combined / accumulation).backward();
                    foreach (var s in loss.Stats.Values) s.MoveToOuterDisposeScope();
                    trainStats.Add(loss.Stats);
                }
                // Gradient clipping (the norm is measured even without a limit, to catch NaN), then one optimiser
                // step per backward batch (gradient accumulation).
                var norm = nn.utils.clip_grad_norm_(Policy.parameters().Where(p => p.requires_grad), Config.MaxGradNorm ?? double.PositiveInfinity);
                if (double.IsFinite(norm)) _optimizer.step()?.Dispose();
                else
                {
                    Warn?.Invoke($"Step {StepCount}: non-finite gradient norm; skipped the optimiser step.");
                    skipped++;
                }
                _optimizer.zero_grad();
                // Peak memory: without this, heap fragmentation grows the resident size with every backward batch;
                // it trims only past 256 MiB of free heap, since each released page faults back in (docs/performance.md).
                Native.NativeHeap.Trim();
            }
            // Early stopping, once per epoch as in TRL 0.7.1 (trl PPOTrainer.step / _early_stop): when the last
            // minibatch's policy KL exceeds 1.5 x target_kl, the remaining epochs are skipped.
            if (Config.EarlyStopping && trainStats[^1]["policy/policykl"].item<float>() is var policyKl && policyKl > 1.5 * Config.TargetKl)
            {
                Warn?.Invoke($"Early stopping after epoch {epoch}: policy KL {policyKl:F3} exceeds 1.5 x target_kl {Config.TargetKl}.");
                _optimizer.zero_grad();
                earlyStop = true;
            }
        }
        timings["time/ppo/optimize_step"] = Lap();

        // 6. Statistics (TRL's keys), then adapt the KL coefficient to the measured KL.
        var stats = PpoMath.RecordStepStats(klCoef, scoreTensor, oldLogprobs, refLogprobs, nonScoreRewards, batch.Mask,
            queries.Select(q => q.Length).ToList(),
            // TRL's seq2seq responses begin with the decoder start token and its lengths count it; the kit's do not.
            responses.Select(r => r.Length + (Config.StrictTrl ? 1 : 0)).ToList(), trainStats, Warn, Config.StrictTrl);
        KlController.Update(stats.Scalars["objective/kl"], Config.BatchSize);
        timings["time/ppo/calc_stats"] = Lap();

        var raw = scores.Select(s => (double)s).ToArray();
        var mean = raw.Average();
        stats.Scalars["env/reward_mean"] = mean;
        stats.Scalars["env/reward_std"] = raw.Length > 1 ? Moments.SampleStd(raw, mean) : 0;
        stats.Distributions["env/reward_dist"] = raw;
        stats.Scalars["ppo/learning_rate"] = Config.LearningRate;
        stats.Scalars["ppo/early_stop"] = earlyStop ? 1 : 0;
        stats.Scalars["ppo/skipped_updates"] = skipped;
        foreach (var (k, v) in timings) stats.Scalars[k] = v;
        stats.Scalars["time/ppo/total"] = total.Elapsed.TotalSeconds;
        StepCount++;
        return stats;
    }

    /// <summary>
    /// The policy's and the reference's log-probabilities (and the policy's values) for the whole batch, without
    /// gradients, in chunks of <see cref="PpoConfig.MiniBatchSize"/> rows as TRL's <c>batched_forward_pass</c> does:
    /// the transient activations (attention scores, [rows, length, vocab] logits and their log-softmax) then scale
    /// with the minibatch, not the batch. Each chunk keeps the full batch's padding, so every row sees exactly the
    /// inputs of a whole-batch pass. The full-vocabulary log-softmax is kept only for the "full" KL penalty, and each
    /// model's logits are freed before the next pass.
    /// </summary>
    internal (Tensor OldLogprobs, Tensor OldValues, Tensor OldFull, Tensor RefLogprobs, Tensor RefFull) BatchedForwardPass(RolloutBatch batch)
    {
        var full = Config.KlPenalty == KlPenaltyKind.Full;
        var oldLogprobs = new List<Tensor>(); var oldValues = new List<Tensor>(); var oldFull = new List<Tensor>();
        var refLogprobs = new List<Tensor>(); var refFull = new List<Tensor>();
        using var noGrad = no_grad(); // fast path: nothing here is differentiated
        using var autocast = Autocast.Enable(UpdateDType); // the old log-probabilities in the type the update computes them
        long rows = batch.InputIds.shape[0];
        for (long start = 0; start < rows; start += Config.MiniBatchSize)
        {
            // The big tensors (logits, encoder states) are disposed as soon as they are used; the small per-row
            // results live in the step's scope.
            using Scalar from = start.ToScalar(), to = Math.Min(start + Config.MiniBatchSize, rows).ToScalar();
            var mb = Config.MiniBatchSize >= rows ? batch : batch.Select(arange(from, to, Scalars.One, dtype: int64, device: batch.InputIds.device));
            using (var policyOut = Policy.Forward(mb.InputIds, mb.AttentionMask, mb.DecoderInputIds, mb.DecoderMask))
            {
                oldLogprobs.Add(PpoMath.LogprobsFromLogits(policyOut.Logits, mb.Targets));
                oldValues.Add(policyOut.Values.alias());
                if (full) oldFull.Add(PpoMath.LogprobsFromLogits(policyOut.Logits, null, gather: false));
            }
            using var refEncoded = Reference.Encode(mb.InputIds, mb.AttentionMask);
            using var refDecoded = Reference.Decode(mb.DecoderInputIds, refEncoded, mb.AttentionMask, mb.DecoderMask);
            using var refLogits = Reference.LmLogits(refDecoded);
            refLogprobs.Add(PpoMath.LogprobsFromLogits(refLogits, mb.Targets));
            if (full) refFull.Add(PpoMath.LogprobsFromLogits(refLogits, null, gather: false));
        }
        static Tensor Cat(List<Tensor> parts) => parts.Count == 1 ? parts[0] : cat(parts, 0); // the parts ([rows, T]) go with the step's scope
        var old = Cat(oldLogprobs);
        var reference = Cat(refLogprobs);
        return (old, Cat(oldValues), full ? Cat(oldFull) : old, reference, full ? Cat(refFull) : reference);
    }

    void CheckBatch(IReadOnlyList<long[]> queries, IReadOnlyList<long[]> responses, IReadOnlyList<float> scores)
    {
        if (queries.Count != Config.BatchSize || responses.Count != Config.BatchSize || scores.Count != Config.BatchSize)
            throw new ArgumentException($"Step expects BatchSize = {Config.BatchSize} queries, responses and scores; got {queries.Count}, {responses.Count} and {scores.Count}.");
        for (int i = 0; i < Config.BatchSize; i++)
        {
            if (queries[i] is null || queries[i].Length == 0) throw new ArgumentException($"queries[{i}] is empty; every query needs at least one token (eos).", nameof(queries));
            if (responses[i] is null) throw new ArgumentNullException(nameof(responses), $"responses[{i}] is null.");
            if (!float.IsFinite(scores[i])) throw new ArgumentException($"scores[{i}] is {scores[i]}; scores must be finite.", nameof(scores));
        }
        // TRL's seq2seq convention hands step() the whole generated sequence, decoder start token first. Here a response
        // is the generated tokens alone (the start token is added by the batch): a batch whose every response begins with
        // the start token is that convention, and training on it would learn to emit a pad token first.
        var start = Policy.Config.DecoderStartTokenId;
        if (responses.All(r => r.Length > 0 && r[0] == start))
            throw new ArgumentException(
                $"Every response begins with the decoder start token ({start}), as TRL's seq2seq generate() returns them. " +
                "Trainer.Step takes the generated tokens without it (GenerationOutput.ResponseIds() gives them; from TRL code, pass response[1:]).",
                nameof(responses));
    }

    /// <summary>The scores as <see cref="Step"/> hands them to <c>compute_rewards</c> (TRL's score scaling, normalisation
    /// and clipping; all off by default): with <see cref="PpoConfig.UseScoreScaling"/>, <c>score / σ</c> (or
    /// <c>(score - μ) / σ</c> with <see cref="PpoConfig.UseScoreNorm"/>), μ and σ the running statistics of every score so
    /// far including these; then clipped to ±<see cref="PpoConfig.ScoreClip"/>. The running statistics do not move: a
    /// look at one step (lesson 03) before the step itself.</summary>
    public Tensor ProcessedScores(Tensor scores) => ProcessScores(scores, _scoreMoments.Copy());

    /// <summary>TRL's score scaling, normalisation and clipping (all off by default), updating <paramref name="moments"/>.</summary>
    Tensor ProcessScores(Tensor scores, RunningMoments moments)
    {
        if (Config.UseScoreScaling)
        {
            using (var onCpu = scores.cpu()) moments.Update(onCpu.data<float>().Select(x => (double)x).ToArray());
            // trl PPOTrainer.step: score / std (or (score - mean) / std). The kit adds 1e-8 so that a batch of equal
            // scores (std 0) does not divide by zero; StrictTrl divides by std alone.
            using Scalar factor = (Config.StrictTrl ? moments.Std : moments.Std + 1e-8).ToScalar(), mean = moments.Mean.ToScalar();
            scores = Config.UseScoreNorm ? (scores - mean) / factor : scores / factor;
        }
        if (Config.ScoreClip is double clip)
        {
            using Scalar low = (-clip).ToScalar(), high = clip.ToScalar();
            scores = scores.clamp(low, high);
        }
        return scores;
    }

    /// <summary>The seed of random stream <paramref name="stream"/> of this step (<see cref="Seeding.Derive"/>), the same in
    /// every process, so a resumed run draws what an uninterrupted one would have.</summary>
    long DerivedSeed(int stream) => Seeding.Derive(Config.Seed, StepCount, stream);

    /// <summary>What a resumed run needs besides the weights: step count, KL coefficient, score moments.</summary>
    public PpoTrainerState GetState() => new(StepCount, KlController.Value, _scoreMoments.Count, _scoreMoments.Mean, _scoreMoments.Var);

    public void SetState(PpoTrainerState state)
    {
        StepCount = state.StepCount;
        KlController = Config.AdaptKlCtrl
            ? new AdaptiveKlController(state.KlCoef, Config.Target, Config.Horizon)
            : new FixedKlController(state.KlCoef);
        _scoreMoments.Restore(state.ScoreCount, state.ScoreMean, state.ScoreVar);
    }

    /// <summary>Saves the Adam moments so a resumed run continues the same optimisation.</summary>
    public void SaveOptimizer(string path)
    {
        var temp = AtomicFile.TempSibling(path);
        _optimizer.save_state_dict(temp);
        using (var written = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite)) written.Flush(flushToDisk: true);
        AtomicFile.Publish(temp, path);
    }

    public void LoadOptimizer(string path) => _optimizer.load_state_dict(path);

    public void Dispose()
    {
        _optimizer.Dispose();
        _rolloutCopy?.Dispose();
    }
}

/// <summary>The trainer's resumable state (weights and optimiser moments are saved separately).</summary>
public sealed record PpoTrainerState(int StepCount, double KlCoef, long ScoreCount, double ScoreMean, double ScoreVar);

/// <summary>A padded batch of queries and responses for teacher-forced passes.</summary>
public sealed record RolloutBatch(Tensor InputIds, Tensor AttentionMask, Tensor DecoderInputIds, Tensor DecoderMask, Tensor Targets, Tensor Mask)
{
    /// <summary>Pads queries and responses into one batch. With <paramref name="strictTrl"/> the mask leaves out each
    /// response's first token, as TRL 0.7.1's seq2seq <c>batched_forward_pass</c> does (<c>start = 1</c> applied to
    /// log-probabilities that are already shifted), and a response of fewer than 3 tokens raises as TRL's does.</summary>
    public static RolloutBatch Create(IReadOnlyList<long[]> queries, IReadOnlyList<long[]> responses, T5Config config, Device device, bool strictTrl = false)
    {
        var (ids, attention) = Batching.PadRight(queries, config.PadTokenId);
        var (targets, mask) = Batching.PadRight(responses, config.PadTokenId);
        // Decoder input t is the token before target t: the start token, then the response shifted right.
        using var startId = config.DecoderStartTokenId.ToScalar();
        var start = full(targets.shape[0], 1, startId, dtype: int64);
        var decoderInputs = cat([start, targets[.., ..^1]], 1);
        var decoderMask = cat([ones(targets.shape[0], 1, dtype: int64), mask[.., ..^1]], 1);
        if (strictTrl)
        {
            // trl PPOTrainer.batched_forward_pass (encoder-decoder): masks[j, :start] = 0 with start = 1, and a raise
            // when fewer than 2 positions remain (TRL's responses carry the start token: fewer than 4 tokens there).
            for (int j = 0; j < responses.Count; j++)
                if (responses[j].Length < 3)
                    throw new ArgumentException($"responses[{j}] has {responses[j].Length} tokens: TRL 0.7.1 raises \"Responses are too short. Make sure they are at least 4 tokens long.\" (its responses count the decoder start token); StrictTrl does the same.", nameof(responses));
            mask.select(1, 0).zero_();
        }
        return new RolloutBatch(ids.to(device), attention.to(device), decoderInputs.to(device), decoderMask.to(device), targets.to(device), mask.to(device));
    }

    public RolloutBatch Select(Tensor rows) => new(InputIds.index_select(0, rows), AttentionMask.index_select(0, rows),
        DecoderInputIds.index_select(0, rows), DecoderMask.index_select(0, rows), Targets.index_select(0, rows), Mask.index_select(0, rows));
}

/// <summary>Running mean and variance over every score seen (TRL's RunningMoments: parallel Welford updates).</summary>
internal sealed class RunningMoments
{
    public long Count { get; private set; }
    public double Mean { get; private set; }
    /// <summary>Population variance of all values seen.</summary>
    public double Var { get; private set; } = 1;
    /// <summary>Sample standard deviation, as TRL reports.</summary>
    public double Std => Count > 1 ? Math.Sqrt(Var * Count / (Count - 1)) : 1.0;

    public void Update(double[] xs)
    {
        if (xs.Length == 0) return;
        double batchMean = xs.Average();
        double batchVar = xs.Sum(x => (x - batchMean) * (x - batchMean)) / xs.Length;
        long total = Count + xs.Length;
        double delta = batchMean - Mean;
        double m2 = (Count == 0 ? 0 : Var * Count) + batchVar * xs.Length + delta * delta * Count * xs.Length / total;
        Mean += delta * xs.Length / total;
        Var = m2 / total;
        Count = total;
    }

    public void Restore(long count, double mean, double var) { Count = count; Mean = mean; Var = var; }

    public RunningMoments Copy() => new() { Count = Count, Mean = Mean, Var = Var };
}
