using System.Diagnostics;
using System.Globalization;
using RlhfKit.Alignment;
using TorchSharp;
using Xunit.Abstractions;

namespace RlhfKit.Tests.Reliability;

/// <summary>Runs alone (after the parallel tests): the resident set is the whole process's.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LongRunCollection
{
    public const string Name = "Long runs (alone)";
}

/// <summary>
/// Memory over a long run: hundreds of steps of the whole loop (generate, score with the reward classifier, PPO,
/// statistics, checkpoints every 10 steps) on tiny models, sampling the live tensor count of the training thread,
/// the process's resident set and the managed heap. Live tensors must stay exactly flat after the first steps
/// (optimiser state exists from step 1); the resident set is reported, and bounded loosely (the allocators keep
/// freed pages, so it is not exact). <c>RLHFKIT_LONG_RUN_STEPS</c> runs longer (default 200).
/// <c>RLHFKIT_LONG_RUN_REPORT</c> names a file to append the table to.
/// </summary>
[Collection(LongRunCollection.Name)]
public sealed class LongRunMemoryTests(TinyRunAssets assets, ITestOutputHelper output) : IClassFixture<TinyRunAssets>
{
    static long RssKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return -1;
    }

    sealed record Sample(int Step, long LiveTensors, long RssKb, long ManagedKb, double Seconds);

    [LinuxFact("reads the resident size from /proc/self/status")]
    public async Task MemoryStaysFlatOverHundredsOfSteps()
    {
        var steps = int.TryParse(Environment.GetEnvironmentVariable("RLHFKIT_LONG_RUN_STEPS"), out var n) && n >= 50 ? n : 200;
        var config = assets.Config(steps) with { CheckpointEvery = 10, Epochs = steps / 300 + 1 }; // 375 batches of 4 an epoch
        using var run = await AlignmentRun.CreateAsync(config, assets.NewRunFolder());
        var samples = new List<Sample>();
        var clock = Stopwatch.StartNew();
        void Take(int step)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            samples.Add(new Sample(step, DisposeScopeManager.Statistics.ThreadTotalLiveCount, RssKb(), GC.GetTotalMemory(true) / 1024, clock.Elapsed.TotalSeconds));
        }
        var at = new HashSet<int> { 1, 10, 25 };
        for (int s = 50; s <= steps; s += 50) at.Add(s);
        at.Add(steps);
        run.StepCompleted += l => { if (at.Contains(l.Step)) Take(l.Step); };
        run.Train();
        Assert.Equal(steps, run.Trainer.StepCount);

        var table = new List<string> { $"steps | live tensors | RSS MiB | managed MiB | seconds", "---:|---:|---:|---:|---:" };
        table.AddRange(samples.Select(x => $"{x.Step} | {x.LiveTensors} | {x.RssKb / 1024.0:F1} | {x.ManagedKb / 1024.0:F1} | {x.Seconds:F1}"));
        foreach (var line in table) output.WriteLine(line);
        var report = Environment.GetEnvironmentVariable("RLHFKIT_LONG_RUN_REPORT");
        if (!string.IsNullOrEmpty(report)) File.AppendAllLines(report, table.Prepend($"{steps} steps, {Environment.ProcessorCount} CPUs, {DateTime.UtcNow:u}"));

        // Live tensors: exactly flat once the optimiser state exists.
        var settled = samples.Where(x => x.Step >= 10).ToList();
        Assert.All(settled, x => Assert.Equal(settled[0].LiveTensors, x.LiveTensors));
        // Resident set and managed heap: no steady growth between step 50 and the end (loose bounds; a leak of one
        // small tensor per step is caught by the count above, one of the policy's size per step would add >100 MiB here).
        var mid = samples.First(x => x.Step == 50);
        var end = samples[^1];
        Assert.True(end.RssKb - mid.RssKb < 96 * 1024, $"RSS grew from {mid.RssKb / 1024} MiB at step 50 to {end.RssKb / 1024} MiB at step {end.Step}");
        Assert.True(end.ManagedKb - mid.ManagedKb < 32 * 1024, $"managed heap grew from {mid.ManagedKb / 1024} MiB at step 50 to {end.ManagedKb / 1024} MiB at step {end.Step}");
    }
}
