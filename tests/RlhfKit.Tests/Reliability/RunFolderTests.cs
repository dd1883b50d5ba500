using System.Diagnostics;
using System.Text.Json.Nodes;
using RlhfKit.Alignment;
using RlhfKit.Notebooks;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// What a run leaves and shows, in-process on the tiny models: temporaries of dead writers go on the next start while a
/// live writer's stay; a checkpoint that cannot be written (a full disk) keeps the previous one and says how much space
/// is needed; the time left is smoothed and hidden for the first steps.
/// </summary>
public sealed class RunFolderTests(TinyRunAssets assets) : IClassFixture<TinyRunAssets>
{
    /// <summary>A process id that ran and ended: no process has it now (ids are not reused this quickly).</summary>
    static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    static string Guid32() => Guid.NewGuid().ToString("N");

    [Fact]
    public async Task TemporariesOfDeadWritersAreRemovedOnTheNextStartAndALiveWritersAreKept()
    {
        var dir = assets.NewRunFolder();
        var checkpoints = Directory.CreateDirectory(Path.Combine(dir, "checkpoints")).FullName;
        var dead = DeadPid();
        using var live = Process.Start(new ProcessStartInfo("sleep", "120") { UseShellExecute = false })!;
        try
        {
            string File(string folder, string name) { var p = Path.Combine(folder, name); System.IO.File.WriteAllText(p, "partial"); return p; }
            var deadLatest = File(checkpoints, $".latest.json.{dead}.{Guid32()}.tmp");
            var liveLatest = File(checkpoints, $".latest.json.{live.Id}.{Guid32()}.tmp");
            var deadCsv = File(dir, $".stats.csv.{dead}.{Guid32()}.tmp");
            var liveCsv = File(dir, $".stats.csv.{live.Id}.{Guid32()}.tmp");
            var deadFolder = Directory.CreateDirectory(Path.Combine(checkpoints, $".step-000002.{dead}.tmp")).FullName;
            var liveFolder = Directory.CreateDirectory(Path.Combine(checkpoints, $".step-000002.{live.Id}.tmp")).FullName;
            var notOurs = File(dir, "notes.tmp"); // no pid in the name: not the kit's

            using (await AlignmentRun.CreateAsync(assets.Config(2), dir)) { }

            Assert.False(System.IO.File.Exists(deadLatest));
            Assert.False(System.IO.File.Exists(deadCsv));
            Assert.False(Directory.Exists(deadFolder));
            Assert.True(System.IO.File.Exists(liveLatest));
            Assert.True(System.IO.File.Exists(liveCsv));
            Assert.True(Directory.Exists(liveFolder));
            Assert.True(System.IO.File.Exists(notOurs));
        }
        finally { live.Kill(); live.WaitForExit(); }
    }

    [Fact]
    public async Task AFailedCheckpointKeepsThePreviousOneAndSaysHowMuchSpaceIsNeeded()
    {
        var dir = assets.NewRunFolder();
        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), dir))
        {
            int saves = 0;
            // The second checkpoint (step 4) hits a full disk after its files were written.
            run.Checkpoints.AfterWrite = _ => { if (++saves == 2) throw new IOException("No space left on device", 28); };
            run.Checkpoints.FreeSpace = _ => 1024;
            var e = Assert.Throws<CheckpointWriteException>(() => run.Train());

            Assert.Contains("step-000004", e.Message);
            Assert.Contains("No space left on device", e.Message);
            Assert.Contains("The previous checkpoint step-000002 (step 2) is intact", e.Message);
            Assert.Contains("the volume has 0.0 MiB free", e.Message);
            Assert.True(e.Needed > 10_000, $"a checkpoint takes {e.Needed} bytes?");
            Assert.Contains($"about {e.Needed / (1024.0 * 1024):F1} MiB", e.Message);
        }
        var checkpoints = Path.Combine(dir, "checkpoints");
        Assert.Equal("step-000002", JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoints, "latest.json")))!["folder"]!.GetValue<string>());
        Assert.Equal(["step-000002"], Directory.GetDirectories(checkpoints).Select(Path.GetFileName));

        using var resumed = await AlignmentRun.CreateAsync(assets.Config(8), dir);
        Assert.Equal(2, resumed.Trainer.StepCount);
        resumed.Train();
        Assert.Equal(Enumerable.Range(1, 8), CliProcess.JsonlSteps(dir));
    }

    [Fact]
    public async Task TheTimeLeftIsHiddenForTheFirstStepsThenShownByTheProgressViews()
    {
        var seen = new List<RunProgress>();
        using var run = await AlignmentRun.CreateAsync(assets.Config(6), assets.NewRunFolder());
        run.Progress += seen.Add;
        run.Train();

        var generating = seen.Where(p => p.Phase == "generating").ToList();
        Assert.Equal([0, 1, 2, 3, 4, 5], generating.Select(p => p.Step));
        Assert.All(generating.Take(3), p => Assert.Null(p.Remaining));
        Assert.All(generating.Skip(3), p => Assert.NotNull(p.Remaining));
        Assert.DoesNotContain("left", new ProgressView(generating[1]).ToString());
        Assert.Contains("left)", new ProgressView(generating[4]).ToString());
    }

    [Fact]
    public void TheTimeLeftFollowsTheMedianOfRecentStepsSoOneOddStepDoesNotMoveIt()
    {
        var pace = new TimeLeftEstimate(window: 5, minimumSteps: 3);
        pace.Add(TimeSpan.FromSeconds(10));
        pace.Add(TimeSpan.FromSeconds(10));
        Assert.Null(pace.Remaining(10));
        pace.Add(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(100), pace.Remaining(10));
        pace.Add(TimeSpan.FromSeconds(95)); // one slow step (another job took the cores for a moment)
        Assert.Equal(TimeSpan.FromSeconds(100), pace.Remaining(10));
        pace.Add(TimeSpan.FromSeconds(1)); // and one fast one
        Assert.Equal(TimeSpan.FromSeconds(100), pace.Remaining(10));
        foreach (var _ in Enumerable.Range(0, 5)) pace.Add(TimeSpan.FromSeconds(20)); // a lasting change of pace is followed
        Assert.Equal(TimeSpan.FromSeconds(200), pace.Remaining(10));
        Assert.Equal(TimeSpan.Zero, pace.Remaining(0));
    }

    [Fact]
    public void ALockIsSharedWithinAProcessAndFreedWithItsLastHolder()
    {
        var dir = assets.NewRunFolder();
        var first = RunFolderLock.Acquire(dir, "test");
        var second = RunFolderLock.Acquire(dir, "test"); // a notebook cell run again in the same kernel
        Assert.True(first.Fresh);
        Assert.False(second.Fresh);
        first.Dispose();
        Assert.True(File.Exists(Path.Combine(dir, RunFolderLock.OwnerFileName)));
        second.Dispose();
        Assert.False(File.Exists(Path.Combine(dir, RunFolderLock.OwnerFileName)));
        using var again = RunFolderLock.Acquire(dir, "test");
        Assert.True(again.Fresh);
    }
}
