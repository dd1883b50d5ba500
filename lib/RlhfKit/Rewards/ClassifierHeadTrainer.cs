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
    public int MaxTokens { get; init; } = 64;
    public int Seed { get; init; }
}

/// <summary>Held-out accuracy and per-class counts.</summary>
public sealed record ClassifierMetrics(double Accuracy, int Correct, int Total, double ChanceAccuracy, double TrainSeconds);

/// <summary>
/// Fine-tunes a <see cref="BertForSequenceClassification"/> whose encoder is pretrained (all-MiniLM-L6-v2 in the offline
/// profile): the frozen lower blocks run once per sentence and their output is cached, so each epoch only runs the
/// trained top blocks, the pooler and the classifier.
/// </summary>
public sealed class ClassifierHeadTrainer(BertForSequenceClassification model, IHfTokenizer tokenizer, ClassifierTrainingConfig config)
{
    public event Action<int, double>? EpochCompleted;

    public ClassifierMetrics Train(IReadOnlyList<(string Text, int Label)> train, IReadOnlyList<(string Text, int Label)> test)
    {
        var clock = Stopwatch.StartNew();
        var layers = model.bert.encoder.layer;
        int frozen = layers.Count - config.TrainTopLayers;
        if (frozen < 0) throw new ArgumentException($"TrainTopLayers ({config.TrainTopLayers}) exceeds the encoder's {layers.Count} blocks.");
        foreach (var p in model.parameters()) p.requires_grad = false;
        var trained = new List<nn.Module> { model.bert.pooler!, model.classifier };
        for (int i = frozen; i < layers.Count; i++) trained.Add(layers[i]);
        var parameters = trained.SelectMany(m => m.parameters()).ToList();
        foreach (var p in parameters) p.requires_grad = true;

        using var trainFeatures = Features(train.Select(t => t.Text).ToList(), frozen);
        using var trainLabels = tensor(train.Select(t => (long)t.Label).ToArray());
        using var optimizer = optim.AdamW(parameters, lr: config.LearningRate);
        int n = train.Count;
        for (int epoch = 0; epoch < config.Epochs; epoch++)
        {
            model.train();
            var order = Seeding.Permutation(n, Seeding.Derive(config.Seed, epoch, stream: 0)).Select(i => (long)i).ToArray();
            double sum = 0; int batches = 0;
            for (int b = 0; b < n; b += config.BatchSize)
            {
                using var scope = NewDisposeScope();
                var rows = tensor(order[b..Math.Min(n, b + config.BatchSize)]);
                var logits = Top(trainFeatures.Hidden.index_select(0, rows), trainFeatures.Mask.index_select(0, rows), frozen);
                var loss = nn.functional.cross_entropy(logits, trainLabels.index_select(0, rows));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step()?.Dispose();
                sum += loss.item<float>(); batches++;
            }
            EpochCompleted?.Invoke(epoch, sum / batches);
        }
        model.eval();
        foreach (var p in model.parameters()) p.requires_grad = false;

        using var testFeatures = Features(test.Select(t => t.Text).ToList(), frozen);
        int correct = 0;
        using (no_grad())
        {
            for (int b = 0; b < test.Count; b += 256)
            {
                using var scope = NewDisposeScope();
                var rows = arange(b, Math.Min(test.Count, b + 256), dtype: int64);
                var predicted = Top(testFeatures.Hidden.index_select(0, rows), testFeatures.Mask.index_select(0, rows), frozen).argmax(-1).data<long>().ToArray();
                for (int i = 0; i < predicted.Length; i++) if (predicted[i] == test[b + i].Label) correct++;
            }
        }
        var counts = test.GroupBy(t => t.Label).Select(g => g.Count()).ToList();
        return new ClassifierMetrics((double)correct / test.Count, correct, test.Count, (double)counts.Max() / test.Count, clock.Elapsed.TotalSeconds);
    }

    sealed record Cached(Tensor Hidden, Tensor Mask) : IDisposable
    {
        public void Dispose() { Hidden.Dispose(); Mask.Dispose(); }
    }

    /// <summary>Output of the frozen blocks for every text, padded to one length: computed once, without gradients.</summary>
    Cached Features(IReadOnlyList<string> texts, int frozen)
    {
        model.eval();
        using var noGrad = no_grad();
        var encoded = texts.Select(t => tokenizer.Encode(t, true, config.MaxTokens).Select(i => (long)i).ToArray()).ToList();
        using var scope = NewDisposeScope();
        var (ids, mask) = Batching.PadRight(encoded, model.PadTokenId);
        var chunks = new List<Tensor>();
        for (long b = 0; b < ids.shape[0]; b += 256)
        {
            var slice = ids[(int)b..(int)Math.Min(ids.shape[0], b + 256)];
            var sliceMask = mask[(int)b..(int)Math.Min(ids.shape[0], b + 256)];
            var hidden = model.bert.embeddings.Forward(slice);
            var additive = Additive(sliceMask, hidden.dtype);
            for (int i = 0; i < frozen; i++) hidden = model.bert.encoder.layer[i].Forward(hidden, additive);
            chunks.Add(hidden);
        }
        return new Cached(cat(chunks, 0).MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    Tensor Top(Tensor hidden, Tensor mask, int frozen)
    {
        var additive = Additive(mask, hidden.dtype);
        var layers = model.bert.encoder.layer;
        for (int i = frozen; i < layers.Count; i++) hidden = layers[i].Forward(hidden, additive);
        return model.classifier.forward(model.dropout.forward(model.bert.pooler!.forward(hidden)));
    }

    static Tensor Additive(Tensor mask, ScalarType dtype) =>
        (1 - mask.to_type(dtype)).mul(float.MinValue).view(mask.shape[0], 1, 1, mask.shape[1]);
}
