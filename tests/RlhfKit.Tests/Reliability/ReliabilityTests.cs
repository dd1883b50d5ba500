using RlhfKit.Common;
using System.Text.Json.Nodes;
using RlhfKit.Alignment;
using RlhfKit.Generation;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tests.Ppo;
using Xunit.Abstractions;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// Faults during a run, on the whole loop (<see cref="AlignmentRun"/>) with tiny models: a crash (and the debris a
/// kill leaves) or a cancelled run resumes exactly where an uninterrupted run would be; non-finite rewards and losses
/// skip work with a warning and the run goes on; a runaway KL stops the run with its reason; damaged checkpoint state
/// gives errors naming the file; two runs with the same seed are identical.
/// </summary>
public sealed class ReliabilityTests(TinyRunAssets assets, ITestOutputHelper output) : IClassFixture<TinyRunAssets>
{
    sealed class SimulatedCrash : Exception;

    static int[] LoggedSteps(string runFolder) =>
        File.ReadAllLines(Path.Combine(runFolder, "stats.jsonl")).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>()).ToArray();

    static string LatestFolder(string runFolder) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(runFolder, "checkpoints", "latest.json")))!["folder"]!.GetValue<string>();

    static string[] CheckpointFolders(string runFolder) =>
        Directory.GetDirectories(Path.Combine(runFolder, "checkpoints")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyFolder(d, Path.Combine(to, Path.GetFileName(d)));
    }

    [Fact]
    public async Task ACrashedRunResumesFromItsLastCheckpointAndMatchesAnUninterruptedOne()
    {
        var reference = await assets.ReferenceRunAsync();
        var dir = assets.NewRunFolder();
        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), dir))
        {
            // The process dies during step 5's bookkeeping: after stats.jsonl got its row, before any checkpoint.
            run.StepCompleted += l => { if (l.Step == 5) throw new SimulatedCrash(); };
            Assert.Throws<SimulatedCrash>(() => run.Train());
        }
        Assert.Equal([1, 2, 3, 4, 5], LoggedSteps(dir));
        Assert.Equal("step-000004", LatestFolder(dir));

        // What a kill at worse moments leaves as well: a half-built temporary checkpoint, a complete folder that
        // latest.json does not name yet (killed between the rename and latest.json), and a half-written stats line.
        var checkpoints = Path.Combine(dir, "checkpoints");
        var temp = Path.Combine(checkpoints, ".step-000006.99999.tmp");
        Directory.CreateDirectory(temp);
        File.WriteAllText(Path.Combine(temp, "config.json"), "{\"model_ty");
        CopyFolder(Path.Combine(checkpoints, "step-000004"), Path.Combine(checkpoints, "step-000006"));
        File.AppendAllText(Path.Combine(dir, "stats.jsonl"), "{\"step\": 6, \"epoch\": 0, \"batch\": 5, \"sta");

        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), dir))
        {
            Assert.Equal(4, run.Trainer.StepCount);
            Assert.Equal([1, 2, 3, 4], run.Log.Select(l => l.Step));
            Assert.False(Directory.Exists(temp));
            Assert.Equal([1, 2, 3, 4], LoggedSteps(dir));
            run.Train();
            Assert.True(run.Finished);
            TinyRunAssets.AssertSameStatistics(reference, run.Log);
        }
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], LoggedSteps(dir)); // one row per step, none twice
        Assert.Equal("step-000008", LatestFolder(dir));
        Assert.Equal(["step-000006", "step-000008"], CheckpointFolders(dir));
    }

    /// <summary>A notebook's cancelled cell, then a kernel restart: a new run object on the same folder continues.</summary>
    [Fact]
    public async Task ACancelledRunContinuesInANewRunObjectLikeAnUninterruptedOne()
    {
        var reference = await assets.ReferenceRunAsync();
        var dir = assets.NewRunFolder();
        using (var cancel = new CancellationTokenSource())
        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), dir))
        {
            run.StepCompleted += l => { if (l.Step == 3) cancel.Cancel(); };
            run.Train(cancel.Token);
            Assert.Equal(3, run.Trainer.StepCount);
        }
        Assert.Equal("step-000003", LatestFolder(dir));
        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), dir))
        {
            Assert.Equal(3, run.Trainer.StepCount);
            run.Train();
            TinyRunAssets.AssertSameStatistics(reference, run.Log);
        }
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], LoggedSteps(dir));

        // Re-running the finished cell after another restart does nothing and loses nothing.
        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), dir))
        {
            Assert.True(run.Finished);
            run.Train();
            Assert.Equal(8, run.Log.Count);
        }
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], LoggedSteps(dir));
    }

    /// <summary>Killed after the first checkpoint folder was renamed into place, before latest.json existed.</summary>
    [Fact]
    public async Task ACheckpointWithoutLatestJsonIsStillFound()
    {
        var dir = assets.NewRunFolder();
        using (var run = await AlignmentRun.CreateAsync(assets.Config(2), dir)) run.Train();
        File.Delete(Path.Combine(dir, "checkpoints", "latest.json"));
        using var resumed = await AlignmentRun.CreateAsync(assets.Config(2), dir);
        Assert.Equal(2, resumed.Trainer.StepCount);
        Assert.Equal(2, resumed.Log.Count);
    }

    [Fact]
    public async Task TwoRunsWithTheSameSeedAreIdenticalAndAnotherSeedDiffers()
    {
        var reference = await assets.ReferenceRunAsync();
        using (var run = await AlignmentRun.CreateAsync(assets.Config(8), assets.NewRunFolder()))
            TinyRunAssets.AssertSameStatistics(reference, run.Train());
        using (var other = await AlignmentRun.CreateAsync(assets.Config(8, seed: 8), assets.NewRunFolder()))
        {
            var log = other.Train();
            Assert.NotEqual(reference.Select(l => l.Stats["env/reward_mean"]), log.Select(l => l.Stats["env/reward_mean"]));
        }
    }

    /// <summary>The random streams of a step are a fixed function of (seed, step, stream), the same in every process
    /// (they were HashCode.Combine, which .NET randomises per process: a run resumed after a restart drew other samples).</summary>
    [Fact]
    public void DerivedSeedsAreTheSameInEveryProcess()
    {
        Assert.Equal(382_106_720L, Seeding.Derive(0, 0, 1));
        Assert.Equal(1_429_021_425L, Seeding.Derive(7, 3, 100));
        var seeds = Enumerable.Range(0, 50).SelectMany(step => new[] { 1, 100, 101 }.Select(s => Seeding.Derive(7, step, s))).ToList();
        Assert.Equal(seeds.Count, seeds.Distinct().Count());
    }

    /// <summary>The value head of a fresh run came from torch's global generator right after manual_seed, so anything
    /// else drawing from it meanwhile (another thread, a notebook cell) changed the run; it has its own generator now.</summary>
    [Fact]
    public void TheValueHeadsInitialWeightsDependOnlyOnTheSeed()
    {
        var a = new ValueHead(32);
        TorchSharp.torch.manual_seed(1);
        a.Initialize(5);
        var b = new ValueHead(32);
        using (TorchSharp.torch.randn(1000)) { } // someone else draws from the global generator
        b.Initialize(5);
        Assert.True(a.summary.weight!.equal(b.summary.weight!).all().item<bool>());
        Assert.True(a.summary.bias!.equal(b.summary.bias!).all().item<bool>());
        var bound = 1 / Math.Sqrt(32);
        Assert.True(a.summary.weight!.abs().max().item<float>() <= bound);
        b.Initialize(6);
        Assert.False(a.summary.weight!.equal(b.summary.weight!).all().item<bool>());
    }

    /// <summary>Scores one batch in two with NaN and one with +Inf; those batches are skipped with a warning.</summary>
    sealed class FlakyReward : IRewardComponent
    {
        int _calls;
        public string Name => "flaky";
        public float[] Score(IReadOnlyList<string> texts)
        {
            _calls++;
            var scores = new float[texts.Count];
            if (_calls == 2) scores[1] = float.NaN;
            if (_calls == 4) scores[0] = float.PositiveInfinity;
            return scores;
        }
    }

    [Fact]
    public async Task NonFiniteRewardsSkipTheBatchWithAWarningAndTheRunGoesOn()
    {
        var dir = assets.NewRunFolder();
        var warnings = new List<string>();
        using (var run = await AlignmentRun.CreateAsync(assets.Config(4), dir))
        {
            run.Warn = warnings.Add;
            run.Reward.Add(new FlakyReward(), 1.0);
            run.Train();
            Assert.Equal(4, run.Trainer.StepCount);
            Assert.Equal([1, 2, 3, 4], run.Log.Select(l => l.Step));
            Assert.Equal([0, 2, 4, 5], run.Log.Select(l => l.Batch)); // batches 1 and 3 were skipped, later ones trained
            Assert.All(run.Log, l => Assert.All(l.Stats, kv => Assert.True(double.IsFinite(kv.Value), kv.Key)));
        }
        Assert.Equal(2, warnings.Count(w => w.Contains("NaN or infinite") && w.Contains("skipped the batch")));
        Assert.Contains(warnings, w => w.Contains("NaN"));
        Assert.Contains(warnings, w => w.Contains("∞") || w.Contains("Infinity"));
        Assert.Equal([1, 2, 3, 4], LoggedSteps(dir));

        // The checkpoint holds the data position after the skipped batches: a resumed run would not repeat them.
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "checkpoints", LatestFolder(dir), "trainer_state.json")))!;
        Assert.Equal(6, state["next_batch"]!.GetValue<int>());
    }

    /// <summary>A loss that overflows (scores near float's limit) skips its minibatch with a warning; the weights stay finite.</summary>
    [Fact]
    public void AnInfiniteLossSkipsTheUpdateAndLeavesTheWeightsFinite()
    {
        var warnings = new List<string>();
        var policy = PpoTrainerTests.TinyPolicy(9);
        using var trainer = new PpoTrainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 2, PpoEpochs = 1, Seed = 1 }, policy) { Warn = warnings.Add };
        var queries = PpoTrainerTests.Queries(4, 1);
        using (var rollout = trainer.Generate(queries, GenerationConfig.PpoRollout(5)))
        {
            var stats = trainer.Step(queries, rollout.ResponseIds(), [3e38f, -3e38f, 3e38f, 1f]);
            Assert.True(stats.Scalars["ppo/skipped_updates"] > 0);
        }
        Assert.Contains(warnings, w => w.Contains("non-finite"));
        Assert.All(policy.parameters(), p => Assert.True(TorchSharp.torch.isfinite(p).all().item<bool>()));
        // And training carries on normally afterwards.
        using var next = trainer.Generate(queries, GenerationConfig.PpoRollout(5));
        var ok = trainer.Step(queries, next.ResponseIds(), [0.1f, 0.2f, 0.3f, 0.4f]);
        Assert.Equal(0, ok.Scalars["ppo/skipped_updates"]);
        Assert.Equal(2, trainer.StepCount);
    }

    [Fact]
    public async Task ARunawayKlStopsTheRunWithItsReasonAndAResumeRemembersIt()
    {
        // Any KL above -1000 nats counts as "runaway", so the stop is certain: after KlPatience = 2 steps.
        var config = assets.Config(8) with { KlStopThreshold = -1000, KlPatience = 2 };
        var dir = assets.NewRunFolder();
        var warnings = new List<string>();
        using (var run = await AlignmentRun.CreateAsync(config, dir))
        {
            run.Warn = warnings.Add;
            run.Train();
            Assert.Equal(2, run.Trainer.StepCount);
            Assert.False(run.Finished);
            Assert.NotNull(run.StopReason);
            Assert.Contains("KL to the reference has been above -1000 nats for 2 steps", run.StopReason);
            Assert.Contains(run.StopReason, warnings);
        }
        Assert.Equal("step-000002", LatestFolder(dir));
        using (var again = await AlignmentRun.CreateAsync(config, dir))
        {
            again.Train(); // the strikes were saved with the checkpoint: one more runaway step stops it again
            Assert.Equal(3, again.Trainer.StepCount);
            Assert.NotNull(again.StopReason);
        }
    }

    [Fact]
    public async Task DamagedCheckpointStateGivesErrorsNamingTheFile()
    {
        var good = assets.NewRunFolder();
        using (var run = await AlignmentRun.CreateAsync(assets.Config(2), good)) run.Train();
        string Damaged(Action<string> damage)
        {
            var dir = assets.NewRunFolder();
            Directory.Delete(dir);
            CopyFolder(good, dir);
            damage(Path.Combine(dir, "checkpoints"));
            return dir;
        }
        async Task<Exception> Fails(string dir, params string[] mention)
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => AlignmentRun.CreateAsync(assets.Config(2), dir));
            Assert.True(e is InvalidDataException or FileNotFoundException, e.ToString());
            foreach (var m in mention) Assert.Contains(m, e.Message);
            output.WriteLine($"{e.GetType().Name}: {e.Message}");
            return e;
        }

        await Fails(Damaged(c => File.WriteAllText(Path.Combine(c, "latest.json"), "{\"folder\": \"step-000099\", \"step\": 99}")),
            "latest.json", "step-000099", "does not exist");
        await Fails(Damaged(c => File.WriteAllText(Path.Combine(c, "latest.json"), "{\"fol")), "latest.json");
        await Fails(Damaged(c => File.WriteAllText(Path.Combine(c, "latest.json"), "{\"folder\": \"../../etc\", \"step\": 2}")), "latest.json");
        await Fails(Damaged(c => File.WriteAllText(Path.Combine(c, "step-000002", "trainer_state.json"), "{\"step\": 2}")),
            "trainer_state.json", "kl_coef");
        await Fails(Damaged(c => File.Delete(Path.Combine(c, "step-000002", "trainer_state.json"))), "trainer_state.json");
        await Fails(Damaged(c =>
        {
            var weights = Path.Combine(c, "step-000002", "model.safetensors");
            File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..5000]);
        }), "model.safetensors");
    }
}
