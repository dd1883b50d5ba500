using RlhfKit.Common;
using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Rewards;

public sealed class ClassifierHeadTrainerTests
{
    [Fact]
    public void TheSchedulesWarmUpFromTheFirstStepAndTheLinearOneDecaysToZeroAtTheLast()
    {
        // 10 steps, 2 of warm-up: 1/2, 2/2, then (10 - step) / 8 down to 1/8 at the last step (step 9).
        double[] expected = [0.5, 1, 1, 7 / 8.0, 6 / 8.0, 5 / 8.0, 4 / 8.0, 3 / 8.0, 2 / 8.0, 1 / 8.0];
        Assert.Equal(expected, Enumerable.Range(0, 10).Select(s => LearningRateSchedule.LinearWithWarmup(s, 2, 10)));
        Assert.Equal(0, LearningRateSchedule.LinearWithWarmup(10, 2, 10)); // past the end: never negative
        Assert.Equal(1, LearningRateSchedule.LinearWithWarmup(0, 0, 10));  // no warm-up: starts at the full rate
        // Warm-up alone: the same rise, then the full rate to the end.
        Assert.Equal([0.5, 1, 1, 1], Enumerable.Range(0, 4).Select(s => LearningRateSchedule.Warmup(s, 2)));
    }

    [Fact]
    public void TrainingEveryBlockChangesEachBlockButLeavesTheFrozenEmbeddingsAsTheyWere()
    {
        var (model, tokenizer) = TinyClassifier();
        var embeddingsBefore = model.bert.embeddings.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var blocksBefore = model.bert.encoder.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var trainer = new ClassifierHeadTrainer(model, tokenizer, EveryBlock(epochs: 2));
        var losses = new List<double>();
        trainer.EpochCompleted += (_, loss) => losses.Add(loss);
        var metrics = trainer.Train(Sentences, Sentences);

        Assert.Equal(2, losses.Count);
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.Equal(Sentences.Count, metrics.Total);
        foreach (var (name, before) in embeddingsBefore)
            Assert.True(before.equal(model.bert.embeddings.state_dict()[name]).all().item<bool>(), $"embeddings.{name} changed");
        foreach (var block in new[] { "layer.0.", "layer.1." })
            Assert.Contains(blocksBefore, kv => kv.Key.StartsWith(block, StringComparison.Ordinal) && !kv.Value.equal(model.bert.encoder.state_dict()[kv.Key]).all().item<bool>());
    }

    [Fact]
    public void TrainingEveryBlockRepeatsForTheSameSeed()
    {
        // Both runs start from the same weights, copied rather than drawn again: tests running beside this one draw from
        // torch's global generator, which construction uses. The batch order comes from the config's seed; dropout is off.
        var (first, tokenizer) = TinyClassifier();
        var start = first.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        float[] Train(BertForSequenceClassification model)
        {
            new ClassifierHeadTrainer(model, tokenizer, EveryBlock(epochs: 1)).Train(Sentences, Sentences);
            return model.classifier.weight.data<float>().ToArray();
        }
        var once = Train(first);
        var (second, _) = TinyClassifier();
        using (no_grad())
            foreach (var (name, tensor) in second.state_dict()) tensor.copy_(start[name]);
        Assert.Equal(once, Train(second));
    }

    [Fact]
    public void DepartureLabelsMarkTheTokensACorruptionChangedAndTheTokenAfterADroppedOne()
    {
        // [CLS] and [SEP] (first and last) are ignored (-100); token ids stand for words here.
        long[] source = [101, 1, 2, 3, 4, 102];
        Assert.Equal([-100, 0, 0, 0, 0, -100], ClassifierHeadTrainer.DepartureLabels([101, 1, 2, 3, 4, 102], source));
        Assert.Equal([-100, 0, 0, 1, 0, 0, -100], ClassifierHeadTrainer.DepartureLabels([101, 1, 2, 2, 3, 4, 102], source));  // doubled: the second copy
        Assert.Equal([-100, 0, 1, 0, 0, -100], ClassifierHeadTrainer.DepartureLabels([101, 1, 9, 3, 4, 102], source));        // replaced
        Assert.Equal([-100, 0, 1, 0, -100], ClassifierHeadTrainer.DepartureLabels([101, 1, 3, 4, 102], source));              // 2 dropped: the token after the gap
        Assert.Equal([-100, 0, 0, 1, -100], ClassifierHeadTrainer.DepartureLabels([101, 1, 2, 3, 102], source));              // 4 dropped at the end: the token before
        Assert.Equal([-100, 0, 1, 0, 1, -100], ClassifierHeadTrainer.DepartureLabels([101, 1, 3, 2, 4, 102], source));        // swapped: one side of the swap, then the gap it leaves
    }

