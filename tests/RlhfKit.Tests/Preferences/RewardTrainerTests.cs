using RlhfKit.Alignment;
using RlhfKit.Preferences;
using RlhfKit.Rewards;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Preferences;

public sealed class RewardTrainerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlhfkit-rm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static IReadOnlyList<PreferencePair> Shipped(string split) =>
        PreferenceData.Read(Path.Combine(OfflineAssets.DataDirectory(), "preferences", split + ".jsonl"));

    [Fact]
    public void BradleyTerryLossIsTheMeanOfMinusLogSigmoidOfTheRewardDifference()
    {
        using var scope = NewDisposeScope();
        // Differences 0.2 and -0.1: (softplus(-0.2) + softplus(0.1)) / 2, worked out by hand.
        var loss = RewardTrainer.Loss(tensor(new double[] { 1.2, 0.0 }), tensor(new double[] { 1.0, 0.1 }));
        Assert.Equal((0.5981388693815918 + 0.7443966600735710) / 2, loss.item<double>(), 12);
    }

    [Fact]
    public void RewardConfigValidateNamesTheBadOption()
    {
        var e = Assert.Throws<ArgumentException>(new RewardConfig { Epochs = 0 }.Validate);
        Assert.Equal(nameof(RewardConfig.Epochs), e.ParamName);
    }

    [Fact]
    public void ClassifierWithMoreThanOneOutputIsRefused()
    {
        var model = new RlhfKit.Models.BertForSequenceClassification(RlhfKit.Loading.MiniLm.Config(numLabels: 2) with { NumHiddenLayers = 1, VocabSize = 50 });
        var e = Assert.Throws<ArgumentException>(() => new RewardTrainer(model, null!, new RewardConfig()));
        Assert.Contains("one output", e.Message);
    }

    [Fact]
    public void MiniLmRewardModelLearnsTheShippedPreferencesAndItsCheckpointScoresAsAPipelineAndACompositeComponent()
    {
        var (model, tokenizer, files) = RewardTrainer.MiniLmRewardModel(seed: 0);
        using var trainer = new RewardTrainer(model, tokenizer, RewardConfig.OfflineRecipe with { Epochs = 3 });
        var heldOut = Shipped("test");
        var before = trainer.Accuracy(heldOut);
        var losses = trainer.Train(Shipped("train").Take(128).ToList());
        var after = trainer.Accuracy(heldOut);
        Console.WriteLine($"Reward model: held-out accuracy {before.Accuracy:P1} -> {after.Accuracy:P1} ({after.Correct}/{after.Total}), margin {after.MeanMargin:F3}; epoch losses {string.Join(", ", losses.Select(l => l.ToString("F4")))}");
        Assert.True(losses[^1] < losses[0]);
        Assert.True(after.Accuracy >= 0.8, $"held-out accuracy {after.Accuracy}");

        var folder = Path.Combine(_dir, "reward");
        trainer.Save(folder, files, after);
        var component = LearnedReward.Load(folder, "learned");
        var texts = heldOut.Take(4).SelectMany(p => new[] { p.Chosen, p.Rejected }).ToList();
        var expected = trainer.Score(texts);
        Assert.Equal(expected, component.Score(texts), (a, b) => Math.Abs(a - b) < 1e-4);
        var total = new CompositeReward().Add(component, weight: 2.0).Score(texts).Total;
        Assert.Equal(expected.Select(x => 2 * x), total, (a, b) => Math.Abs(a - b) < 2e-4);
        Assert.True(File.Exists(Path.Combine(folder, "metrics.json")));

        // Disposing frees the optimiser, not the model: scores stay, and training again is refused by name.
        trainer.Dispose();
        Assert.Equal(expected, trainer.Score(texts));
        var e = Assert.Throws<ObjectDisposedException>(() => trainer.Train(Shipped("train").Take(4).ToList()));
        Assert.Equal(typeof(RewardTrainer).FullName, e.ObjectName);
    }
}
