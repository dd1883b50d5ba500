using RlhfKit.Checkpoints;
using RlhfKit.Cli;

namespace RlhfKit.Tests.Alignment;

/// <summary>
/// Each verb loads only what it needs: <c>generate</c> builds no reward classifiers, <c>score</c> needs no policy,
/// <c>evaluate</c> checks its arguments before building anything. Each test points <c>--assets</c> at a folder that lacks
/// what the verb should not touch and checks the folder is left as it was (building a missing model would fill it).
/// </summary>
[Collection(OfflineAssetsCollection.Name)]
public sealed class CliVerbLoadingTests(OfflineAssetsFixture assets) : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rlhfkit-cli-loading-");

    public void Dispose() => _dir.Delete(recursive: true);

    string NewDir(string name) => Directory.CreateDirectory(Path.Combine(_dir.FullName, name)).FullName;

    static string[] Contents(string dir) => Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order().ToArray()!;

    /// <summary>The tiny T5 fixture as a policy folder: config, weights and the SentencePiece model of the same vocabulary.</summary>
    string TinyPolicyFolder(string name)
    {
        var policy = NewDir(name);
        File.Copy(Fixtures.PathOf("t5-gated", "config.json"), Path.Combine(policy, "config.json"));
        File.Copy(Fixtures.PathOf("t5-gated", "model.safetensors"), Path.Combine(policy, "model.safetensors"));
        File.Copy(Fixtures.PathOf("spiece", "spiece.model"), Path.Combine(policy, "spiece.model"));
        return policy;
    }

    [Fact]
    public async Task GenerateWithAPolicyFolderBuildsNoRewardClassifiers()
    {
        var empty = NewDir("assets");
        var (code, output) = await CliErrorReportingTests.Cli("generate", "--assets", empty, "--policy", TinyPolicyFolder("policy"),
            "The council met on Monday to discuss the new library.");
        Assert.True(code == 0, output);
        Assert.Contains("SUMMARY:", output);
        Assert.DoesNotContain("preparing", output);
        Assert.Empty(Contents(empty));
    }

    [Fact]
    public async Task GenerateAcceptsATrlPpoCheckpointFolder()
    {
        var policy = NewDir("trl");
        File.Copy(Fixtures.PathOf("t5-gated", "config.json"), Path.Combine(policy, "config.json"));
        File.Copy(Fixtures.PathOf("spiece", "spiece.model"), Path.Combine(policy, "spiece.model"));
        var state = CheckpointReader.ReadStateDict(Fixtures.PathOf("t5-gated", "pytorch_model.bin"));
        state["v_head.summary.weight"] = TorchSharp.torch.zeros(1, 64);
        state["v_head.summary.bias"] = TorchSharp.torch.zeros(1);
        CheckpointWriter.SavePyTorch(state, Path.Combine(policy, "pytorch_model.bin"));
        var (code, output) = await CliErrorReportingTests.Cli("generate", "--assets", NewDir("assets"), "--policy", policy, "A short article.");
        Assert.True(code == 0, output);
        Assert.Contains("SUMMARY:", output);
    }

    [Fact]
    public async Task ScoreNeedsNoPolicy()
    {
        // The classifiers the fixture prepared, without the policy.
        var classifiersOnly = NewDir("assets");
        foreach (var model in new[] { "tone", "acceptability" })
            Directory.CreateSymbolicLink(Path.Combine(classifiersOnly, model), Path.Combine(assets.Directory, model));
        var (code, output) = await CliErrorReportingTests.Cli("score", "--assets", classifiersOnly, "I love you!");
        Assert.True(code == 0, output);
        Assert.Contains("neutral", output);
        Assert.DoesNotContain("preparing", output);
        Assert.Equal(["acceptability", "tone"], Contents(classifiersOnly)); // no policy built
    }

    [Fact]
    public async Task EvaluateChecksItsArgumentsBeforeBuildingAnything()
    {
        var empty = NewDir("assets");
        var run = NewDir("run-without-checkpoint");
        CliErrorReportingTests.AssertOneLineError(await CliErrorReportingTests.Cli("evaluate", "--assets", empty, "--run", run), ExitCodes.NoInput, run);
        CliErrorReportingTests.AssertOneLineError(await CliErrorReportingTests.Cli("evaluate", "--assets", empty, "--run", run, "--articles", "1"), ExitCodes.Usage, "EvalArticles");
        Assert.Empty(Contents(empty));
    }
}
