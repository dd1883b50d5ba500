using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Rewards;

namespace RlhfKit.Tests.Alignment;

/// <summary>The offline classifiers ship as trained tensors; <c>prepare --force</c> must still be able to make them.</summary>
[Collection(OfflineAssetsCollection.Name)]
public sealed class OfflineClassifierTests(OfflineAssetsFixture assets)
{

    [Fact]
    public async Task TheShippedAcceptabilityClassifierSeparatesRealPolicySamplesBetterThanChance()
    {
        var metrics = await OfflineAssets.PolicySampleAccuracyAsync(Path.Combine(assets.Directory, "acceptability"));
        Assert.Equal(150, metrics.Total);
        Assert.True(metrics.Accuracy > metrics.ChanceAccuracy + 0.1,
            $"acceptability on hand-labelled policy samples: {metrics.Accuracy:P1} ({metrics.Correct}/{metrics.Total}); majority class {metrics.ChanceAccuracy:P1}");
    }

    [Fact]
    public void AnUnknownClassifierNameIsAnErrorThatListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => OfflineAssets.TrainClassifier("sarcasm", Path.GetTempPath()));
        Assert.Contains("'tone' and 'acceptability'", e.Message);
    }
}

/// <summary><c>prepare --force</c> rebuilds the shipped acceptability classifier. Alone (after the parallel tests): its
/// training is repeatable only while nothing else draws from torch's global generator.</summary>
[Collection(RlhfKit.Tests.Models.GlobalGeneratorCollection.Name)]
public sealed class OfflineClassifierRebuildTests
{
    [Fact]
    public void RebuildingTheAcceptabilityClassifierReachesTheShippedAccuracy()
    {
        var shipped = JsonSerializer.Deserialize<ClassifierMetrics>(
            File.ReadAllText(Path.Combine(OfflineAssets.DefaultDirectory(), "acceptability", "metrics.json")))!;
        var dir = Directory.CreateTempSubdirectory("rlhfkit-acceptability-");
        // It runs alone, so it may use every core even when the suite runs each test on one (scripts/test.sh).
        int threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(Math.Max(threads, RlhfKit.Benchmarks.PerformanceBenchmark.PhysicalCores()));
        try
        {
            var rebuilt = OfflineAssets.TrainClassifier("acceptability", dir.FullName, Console.Error.WriteLine);
            Assert.Equal(shipped.Total, rebuilt.Total);
            // Same data, seed and recipe. Training draws dropout masks from torch's global generator, so this test runs alone
            // (a test running beside it would draw from the same generator and change the masks); float sums may still
            // differ with the thread count, so allow 3 of 700 answers to flip.
            Assert.True(rebuilt.Accuracy >= shipped.Accuracy - 3.0 / shipped.Total,
                $"rebuilt acceptability classifier: {rebuilt.Accuracy:P2} held-out; shipped: {shipped.Accuracy:P2}");
            Assert.True(File.Exists(Path.Combine(dir.FullName, OfflineAssets.TrainedWeightsFile)));
        }
        finally { dir.Delete(recursive: true); TorchSharp.torch.set_num_threads(threads); }
    }
}
