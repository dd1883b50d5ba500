using RlhfKit.Common;
using System.Diagnostics;
using RlhfKit.Models;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Rewards;

/// <summary>Settings for training a classifier's head on a frozen pretrained encoder.</summary>
public sealed record ClassifierTrainingConfig
{
    /// <summary>Encoder blocks trained along with the pooler and classifier (0: head only). Lower blocks stay frozen.</summary>
    public int TrainTopLayers { get; init; } = 1;
    public int Epochs { get; init; } = 6;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 3e-4;
    /// <summary>Share of the optimiser steps over which the learning rate rises linearly from 0 (transformers'
    /// <c>warmup_ratio</c>).</summary>
    public double WarmupRatio { get; init; }
    /// <summary>After the warm-up, decay the learning rate linearly to 0 at the last step (transformers'
    /// <c>get_linear_schedule_with_warmup</c>, the Trainer's default); false keeps it constant.</summary>
    public bool LinearDecay { get; init; }
    public int MaxTokens { get; init; } = 64;
    public int Seed { get; init; }
    /// <summary>Weight λ of an auxiliary replaced-token detection loss (ELECTRA's discriminator objective):
    /// loss = CE(sentence label) + λ · CE(token labels), where a token of a corrupted sentence is labelled 1 where the
    /// sentence departs from its fluent source (<see cref="ClassifierHeadTrainer.DepartureLabels"/>) and every token of a
    /// fluent sentence 0. A linear head on the last hidden states predicts them during training only; it is dropped
    /// afterwards, so the trained model is the plain sequence classifier. 0 (the default) trains on the sentence labels
    /// alone; above 0, <see cref="ClassifierHeadTrainer.Train"/> needs the corrupted sentences' sources.</summary>
    public double TokenDetectionWeight { get; init; }

    /// <summary>Throws naming the first option out of range.</summary>
    public void Validate()
    {
        if (TrainTopLayers < 0) throw new ArgumentException($"TrainTopLayers must be at least 0, not {TrainTopLayers}.");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1, not {Epochs}.");
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1, not {BatchSize}.");
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate must be above 0, not {LearningRate}.");
        if (!(WarmupRatio >= 0 && WarmupRatio < 1)) throw new ArgumentException($"WarmupRatio must be in [0, 1), not {WarmupRatio}.");
        if (MaxTokens < 3) throw new ArgumentException($"MaxTokens must be at least 3 (two special tokens and a word), not {MaxTokens}.");
        if (!(TokenDetectionWeight >= 0) || double.IsInfinity(TokenDetectionWeight))
            throw new ArgumentException($"TokenDetectionWeight must be a finite number of at least 0, not {TokenDetectionWeight}.");
    }
}

/// <summary>Held-out accuracy and per-class counts.</summary>
public sealed record ClassifierMetrics(double Accuracy, int Correct, int Total, double ChanceAccuracy, double TrainSeconds);

/// <summary>
/// Fine-tunes a <see cref="BertForSequenceClassification"/> whose encoder is pretrained (all-MiniLM-L6-v2 in the offline
/// profile): the frozen lower blocks run once per sentence and their output is cached, so each epoch only runs the
/// trained top blocks, the pooler and the classifier. With <see cref="ClassifierTrainingConfig.TokenDetectionWeight"/>
/// above 0, a token head learns where corrupted sentences go wrong beside it (training only).
/// </summary>
public sealed class ClassifierHeadTrainer(BertForSequenceClassification model, IHfTokenizer tokenizer, ClassifierTrainingConfig config)
{
    public event Action<int, double>? EpochCompleted;

