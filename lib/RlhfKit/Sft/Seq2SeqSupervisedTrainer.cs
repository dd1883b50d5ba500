using RlhfKit.Common;
using System.Diagnostics;
using RlhfKit.Models;
using RlhfKit.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Sft;

/// <summary>Settings of supervised fine-tuning (teacher-forced cross-entropy on reference outputs).</summary>
public sealed record SupervisedConfig
{
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.01;
    public int BatchSize { get; init; } = 32;
    public int Epochs { get; init; } = 10;
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Linear warm-up steps, then linear decay to zero at the last step.</summary>
    public int WarmupSteps { get; init; } = 50;
    public int MaxSourceTokens { get; init; } = 256;
    public int MaxTargetTokens { get; init; } = 64;
    public int Seed { get; init; }
}

/// <summary>One epoch's result.</summary>
public sealed record SupervisedEpoch(int Epoch, double TrainLoss, double? ValidationLoss, TimeSpan Elapsed);

/// <summary>
/// Supervised fine-tuning of an encoder-decoder model on (source, target) pairs: the "warm-start your policy" step
/// before PPO. Right-padded batches, labels with -100 on padding, AdamW with linear warm-up and decay, gradient clipping.
/// </summary>
public sealed class Seq2SeqSupervisedTrainer(T5ForConditionalGeneration model, IHfTokenizer tokenizer, SupervisedConfig config)
{
    public event Action<SupervisedEpoch>? EpochCompleted;
    /// <summary>(step, total steps, loss) after each optimiser step.</summary>
    public event Action<int, int, double>? StepCompleted;

    public IReadOnlyList<SupervisedEpoch> Train(IReadOnlyList<(string Source, string Target)> train,
        IReadOnlyList<(string Source, string Target)>? validation = null, CancellationToken cancellation = default)
    {
        if (train.Count < config.BatchSize) throw new ArgumentException($"Need at least one batch of {config.BatchSize} examples (got {train.Count}).");
        var encodedTrain = Encode(train);
        var encodedValidation = validation is null ? null : Encode(validation);
        int stepsPerEpoch = train.Count / config.BatchSize, totalSteps = stepsPerEpoch * config.Epochs;
        using var optimizer = Optimizers.AdamW(model.parameters(), lr: config.LearningRate, weight_decay: config.WeightDecay);
        var results = new List<SupervisedEpoch>();
        int step = 0;
        for (int epoch = 0; epoch < config.Epochs && !cancellation.IsCancellationRequested; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.train();
            var order = Seeding.Permutation(train.Count, Seeding.Derive(config.Seed, epoch, stream: 0));
            double sum = 0;
            for (int b = 0; b < stepsPerEpoch && !cancellation.IsCancellationRequested; b++, step++)
            {
                using var scope = NewDisposeScope();
                foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRate(step, totalSteps);
                var (ids, mask, labels) = Batch(encodedTrain, order.AsSpan(b * config.BatchSize, config.BatchSize));
                using var output = model.Forward(ids, mask, labels: labels);
                optimizer.zero_grad();
                output.Loss!.backward();
                nn.utils.clip_grad_norm_(model.parameters(), config.MaxGradNorm);
                optimizer.step()?.Dispose();
                var loss = output.Loss.item<float>();
                sum += loss;
                StepCompleted?.Invoke(step + 1, totalSteps, loss);
            }
            var result = new SupervisedEpoch(epoch, sum / stepsPerEpoch, encodedValidation is null ? null : Loss(encodedValidation), clock.Elapsed);
            results.Add(result);
            EpochCompleted?.Invoke(result);
        }
        model.eval();
        return results;
    }

    /// <summary>Mean token cross-entropy on examples, without gradients.</summary>
    public double Loss(IReadOnlyList<(string Source, string Target)> examples) => Loss(Encode(examples));

    double Loss(List<(long[] Source, long[] Target)> encoded)
    {
        model.eval();
        using var noGrad = no_grad();
        double total = 0; long tokens = 0;
        var order = Enumerable.Range(0, encoded.Count).ToArray();
        for (int b = 0; b < encoded.Count; b += config.BatchSize)
        {
            using var scope = NewDisposeScope();
            var rows = order.AsSpan(b, Math.Min(config.BatchSize, encoded.Count - b));
            var (ids, mask, labels) = Batch(encoded, rows);
            using var output = model.Forward(ids, mask, labels: labels);
            long n = labels.ne(Scalars.IgnoreIndex).sum().item<long>();
            total += output.Loss!.item<float>() * n;
            tokens += n;
        }
        return total / Math.Max(1, tokens);
    }

    double LearningRate(int step, int totalSteps) => config.LearningRate * LearningRateSchedule.LinearWithWarmup(step, config.WarmupSteps, totalSteps);

    List<(long[] Source, long[] Target)> Encode(IReadOnlyList<(string Source, string Target)> examples) => examples
        .Select(e => (tokenizer.Encode(e.Source, true, config.MaxSourceTokens).Select(i => (long)i).ToArray(),
                      tokenizer.Encode(e.Target, true, config.MaxTargetTokens).Select(i => (long)i).ToArray()))
        .ToList();

    (Tensor Ids, Tensor Mask, Tensor Labels) Batch(List<(long[] Source, long[] Target)> encoded, ReadOnlySpan<int> rows)
    {
        var sources = new List<long[]>(); var targets = new List<long[]>();
        foreach (var r in rows) { sources.Add(encoded[r].Source); targets.Add(encoded[r].Target); }
        var (ids, mask) = Batching.PadRight(sources, tokenizer.PadTokenId);
        var (labels, labelMask) = Batching.PadRight(targets, -100);
        return (ids, mask, labels);
    }
}
