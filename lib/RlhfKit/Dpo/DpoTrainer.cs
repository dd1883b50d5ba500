using RlhfKit.Common;
using RlhfKit.Models;
using RlhfKit.Preferences;
using RlhfKit.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Dpo;

/// <summary>A tokenized batch of preference pairs for an encoder-decoder policy: the prompts once, and the chosen
/// responses (rows 0..B-1) stacked over the rejected ones (rows B..2B-1), right-padded, as decoder targets.</summary>
public sealed record DpoBatch(Tensor InputIds, Tensor AttentionMask, Tensor DecoderInputIds, Tensor DecoderMask, Tensor Targets, Tensor Mask) : IDisposable
{
    public long Pairs => InputIds.shape[0];

    public void Dispose()
    {
        InputIds.Dispose(); AttentionMask.Dispose(); DecoderInputIds.Dispose(); DecoderMask.Dispose(); Targets.Dispose(); Mask.Dispose();
    }
}

/// <summary>
/// Direct preference optimisation for a T5 policy, as TRL's <c>DPOTrainer</c> computes it for encoder-decoder models:
/// each response's log-probability is the sum over its tokens (eos included) of the policy's log-probabilities given the
/// prompt, the same under a frozen copy of the starting policy (the reference), and <see cref="DpoMath.Loss"/> turns the
/// four numbers of each pair into the loss. <see cref="Step"/> is one AdamW step on a batch of pairs;
/// <see cref="Train"/> runs epochs over shuffled pairs; <see cref="Evaluate"/> gives TRL's statistics without updating.
/// </summary>
/// <remarks>
/// Differences from TRL 0.7.x, each deliberate: the prompt is encoded once and its encoder states serve both responses
/// (TRL runs the encoder on the prompt twice, once per response: the same numbers, twice the work); dropout is off in the
/// policy (<see cref="DisableDropout"/>, as later TRL releases do by default), so a step is deterministic; the learning
/// rate is constant (see <see cref="DpoConfig"/>).
/// </remarks>
public sealed class DpoTrainer : IDisposable
{
    readonly AdamW _optimizer;

    public DpoTrainer(DpoConfig config, T5ForConditionalGeneration policy, IHfTokenizer tokenizer, T5ForConditionalGeneration? reference = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Reference = reference ?? CopyOf(policy);
        foreach (var p in Reference.parameters()) p.requires_grad = false;
        Reference.eval();
        Device = policy.parameters().First().device;
        _optimizer = Optimizers.AdamW(policy.parameters().Where(p => p.requires_grad), lr: config.LearningRate, weight_decay: config.WeightDecay);
    }

    public DpoConfig Config { get; }
    public T5ForConditionalGeneration Policy { get; }
    public T5ForConditionalGeneration Reference { get; }
    public IHfTokenizer Tokenizer { get; }
    /// <summary>Optimiser steps taken so far (set it when resuming from a checkpoint, with <see cref="LoadOptimizer"/>).</summary>
    public int StepCount { get; set; }
    /// <summary>Keep dropout off in the policy while training (default true).</summary>
    public bool DisableDropout { get; init; } = true;
    Device Device { get; }

    /// <summary>A frozen copy of <paramref name="model"/>'s weights, on its device.</summary>
    public static T5ForConditionalGeneration CopyOf(T5ForConditionalGeneration model) => model.FrozenCopy();