    /// <param name="sources">With <see cref="ClassifierTrainingConfig.TokenDetectionWeight"/> above 0: for each training
    /// sentence, the fluent sentence it was corrupted from, or null for a sentence that is not a corruption (its tokens
    /// are all labelled fluent).</param>
    public ClassifierMetrics Train(IReadOnlyList<(string Text, int Label)> train, IReadOnlyList<(string Text, int Label)> test, IReadOnlyList<string?>? sources = null)
    {
        config.Validate();
        bool detect = config.TokenDetectionWeight > 0;
        if (detect && (sources is null || sources.Count != train.Count))
        {
            string got = sources is null ? "none" : sources.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new ArgumentException(
                $"TokenDetectionWeight {config.TokenDetectionWeight} needs a source (or null) for each of the {train.Count} training sentences; got {got}.",
                nameof(sources));
        }
        var clock = Stopwatch.StartNew();
        var layers = model.bert.encoder.layer;
        int frozen = layers.Count - config.TrainTopLayers;
        if (frozen < 0) throw new ArgumentException($"TrainTopLayers ({config.TrainTopLayers}) exceeds the encoder's {layers.Count} blocks.");
        foreach (var p in model.parameters()) p.requires_grad = false;
        var trained = new List<nn.Module> { model.bert.pooler!, model.classifier };
        for (int i = frozen; i < layers.Count; i++) trained.Add(layers[i]);
        // The token head (training only): fluent / departs from the source, for each token of the last hidden states.
        using var tokenHead = detect ? nn.Linear(model.Config.HiddenSize, 2) : null;
        if (tokenHead is not null) trained.Add(tokenHead);
        var parameters = trained.SelectMany(m => m.parameters()).ToList();
        foreach (var p in parameters) p.requires_grad = true;

        var trainIds = train.Select(t => Ids(t.Text)).ToList();
        using var trainFeatures = Features(trainIds, frozen);
        using var trainLabels = tensor(train.Select(t => (long)t.Label).ToArray());
        using var tokenLabels = detect ? TokenLabels(trainIds, sources!, trainFeatures.Mask.shape[1]) : null;
        using Scalar tokenWeight = config.TokenDetectionWeight.ToScalar();
        using var optimizer = Optimizers.AdamW(parameters, lr: config.LearningRate);
        var lengths = trainFeatures.Mask.sum(1).data<long>().ToArray();
        int stepsPerEpoch = (train.Count + config.BatchSize - 1) / config.BatchSize, totalSteps = stepsPerEpoch * config.Epochs, step = 0;
        int warmup = (int)Math.Ceiling(config.WarmupRatio * totalSteps);
        for (int epoch = 0; epoch < config.Epochs; epoch++)
        {
            model.train();
            model.bert.embeddings.eval(); // frozen: with no frozen block they run per batch, as the cached features were made
            tokenHead?.train();
            double sum = 0; int batches = 0;
            foreach (var batch in LengthBucketedBatches(lengths, config.BatchSize, Seeding.Derive(config.Seed, epoch, stream: 0)))
            {
                using var scope = NewDisposeScope();
                var rows = tensor(batch);
                long width = batch.Max(i => lengths[i]);   // the batch's own padding: the rest is masked out anyway
                var (logits, hidden) = Top(trainFeatures.Input.index_select(0, rows)[.., ..(int)width], trainFeatures.Mask.index_select(0, rows)[.., ..(int)width], frozen);
                var loss = nn.functional.cross_entropy(logits, trainLabels.index_select(0, rows));
                if (tokenHead is not null)
                {
                    // λ · CE over the batch's real tokens ([CLS], [SEP] and padding are labelled -100: ignored).
                    var tokenLogits = tokenHead.forward(model.dropout.forward(hidden));
                    var labels = tokenLabels!.index_select(0, rows)[.., ..(int)width];
                    var tokenLoss = nn.functional.cross_entropy(tokenLogits.reshape(-1, 2), labels.reshape(-1), ignore_index: IgnoredToken);
                    loss = loss.add(tokenLoss, tokenWeight);
                }
                optimizer.zero_grad();
                loss.backward();
                if (config.LinearDecay || warmup > 0)
                    foreach (var group in optimizer.ParamGroups)
                        group.LearningRate = config.LearningRate * (config.LinearDecay
                            ? LearningRateSchedule.LinearWithWarmup(step, warmup, totalSteps)
                            : LearningRateSchedule.Warmup(step, warmup));
                step++;
                optimizer.step()?.Dispose();
                sum += loss.item<float>(); batches++;
            }
            EpochCompleted?.Invoke(epoch, sum / batches);
        }
        model.eval();
        foreach (var p in model.parameters()) p.requires_grad = false;
        return Evaluate(test) with { TrainSeconds = clock.Elapsed.TotalSeconds };
    }

