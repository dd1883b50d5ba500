using RlhfKit.Alignment;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// The run folder against other processes and signals, with the real command line in child processes on the tiny
/// models: one writer per folder (a second <c>align</c> stops at once naming the holder; a killed holder's lock is taken
/// over with a note), SIGTERM checkpoints like Ctrl+C, statistics stay in order across a kill -9, <c>evaluate</c> only
/// reads a run, and bad arguments or texts are refused before anything loads.
/// </summary>
[Collection(RunFolderProcessCollection.Name)]
public sealed class RunFolderProcessTests(TinyOfflineAssets assets)
{
    const string Align = "align", Offline = "offline";

    CliProcess StartAlign(string dir, int maxSteps, int checkpointEvery = 10) =>
        CliProcess.Start(assets.Directory, Align, "--profile", Offline, "--out", dir, "--max-steps", maxSteps.ToString(), "--no-eval",
            "--checkpoint-every", checkpointEvery.ToString());

    static void AssertStepsOnceInOrder(int[] steps, int last, string file) =>
        Assert.True(steps.SequenceEqual(Enumerable.Range(1, last)), $"{file}: expected steps 1..{last} once each, got [{string.Join(", ", steps)}]");

    [Fact]
    public void ASecondAlignOnTheSameFolderStopsAtOnceNamingTheHolder()
    {
        var dir = assets.NewRunFolder();
        using var first = StartAlign(dir, 100_000);
        first.WaitUntil(() => CliProcess.JsonlSteps(dir).Length >= 1, 120, "the first align's first step");

        var (code, output) = CliProcess.Run(assets.Directory, 60, Align, "--profile", Offline, "--out", dir, "--max-steps", "100000", "--no-eval");

        Assert.Equal(4, code);
        var error = Assert.Single(output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains(dir, error);
        Assert.Contains($"process {first.Id} on host {Environment.MachineName}", error);
        Assert.DoesNotContain("Loading", output); // it stopped before loading anything
        // The first run goes on undisturbed: its rows are still 1..N in order.
        var steps = CliProcess.JsonlSteps(dir);
        AssertStepsOnceInOrder(steps, steps.Length, "stats.jsonl");
    }

    [Fact]
    public void ALockLeftByAKilledAlignIsTakenOverWithANote()
    {
        var dir = assets.NewRunFolder();
        int killedPid;
        using (var first = StartAlign(dir, 100_000))
        {
            first.WaitUntil(() => CliProcess.JsonlSteps(dir).Length >= 1, 120, "the first align's first step");
            killedPid = first.Id;
            first.Kill(); // kill -9: the lock's record stays behind
        }
        Assert.True(File.Exists(Path.Combine(dir, RunFolderLock.OwnerFileName)));

        var (code, output) = CliProcess.Run(assets.Directory, 120, Align, "--profile", Offline, "--out", dir, "--max-steps", "2", "--no-eval");

        Assert.True(code == 0, output);
        Assert.Contains($"Took over the run-folder lock of {dir}: process {killedPid} on host {Environment.MachineName}", output);
        Assert.Contains("no longer runs", output);
        Assert.False(File.Exists(Path.Combine(dir, RunFolderLock.OwnerFileName))); // released at the end
    }

    [Fact]
    public void SigtermStopsAlignAfterTheStepWithACheckpointAndAMessage()
    {
        var dir = assets.NewRunFolder();
        using var align = StartAlign(dir, 100_000);
        align.WaitUntil(() => CliProcess.JsonlSteps(dir).Length >= 2, 120, "two steps");
        align.Signal("TERM");
        var code = align.WaitForExit(120);

        Assert.True(code == 3, align.Output); // stopped before the end, resumable
        Assert.Contains("SIGTERM: stopping after this step", align.Output);
        Assert.Contains("run the same command again to resume", align.Output);
        var steps = CliProcess.JsonlSteps(dir);
        Assert.Equal(steps.Length, CliProcess.LatestStep(dir)); // every logged step is in the checkpoint: nothing lost
        AssertStepsOnceInOrder(steps, steps.Length, "stats.jsonl");
        AssertStepsOnceInOrder(CliProcess.CsvSteps(dir), steps.Length, "stats.csv");
    }

    [Fact]
    public void StatisticsStayInOrderAfterAKillBetweenAStatisticsRowAndTheNextCheckpoint()
    {
        var dir = assets.NewRunFolder();
        int checkpointed;
        using (var align = StartAlign(dir, 100_000, checkpointEvery: 3))
        {
            // A checkpoint every 3 steps: kill -9 once rows past a checkpoint exist.
            align.WaitUntil(() => CliProcess.LatestStep(dir) is int s && CliProcess.JsonlSteps(dir).Length > s, 300, "a row after a checkpoint");
            align.Kill();
            checkpointed = CliProcess.LatestStep(dir)!.Value;
        }
        Assert.True(CliProcess.JsonlSteps(dir).Length > checkpointed);

        var last = checkpointed + 3;
        var (code, output) = CliProcess.Run(assets.Directory, 300, Align, "--profile", Offline, "--out", dir, "--max-steps", last.ToString(), "--no-eval");

        Assert.True(code == 0, output);
        Assert.Contains($"Resuming from checkpoint step-{checkpointed:D6}", output);
        AssertStepsOnceInOrder(CliProcess.JsonlSteps(dir), last, "stats.jsonl");
        AssertStepsOnceInOrder(CliProcess.CsvSteps(dir), last, "stats.csv");
    }

    [Fact]
    public void EvaluateOnlyReadsARunThatAlignIsWriting()
    {
        var dir = assets.NewRunFolder();
        using var align = StartAlign(dir, 100_000, checkpointEvery: 2);
        align.WaitUntil(() => CliProcess.LatestStep(dir) is int s && CliProcess.JsonlSteps(dir).Length > s, 300, "a row after a checkpoint");
        // A checkpoint the live run is building (its pid in the name): evaluation must not delete it.
        var building = Path.Combine(dir, "checkpoints", $".step-999999.{align.Id}.tmp");
        Directory.CreateDirectory(building);
        var rowsBefore = CliProcess.JsonlSteps(dir).Length;

        var (code, output) = CliProcess.Run(assets.Directory, 120, "evaluate", "--profile", Offline, "--run", dir, "--articles", "2");

        Assert.True(code == 0, output);
        Assert.Contains("read-only", output);
        Assert.Contains($"process {align.Id}", output);
        Assert.True(Directory.Exists(building));
        Assert.False(File.Exists(Path.Combine(dir, "report.md")));
        var steps = CliProcess.JsonlSteps(dir);
        Assert.True(steps.Length >= rowsBefore, $"stats.jsonl lost rows: {rowsBefore} before evaluate, {steps.Length} after");
        AssertStepsOnceInOrder(steps, steps.Length, "stats.jsonl");
    }

    [Fact]
    public void EvaluateOfAFinishedRunWritesItsReportButLeavesStatisticsAndNeedsNoOptimizerState()
    {
        var dir = assets.NewRunFolder();
        var (code, output) = CliProcess.Run(assets.Directory, 300, Align, "--profile", Offline, "--out", dir, "--max-steps", "2", "--no-eval");
        Assert.True(code == 0, output);
        // Rows past the checkpoint (as a crash leaves them) must survive evaluation: only a resuming align drops them.
        File.AppendAllText(Path.Combine(dir, "stats.jsonl"), File.ReadLines(Path.Combine(dir, "stats.jsonl")).Last().Replace("\"step\":2", "\"step\":3") + "\n");
        var jsonl = File.ReadAllBytes(Path.Combine(dir, "stats.jsonl"));
        var csv = File.ReadAllBytes(Path.Combine(dir, "stats.csv"));
        var latest = Path.Combine(dir, "checkpoints", "step-000002");
        File.Delete(Path.Combine(latest, "optimizer.bin"));

        (code, output) = CliProcess.Run(assets.Directory, 120, "evaluate", "--profile", Offline, "--run", dir, "--articles", "2");

        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(dir, "report.md")), output);
        Assert.Equal(jsonl, File.ReadAllBytes(Path.Combine(dir, "stats.jsonl")));
        Assert.Equal(csv, File.ReadAllBytes(Path.Combine(dir, "stats.csv")));
    }

    [Fact]
    public void EvaluateAndGenerateRefuseBadArgumentsBeforeLoadingOrBuildingAnything()
    {
        // An assets folder with nothing prepared: checking the arguments late would start building the classifiers.
        var empty = Directory.CreateTempSubdirectory("rlhfkit-no-assets-").FullName;
        var missing = Path.Combine(empty, "no-such-run");
        var (code, output) = CliProcess.Run(empty, 60, "evaluate", "--profile", Offline, "--run", missing);
        Assert.Equal(66, code); // a missing input: ExitCodes.NoInput
        Assert.Contains($"error: The run folder {missing} does not exist.", output);
        Assert.DoesNotContain("preparing", output);

        var run = assets.NewRunFolder();
        (code, output) = CliProcess.Run(empty, 60, "evaluate", "--profile", Offline, "--run", run, "--articles", "0");
        Assert.Equal(2, code);
        Assert.Contains("--articles must be at least 2, for a confidence interval (got 0;", output);

        (code, output) = CliProcess.Run(empty, 60, "generate", "--profile", Offline, "a real article", " ");
        Assert.Equal(2, code);
        Assert.Contains("error: text 2 of 2 is empty", output);
    }

    [Fact]
    public void ScoreAndGenerateRefuseEmptyTextsAndSayWhenATextIsCutOff()
    {
        var (code, output) = CliProcess.Run(assets.Directory, 60, "score", "--profile", Offline, "");
        Assert.Equal(2, code);
        Assert.Contains("error: text 1 of 1 is empty", output);

        var longText = string.Join(' ', Enumerable.Repeat("The council approved the new budget for the river bridge.", 400));
        (code, output) = CliProcess.Run(assets.Directory, 60, "score", "--profile", Offline, "short text", longText);
        Assert.True(code == 0, output);
        var warnings = output.Split('\n').Where(l => l.StartsWith("warning: text 2", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(warnings);
        Assert.All(warnings, w => Assert.Contains("reads only the first", w));
        Assert.DoesNotContain("warning: text 1", output);

        (code, output) = CliProcess.Run(assets.Directory, 60, "generate", "--profile", Offline, longText);
        Assert.True(code == 0, output);
        Assert.Single(output.Split('\n'), l => l.StartsWith("warning: article 1", StringComparison.Ordinal) && l.Contains("reads only the first 256"));
    }
}

[CollectionDefinition(Name)]
public sealed class RunFolderProcessCollection : ICollectionFixture<TinyOfflineAssets>
{
    public const string Name = "Run folder processes";
}