    // trl.trainer.dpo_trainer.DPOTrainer.tokenize_row (encoder-decoder branch)
    /// <summary>Tokenizes pairs as TRL does for encoder-decoder models: prompt and each response with the tokenizer's
    /// special tokens (T5: eos appended), truncated to <see cref="DpoConfig.MaxPromptLength"/> and
    /// <see cref="DpoConfig.MaxTargetLength"/> tokens; decoder inputs are the start token then the response shifted right.</summary>
    public DpoBatch Tokenize(IReadOnlyList<PreferencePair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) throw new ArgumentException("A DPO batch needs at least one pair.", nameof(pairs));
        long[] Ids(string text, int max) => Tokenizer.Encode(text, addSpecialTokens: true, maxLength: max).Select(i => (long)i).ToArray();
        var prompts = pairs.Select(p => Ids(p.Prompt, Config.MaxPromptLength)).ToList();
        var responses = pairs.Select(p => Ids(p.Chosen, Config.MaxTargetLength)).Concat(pairs.Select(p => Ids(p.Rejected, Config.MaxTargetLength))).ToList();
        using var scope = NewDisposeScope();
        var (ids, attention) = Batching.PadRight(prompts, Policy.Config.PadTokenId);
        var (targets, mask) = Batching.PadRight(responses, Policy.Config.PadTokenId);
        using var startId = Policy.Config.DecoderStartTokenId.ToScalar();
        var start = full(targets.shape[0], 1, startId, dtype: int64);
        var decoderInputs = cat([start, targets[.., ..^1]], 1);
        var decoderMask = cat([ones(targets.shape[0], 1, dtype: int64), mask[.., ..^1]], 1);
        return new DpoBatch(ids.to(Device).MoveToOuterDisposeScope(), attention.to(Device).MoveToOuterDisposeScope(),
            decoderInputs.to(Device).MoveToOuterDisposeScope(), decoderMask.to(Device).MoveToOuterDisposeScope(),
            targets.to(Device).MoveToOuterDisposeScope(), mask.to(Device).MoveToOuterDisposeScope());
    }

    // trl.trainer.dpo_trainer.DPOTrainer.concatenated_forward
    /// <summary>Response log-probabilities [2B] (chosen rows first) and the vocabulary logits [2B, T, V] of
    /// <paramref name="model"/>: the encoder runs once on the B prompts, the decoder on all 2B responses.</summary>
    public (Tensor LogProbs, Tensor Logits) ConcatenatedForward(T5ForConditionalGeneration model, DpoBatch batch)
    {
        using var scope = NewDisposeScope();
        var encoded = model.Encode(batch.InputIds, batch.AttentionMask);
        var encoded2 = cat([encoded, encoded], 0);
        var attention2 = cat([batch.AttentionMask, batch.AttentionMask], 0);
        var decoded = model.Decode(batch.DecoderInputIds, encoded2, attention2, batch.DecoderMask);
        var logits = model.LmLogits(decoded);
        var logps = DpoMath.SequenceLogProbs(logits, batch.Targets, batch.Mask, Config.AverageLogProb);
        return (logps.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    /// <summary>The loss and TRL's statistics of one batch; the loss keeps its graph when gradients are enabled.</summary>
    (Tensor Loss, Dictionary<string, double> Stats) Compute(DpoBatch batch, string prefix)
    {
        long b = batch.Pairs;
        var (policyLogps, policyLogits) = ConcatenatedForward(Policy, batch);
        Tensor refLogps;
        using (no_grad())
        {
            if (Config.ReferenceFree) refLogps = zeros_like(policyLogps);
            else
            {
                var (r, refLogits) = ConcatenatedForward(Reference, batch);
                refLogits.Dispose();
                refLogps = r;
            }
        }
        var loss = DpoMath.Loss(policyLogps[..(int)b], policyLogps[(int)b..], refLogps[..(int)b], refLogps[(int)b..], Config);
        var stats = DpoMath.Statistics(loss, policyLogps[..(int)b], policyLogps[(int)b..],
            policyLogits[..(int)b], batch.Mask[..(int)b], policyLogits[(int)b..], batch.Mask[(int)b..], prefix);
        return (loss.Loss, stats);
    }

    /// <summary>One optimiser step on <paramref name="pairs"/> (one batch): loss, backward, gradient clipping at
    /// <see cref="DpoConfig.MaxGradNorm"/>, AdamW. Returns TRL's statistics of the batch before the update, plus
    /// <c>grad_norm</c> and <c>learning_rate</c>.</summary>
    public Dictionary<string, double> Step(IReadOnlyList<PreferencePair> pairs)
    {
        using var scope = NewDisposeScope();
        using var batch = Tokenize(pairs);
        if (DisableDropout) Policy.eval(); else Policy.train();
        _optimizer.zero_grad();
        var (loss, stats) = Compute(batch, "");
        loss.backward();
        var trainable = Policy.parameters().Where(p => p.requires_grad);
        var norm = nn.utils.clip_grad_norm_(trainable, Config.MaxGradNorm ?? double.PositiveInfinity);
        if (double.IsFinite(norm)) _optimizer.step()?.Dispose();
        _optimizer.zero_grad();
        Policy.eval();
        stats["grad_norm"] = norm;
        stats["learning_rate"] = Config.LearningRate;
        StepCount++;
        return stats;
    }

    /// <summary>Epochs over <paramref name="pairs"/> in batches of <see cref="DpoConfig.BatchSize"/>, reshuffled each
    /// epoch from (seed, epoch); <paramref name="onStep"/> receives each step's statistics (with <c>epoch</c>). The run
    /// ends after <paramref name="maxSteps"/> batches in all; the first <paramref name="startStep"/> batches are passed
    /// over (a resumed run: the order depends only on the seed, so it continues where the checkpoint was written).</summary>
    public List<Dictionary<string, double>> Train(IReadOnlyList<PreferencePair> pairs, int epochs = 1, Action<Dictionary<string, double>>? onStep = null, int? maxSteps = null, int startStep = 0)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "epochs must be at least 1.");
        ArgumentOutOfRangeException.ThrowIfNegative(startStep);
        var log = new List<Dictionary<string, double>>();
        int step = 0;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var order = Seeding.Permutation(pairs.Count, Seeding.Derive(Config.Seed, epoch, stream: 0));
            for (int start = 0; start < order.Length; start += Config.BatchSize)
            {
                if (maxSteps is int max && step >= max) return log;
                if (step++ < startStep) continue;
                var batch = order.Skip(start).Take(Config.BatchSize).Select(i => pairs[i]).ToList();
                var stats = Step(batch);
                stats["epoch"] = epoch + (double)Math.Min(order.Length, start + Config.BatchSize) / order.Length;
                log.Add(stats);
                onStep?.Invoke(stats);
            }
        }
        return log;
    }

    /// <summary>TRL's statistics (prefix <c>eval_</c>) over <paramref name="pairs"/> without updating: each batch's
    /// values weighted by its number of pairs.</summary>
    public Dictionary<string, double> Evaluate(IReadOnlyList<PreferencePair> pairs, int? batchSize = null)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) throw new ArgumentException("Evaluate needs at least one pair.", nameof(pairs));
        int size = batchSize ?? Config.BatchSize;
        var sums = new Dictionary<string, double>();
        Policy.eval();
        using var noGrad = no_grad();
        for (int start = 0; start < pairs.Count; start += size)
        {
            using var scope = NewDisposeScope();
            var chunk = pairs.Skip(start).Take(size).ToList();
            using var batch = Tokenize(chunk);
            var (_, stats) = Compute(batch, "eval_");
            foreach (var (k, v) in stats) sums[k] = sums.GetValueOrDefault(k) + v * chunk.Count;
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value / pairs.Count);
    }

    /// <summary>Saves the AdamW moments (atomically), so a resumed run continues the same optimisation.</summary>
    public void SaveOptimizer(string path)
    {
        var temp = AtomicFile.TempSibling(path);
        _optimizer.save_state_dict(temp);
        AtomicFile.Publish(temp, path);
    }

    public void LoadOptimizer(string path) => _optimizer.load_state_dict(path);

    public void Dispose() => _optimizer.Dispose();
}