    /// <summary>Accuracy of the classifier as it stands on labelled texts (argmax of the logits against the label).</summary>
    public ClassifierMetrics Evaluate(IReadOnlyList<(string Text, int Label)> test)
    {
        if (test.Count == 0) throw new ArgumentException("No labelled texts to evaluate on.", nameof(test));
        int frozen = model.bert.encoder.layer.Count - config.TrainTopLayers;
        model.eval();
        using var testFeatures = Features(test.Select(t => Ids(t.Text)).ToList(), frozen);
        int correct = 0;
        using (no_grad())
        {
            for (int b = 0; b < test.Count; b += 256)
            {
                using var scope = NewDisposeScope();
                using Scalar from = b.ToScalar(), to = Math.Min(test.Count, b + 256).ToScalar();
                var rows = arange(from, to, Scalars.One, dtype: int64);
                var predicted = Top(testFeatures.Input.index_select(0, rows), testFeatures.Mask.index_select(0, rows), frozen).Logits.argmax(-1).data<long>().ToArray();
                for (int i = 0; i < predicted.Length; i++) if (predicted[i] == test[b + i].Label) correct++;
            }
        }
        var counts = test.GroupBy(t => t.Label).Select(g => g.Count()).ToList();
        return new ClassifierMetrics((double)correct / test.Count, correct, test.Count, (double)counts.Max() / test.Count, 0);
    }

    /// <summary>One epoch's batches: a seeded shuffle, cut into windows of 16 batches whose texts are sorted by length
    /// (so each batch pads little), then the batches themselves in seeded order. Every text appears once.</summary>
    static List<long[]> LengthBucketedBatches(long[] lengths, int batchSize, long seed)
    {
        int n = lengths.Length, window = batchSize * 16;
        var order = Seeding.Permutation(n, seed);
        var batches = new List<long[]>();
        for (int w = 0; w < n; w += window)
        {
            var sorted = order[w..Math.Min(n, w + window)].OrderBy(i => lengths[i]).Select(i => (long)i).ToArray();
            for (int b = 0; b < sorted.Length; b += batchSize) batches.Add(sorted[b..Math.Min(sorted.Length, b + batchSize)]);
        }
        var batchOrder = Seeding.Permutation(batches.Count, seed ^ 0x5bd1e995);
        return batchOrder.Select(i => batches[i]).ToList();
    }

    /// <summary>What a batch starts from: the frozen blocks' output [N, T, hidden], or, when no block is frozen, the
    /// token ids [N, T] (the embeddings run per batch instead of caching a float tensor of every text).</summary>
    sealed record Cached(Tensor Input, Tensor Mask) : IDisposable
    {
        public void Dispose() { Input.Dispose(); Mask.Dispose(); }
    }

