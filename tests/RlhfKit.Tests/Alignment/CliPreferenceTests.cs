using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Cli;
using RlhfKit.Preferences;

namespace RlhfKit.Tests.Alignment;

/// <summary>The preference verbs through the command line (in-process) on the offline models: AI feedback to a file,
/// PPO on a learned reward, and the comparison by win rate.</summary>
[Collection(OfflineAssetsCollection.Name)]
public class CliPreferenceTests(OfflineAssetsFixture assets)
{
    static Task<(int Code, string Output)> Cli(params string[] args) => CliErrorReportingTests.Cli(args);

    [Theory]
    [InlineData("pairs.jsonl")]
    [InlineData("pairs.parquet")]
    public async Task PreferencesFromPolicyWritesRankedPairsThatLoadBack(string name)
    {
        Assert.True(OfflineAssets.IsPrepared(assets.Directory));
        var file = Path.Combine(Directory.CreateTempSubdirectory("rlhfkit-prefs-").FullName, name);
        var (code, output) = await Cli("preferences", "--from-policy", "--articles", "10", "--out", file);
        Assert.True(code == 0, output);
        var pairs = PreferenceData.Read(file);
        Assert.InRange(pairs.Count, 1, 10);
        Assert.Contains($"{pairs.Count} preference pairs from 10 articles", output);
        Assert.All(pairs, p => Assert.StartsWith("summarize: ", p.Prompt));
        Assert.Contains("preferences [", output); // the progress bar
    }

    [Fact]
    public async Task PreferencesWithoutASourceOrWithAnUnknownExtensionAreUsageErrors()
    {
        var (code, output) = await Cli("preferences", "--out", "pairs.jsonl");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--from-policy", output);
        (code, output) = await Cli("preferences", "--from-policy", "--out", "pairs.csv");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("pairs.csv", output);
    }

