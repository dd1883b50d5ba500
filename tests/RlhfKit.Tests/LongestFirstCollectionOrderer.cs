using Xunit.Abstractions;

[assembly: TestCollectionOrderer("RlhfKit.Tests.LongestFirstCollectionOrderer", "RlhfKit.Tests")]

namespace RlhfKit.Tests;

/// <summary>
/// Starts the longest test collections first. xunit runs as many collections side by side as there are cores, each
/// collection's tests one after another, and picks collections in this order; in its own order the offline-assets
/// collection (several minutes of CLI runs) started last and ran alone for a minute and a half at the end while the
/// other core idled. Longest first (the classic rule for packing jobs on a few machines) lets the short ones fill in
/// around the long ones. The figures are the seconds each collection took in a fresh-clone run on 2 cores; they only
/// rank, so they need not be exact. Unlisted collections follow in xunit's order; collections that disable
/// parallelization still run alone after all the others, whatever this says.
/// </summary>
public sealed class LongestFirstCollectionOrderer : ITestCollectionOrderer
{
    static readonly Dictionary<string, int> Seconds = new(StringComparer.Ordinal)
    {
        [Notebooks.NotebookCollection.Name] = 320,
        [Alignment.OfflineAssetsCollection.Name] = 200,
        [Notebooks.LessonAppCollection.Name] = 90,
        ["Charts"] = 100,
        [Reliability.RunFolderProcessCollection.Name] = 40,
        [DefaultPrefix + "RlhfKit.Tests.Reliability.FuzzTests"] = 38,
        [DefaultPrefix + "RlhfKit.Tests.Preferences.RewardTrainerTests"] = 32,
        [DefaultPrefix + "RlhfKit.Tests.Reliability.ScalarLifetimeTests"] = 14,
        [DefaultPrefix + "RlhfKit.Tests.Ppo.PpoTrainerTests"] = 10,
        [DefaultPrefix + "RlhfKit.Tests.Benchmarks.BenchmarkTests"] = 8,
        [DefaultPrefix + "RlhfKit.Tests.Reliability.ReliabilityTests"] = 7,
        [DefaultPrefix + "RlhfKit.Tests.Dpo.DpoTrainerTests"] = 6,
    };

    public const string DefaultPrefix = "Test collection for ";

    /// <summary>The listed collections and their weights.</summary>
    public static IReadOnlyDictionary<string, int> Weights => Seconds;

    /// <summary>The ranking weight of a collection by its display name (0 when unlisted).</summary>
    public static int WeightOf(string displayName) => Seconds.GetValueOrDefault(displayName);

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.Select((c, i) => (c, i)).OrderByDescending(x => WeightOf(x.c.DisplayName)).ThenBy(x => x.i).Select(x => x.c);
}

public sealed class LongestFirstCollectionOrdererTests
{
    [Fact]
    public void EveryListedPerClassCollectionNamesATestClassThatExists()
    {
        foreach (var name in LongestFirstCollectionOrderer.Weights.Keys.Where(k => k.StartsWith(LongestFirstCollectionOrderer.DefaultPrefix, StringComparison.Ordinal)))
        {
            var type = typeof(LongestFirstCollectionOrderer).Assembly.GetType(name[LongestFirstCollectionOrderer.DefaultPrefix.Length..]);
            Assert.True(type is not null, $"'{name}' names no class of this assembly (renamed?)");
            Assert.Contains(type!.GetMethods(), m => m.GetCustomAttributes(typeof(FactAttribute), inherit: true).Length > 0);
        }
    }

    static readonly Xunit.Sdk.TestAssembly Assembly = new(Xunit.Sdk.Reflector.Wrap(typeof(LongestFirstCollectionOrderer).Assembly));

    [Fact]
    public void LongerCollectionsComeFirstAndTheRestKeepTheirOrder()
    {
        var names = new[] { "Test collection for A", Alignment.OfflineAssetsCollection.Name, "Test collection for B", Notebooks.NotebookCollection.Name, "Charts" };
        var ordered = new LongestFirstCollectionOrderer().OrderTestCollections(names.Select(n => (ITestCollection)new Xunit.Sdk.TestCollection(Assembly, null, n))).Select(c => c.DisplayName);
        Assert.Equal([Notebooks.NotebookCollection.Name, Alignment.OfflineAssetsCollection.Name, "Charts", "Test collection for A", "Test collection for B"], ordered);
    }
}