    /// <summary>Output of the frozen blocks for every text, padded to one length: computed once, without gradients. With
    /// no frozen block only the token ids are kept.</summary>
    Cached Features(IReadOnlyList<long[]> encoded, int frozen)
    {
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (ids, mask) = Batching.PadRight(encoded, model.PadTokenId);
        if (frozen == 0) return new Cached(ids.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
        var features = zeros(ids.shape[0], ids.shape[1], model.Config.HiddenSize);
        // Chunks of similar length (each padded only to its own longest text), their activations freed before the next.
        var byLength = Enumerable.Range(0, encoded.Count).OrderBy(i => encoded[i].Length).ToArray();
        for (int b = 0; b < byLength.Length; b += 256)
        {
            using var chunkScope = NewDisposeScope();
            var rows = tensor(byLength[b..Math.Min(byLength.Length, b + 256)].Select(i => (long)i).ToArray());
            int width = encoded[byLength[Math.Min(byLength.Length, b + 256) - 1]].Length;
            var slice = ids.index_select(0, rows)[.., ..width];
            var hidden = model.bert.embeddings.Forward(slice);
            var additive = Additive(mask.index_select(0, rows)[.., ..width], hidden.dtype);
            for (int i = 0; i < frozen; i++) hidden = model.bert.encoder.layer[i].Forward(hidden, additive);
            features[.., ..width].index_copy_(0, rows, hidden);
        }
        return new Cached(features.MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    /// <summary>The frozen embeddings of token ids (in eval mode during training too), without gradients.</summary>
    Tensor Embed(Tensor ids)
    {
        using var noGrad = no_grad();
        return model.bert.embeddings.Forward(ids);
    }

    /// <summary>The sequence logits [B, labels] and the last hidden states [B, T, hidden].</summary>
    (Tensor Logits, Tensor Hidden) Top(Tensor input, Tensor mask, int frozen)
    {
        var hidden = frozen == 0 ? Embed(input) : input;
        var additive = Additive(mask, hidden.dtype);
        var layers = model.bert.encoder.layer;
        for (int i = frozen; i < layers.Count; i++) hidden = layers[i].Forward(hidden, additive);
        return (model.classifier.forward(model.dropout.forward(model.bert.pooler!.forward(hidden))), hidden);
    }

    /// <summary>Token label cross-entropy ignores (transformers' <c>-100</c>).</summary>
    const long IgnoredToken = -100;

    /// <summary>A text's token ids with the special tokens, cut at <see cref="ClassifierTrainingConfig.MaxTokens"/>.</summary>
    long[] Ids(string text) => tokenizer.Encode(text, true, config.MaxTokens).Select(i => (long)i).ToArray();

    /// <summary>Token labels [N, width] for the training sentences (their ids as <see cref="Ids"/> made them),
    /// padded with <see cref="IgnoredToken"/>.</summary>
    Tensor TokenLabels(IReadOnlyList<long[]> trainIds, IReadOnlyList<string?> sources, long width)
    {
        var labels = new long[trainIds.Count * width];
        Array.Fill(labels, IgnoredToken);
        for (int i = 0; i < trainIds.Count; i++)
        {
            var row = sources[i] is { } source ? DepartureLabels(trainIds[i], Ids(source)) : FluentLabels(trainIds[i].Length);
            row.CopyTo(labels, i * width);
        }
        return tensor(labels).view(trainIds.Count, width);
    }

    static long[] FluentLabels(int length)
    {
        var labels = new long[length];
        labels[0] = IgnoredToken;          // [CLS]
        labels[^1] = IgnoredToken;         // [SEP]
        return labels;
    }

    /// <summary>
    /// Where a corrupted sentence departs from its source, token by token (both encoded with their special tokens):
    /// 1 for each token outside a longest common subsequence of the two (inserted, replaced or moved), and 1 for the
    /// token after a gap where source tokens were dropped (the one before it when the gap is at the end); 0 elsewhere;
    /// <c>-100</c> on the first and last tokens ([CLS], [SEP]).
    /// </summary>
    public static long[] DepartureLabels(IReadOnlyList<long> ids, IReadOnlyList<long> source)
    {
        int n = ids.Count, m = source.Count;
        var labels = FluentLabels(n);
        if (n < 3) return labels;
        // common[i, j]: length of a longest common subsequence of ids[i..] and source[j..].
        var common = new int[n + 1, m + 1];
        for (int i = n - 1; i >= 0; i--)
            for (int j = m - 1; j >= 0; j--)
                common[i, j] = ids[i] == source[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
        var matched = new int[n];
        Array.Fill(matched, -1);
        for (int i = 0, j = 0; i < n && j < m;)
        {
            if (ids[i] == source[j]) matched[i++] = j++;
            else if (common[i + 1, j] >= common[i, j + 1]) i++;
            else j++;
        }
        for (int i = 1; i < n - 1; i++) if (matched[i] < 0) labels[i] = 1;
        // A gap: two neighbouring matched tokens whose source positions are not neighbours.
        for (int i = 1; i < n; i++)
            if (matched[i] >= 0 && matched[i - 1] >= 0 && matched[i] > matched[i - 1] + 1)
                labels[i < n - 1 ? i : i - 1] = 1;
        return labels;
    }

    /// <summary>The encoder's additive mask, <c>(1 - mask) · finfo(dtype).min</c> as [B, 1, 1, T]: the one BertModel builds.</summary>
    static Tensor Additive(Tensor mask, ScalarType dtype)
    {
        using var additive = AttentionMask.Additive(mask, dtype);
        return additive.view(mask.shape[0], 1, 1, mask.shape[1]);
    }
}