    [Fact]
    public async Task AlignOnALearnedRewardTrainsOnItsLogitAndCompareReportsTheWinRate()
    {
        var dir = Directory.CreateTempSubdirectory("rlhfkit-learned-").FullName;
        var (code, output) = await Cli("reward-model", "--epochs", "1", "--out", Path.Combine(dir, "rm"));
        Assert.True(code == 0, output);

        var run = Path.Combine(dir, "ppo");
        (code, output) = await Cli("align", "--profile", "offline", "--reward-model", Path.Combine(dir, "rm"), "--reward-weight", "0.2",
            "--init-kl-coef", "0.3", "--max-steps", "2", "--no-eval", "--out", run);
        Assert.True(code == 0, output);
        var header = File.ReadLines(Path.Combine(run, "stats.csv")).First();
        Assert.Contains("env/reward/learned", header);
        Assert.DoesNotContain("env/reward/neutral", header); // the learned reward replaces the classifiers
        using (var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoints", "step-000002", "trainer_state.json"))))
            Assert.Equal(0.3, state.RootElement.GetProperty("kl_coef").GetDouble(), 1); // the adaptive controller moves it a little

        (code, output) = await Cli("compare", "--profile", "offline", "--reward-model", Path.Combine(dir, "rm"), "--policy", $"ppo={run}",
            "--articles", "6", "--out", Path.Combine(dir, "compare"));
        Assert.True(code == 0, output);
        Assert.Contains("ppo", output);
        Assert.Contains("neutral", output); // the classifiers' gains are reported beside the win rate
        using var rates = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "compare", "win_rates.json")));
        var ppo = rates.RootElement.GetProperty("ppo");
        Assert.Equal(6, ppo.GetProperty("N").GetInt32());
        Assert.InRange(ppo.GetProperty("Low").GetDouble(), 0, ppo.GetProperty("Rate").GetDouble());
    }

    [Fact]
    public async Task AlignRefusesARewardModelFolderThatIsMissingOrNotAOneOutputClassifier()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"rlhfkit-no-rm-{Guid.NewGuid():N}");
        var (code, output) = await Cli("align", "--profile", "offline", "--reward-model", missing, "--max-steps", "1");
        Assert.Equal(ExitCodes.NoInput, code);
        Assert.Contains(missing, output);

        // The tone classifier has three labels: not a reward model.
        var tone = Path.Combine(assets.Directory, "tone");
        (code, output) = await Cli("align", "--profile", "offline", "--reward-model", tone, "--max-steps", "1");
        Assert.Equal(ExitCodes.BadData, code);
        Assert.Contains(Path.Combine(tone, "config.json"), output);
        Assert.Contains("one output", output);

        (code, output) = await Cli("align", "--profile", "offline", "--reward-weight", "2", "--max-steps", "1");
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--reward-model", output);
    }

    static List<Dictionary<string, double>> Stats(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "stats.jsonl")).Select(l => JsonSerializer.Deserialize<Dictionary<string, double>>(l)!).ToList();

    [Fact]
    public async Task DpoResumedFromACheckpointEndsWhereAnUninterruptedRunEnds()
    {
        var dir = Directory.CreateTempSubdirectory("rlhfkit-dpo-resume-").FullName;
        string straight = Path.Combine(dir, "straight"), split = Path.Combine(dir, "split");
        var (code, output) = await Cli("dpo", "--profile", "offline", "--max-steps", "4", "--checkpoint-every", "2", "--out", straight);
        Assert.True(code == 0, output);
        (code, output) = await Cli("dpo", "--profile", "offline", "--max-steps", "2", "--checkpoint-every", "2", "--out", split);
        Assert.True(code == 0, output);
        (code, output) = await Cli("dpo", "--profile", "offline", "--max-steps", "4", "--checkpoint-every", "2", "--out", split);
        Assert.True(code == 0, output);
        Assert.Contains("Resuming from checkpoint step-000002", output);

        var (a, b) = (Stats(straight), Stats(split));
        Assert.Equal([1.0, 2, 3, 4], b.Select(r => r["step"]));
        for (int i = 0; i < 4; i++) Assert.Equal(a[i]["loss"], b[i]["loss"], 5); // the same batches and the same Adam moments
        Assert.Equal(5, File.ReadAllLines(Path.Combine(split, "stats.csv")).Length);
        using (var latest = JsonDocument.Parse(File.ReadAllText(Path.Combine(split, "checkpoints", "latest.json"))))
            Assert.Equal(4, latest.RootElement.GetProperty("step").GetInt32());
        Assert.Equal(["step-000002", "step-000004"], Directory.GetDirectories(Path.Combine(split, "checkpoints")).Select(Path.GetFileName).Order());
        Assert.True(File.Exists(Path.Combine(split, "policy", "model.safetensors")));

        // Resuming with another beta would mix two runs: refused, naming the file and the option.
        (code, output) = await Cli("dpo", "--profile", "offline", "--max-steps", "6", "--beta", "0.2", "--out", split);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(Path.Combine(split, "run_config.json"), output);
        Assert.Contains("beta", output);
    }

    [Fact]
    public async Task RewardModelResumesFromItsCheckpointAndKeepsItsStatistics()
    {
        var dir = Directory.CreateTempSubdirectory("rlhfkit-rm-resume-").FullName;
        var (code, output) = await Cli("reward-model", "--epochs", "1", "--max-steps", "3", "--checkpoint-every", "2", "--out", dir);
        Assert.True(code == 0, output);
        using (var latest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "checkpoints", "latest.json"))))
            Assert.Equal(3, latest.RootElement.GetProperty("step").GetInt32());
        Assert.True(File.Exists(Path.Combine(dir, "checkpoints", "step-000003", "optimizer.bin")));
        Assert.True(File.Exists(Path.Combine(dir, "run_config.json")));

        (code, output) = await Cli("reward-model", "--epochs", "1", "--max-steps", "5", "--checkpoint-every", "2", "--out", dir);
        Assert.True(code == 0, output);
        Assert.Contains("Resuming from checkpoint step-000003", output);
        Assert.Equal([1.0, 2, 3, 4, 5], Stats(dir).Select(r => r["step"]));
        Assert.True(File.Exists(Path.Combine(dir, "model", "model.safetensors")));
    }
}
