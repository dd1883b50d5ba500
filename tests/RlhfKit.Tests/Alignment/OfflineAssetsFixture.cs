using RlhfKit.Alignment;

namespace RlhfKit.Tests.Alignment;

/// <summary>Builds the offline profile's classifiers once per test run (a few minutes on two cores) when they are missing.</summary>
public sealed class OfflineAssetsFixture
{
    public OfflineAssetsFixture()
    {
        if (!OfflineAssets.IsPrepared()) OfflineAssets.Prepare(status: Console.Error.WriteLine);
        Directory = OfflineAssets.DefaultDirectory();
    }

    public string Directory { get; }
}

[CollectionDefinition(Name)]
public sealed class OfflineAssetsCollection : ICollectionFixture<OfflineAssetsFixture>
{
    public const string Name = "Offline assets";
}