    [Fact]
    public void TokenDetectionTrainsWithSourcesAndWithoutThemIsRefusedByName()
    {
        var (model, tokenizer) = TinyClassifier();
        var config = EveryBlock(epochs: 1) with { TokenDetectionWeight = 1 };
        var e = Assert.Throws<ArgumentException>(() => new ClassifierHeadTrainer(model, tokenizer, config).Train(Sentences, Sentences));
        Assert.Contains("TokenDetectionWeight", e.Message);
        // Each corrupted sentence's source is the fluent sentence before it.
        var sources = Sentences.Select((s, i) => s.Label == 0 ? Sentences[i - 1].Text : null).ToList();
        var before = model.classifier.weight.clone();
        var metrics = new ClassifierHeadTrainer(model, tokenizer, config).Train(Sentences, Sentences, sources);
        Assert.Equal(Sentences.Count, metrics.Total);
        Assert.False(before.equal(model.classifier.weight).all().item<bool>(), "the classifier did not train");
        // The token head is training's alone: the model keeps the sequence classifier's own tensors, nothing more.
        Assert.Equal(TinyClassifier().Model.state_dict().Keys.Order(), model.state_dict().Keys.Order());
    }

    [Fact]
    public void AnOutOfRangeTrainingOptionIsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => (EveryBlock(epochs: 1) with { TokenDetectionWeight = -1 }).Validate());
        Assert.Contains("TokenDetectionWeight", e.Message);
        e = Assert.Throws<ArgumentException>(() => (EveryBlock(epochs: 1) with { WarmupRatio = 1 }).Validate());
        Assert.Contains("WarmupRatio", e.Message);
    }

    static readonly IReadOnlyList<(string Text, int Label)> Sentences =
    [
        ("The council approved the new library.", 1), ("The council the approved library new.", 0),
        ("Profits rose 4 percent in March.", 1), ("Profits rose rose 4 percent in March.", 0),
        ("A new park opened on Monday.", 1), ("A new park opened on on.", 0),
        ("The ferry will run six times a day.", 1), ("The ferry will runs six times a day.", 0),
        ("Fans cheered the late goal.", 1), ("Fans late the cheered goal.", 0),
    ];

    /// <summary>Both blocks of <see cref="TinyClassifier"/> trained (none frozen), with a warm-up and linear decay.</summary>
    static ClassifierTrainingConfig EveryBlock(int epochs) =>
        new() { TrainTopLayers = 2, Epochs = epochs, BatchSize = 4, LearningRate = 1e-3, WarmupRatio = 0.25, LinearDecay = true };

    /// <summary>all-MiniLM-L6-v2's vocabulary, written once for the class.</summary>
    static readonly Lazy<string> Vocab = new(() =>
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("rlhfkit-tiny-bert-").FullName, "vocab.txt");
        MiniLm.WriteVocab(path);
        return path;
    });

    /// <summary>A two-block, 32-wide BERT with all-MiniLM-L6-v2's vocabulary, seeded (dropout off, so a run repeats).</summary>
    static (BertForSequenceClassification Model, IHfTokenizer Tokenizer) TinyClassifier()
    {
        manual_seed(7);
        var config = MiniLm.Config(2) with { HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
        return (new BertForSequenceClassification(config), BertTokenizer.FromVocab(Vocab.Value, doLowerCase: true));
    }
}
