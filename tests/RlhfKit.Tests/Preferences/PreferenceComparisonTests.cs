using RlhfKit.Preferences;

namespace RlhfKit.Tests.Preferences;

/// <summary>Which model folder <c>compare --policy</c> evaluates, for each kind of folder the kit writes.</summary>
public sealed class PreferenceComparisonTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rlhfkit-policy-folder-");
    public void Dispose() => _dir.Delete(recursive: true);

    string Touch(params string[] parts)
    {
        var path = Path.Combine([_dir.FullName, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{}");
        return path;
    }

    [Fact]
    public void PolicyFolderPicksTheFinishedDpoPolicyOverItsCheckpoints()
    {
        Touch("dpo", "policy", "config.json");
        Touch("dpo", "checkpoints", "step-000080", "trainer_state.json");
        Touch("dpo", "checkpoints", "step-000080", "policy", "config.json");
        Assert.Equal(Path.Combine(_dir.FullName, "dpo", "policy"), PreferenceComparison.PolicyFolder(Path.Combine(_dir.FullName, "dpo")));
    }

    [Fact]
    public void PolicyFolderPicksTheLatestCheckpointOfAnAlignRunOrItsPolicyOfAnUnfinishedDpoRun()
    {
        Touch("align", "checkpoints", "step-000003", "trainer_state.json");
        Touch("align", "checkpoints", "step-000003", "config.json");
        Assert.Equal(Path.Combine(_dir.FullName, "align", "checkpoints", "step-000003"), PreferenceComparison.PolicyFolder(Path.Combine(_dir.FullName, "align")));
        Touch("dpo-half", "checkpoints", "step-000020", "trainer_state.json");
        Touch("dpo-half", "checkpoints", "step-000020", "policy", "config.json");
        Assert.Equal(Path.Combine(_dir.FullName, "dpo-half", "checkpoints", "step-000020", "policy"),
            PreferenceComparison.PolicyFolder(Path.Combine(_dir.FullName, "dpo-half")));
    }

    [Fact]
    public void PolicyFolderTakesAModelFolderAsItIsAndNamesAFolderWithoutAPolicy()
    {
        Touch("model", "config.json");
        Assert.Equal(Path.Combine(_dir.FullName, "model"), PreferenceComparison.PolicyFolder(Path.Combine(_dir.FullName, "model")));
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "empty"));
        var e = Assert.Throws<FileNotFoundException>(() => PreferenceComparison.PolicyFolder(Path.Combine(_dir.FullName, "empty")));
        Assert.Contains("empty", e.Message);
    }
}
