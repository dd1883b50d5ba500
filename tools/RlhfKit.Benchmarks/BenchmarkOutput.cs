using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RlhfKit.Benchmarks;

/// <summary>Writes a <see cref="BenchmarkReport"/> as bench.json and as a Markdown table (bench.md).</summary>
public static class BenchmarkOutput
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // NaN or infinity would make the serialiser throw: a benchmark that produced one is broken, not quiet.
    };

    public static string ToJson(BenchmarkReport report) => JsonSerializer.Serialize(report, JsonOptions);

    public static BenchmarkReport FromJson(string json) =>
        JsonSerializer.Deserialize<BenchmarkReport>(json, JsonOptions) ?? throw new InvalidDataException("empty benchmark JSON");

    /// <summary>Writes bench.json and bench.md into <paramref name="folder"/> (created if needed); returns their paths.</summary>
    public static IReadOnlyList<string> Save(BenchmarkReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        var json = Path.Combine(folder, "bench.json");
        var md = Path.Combine(folder, "bench.md");
        AtomicFile.WriteAllText(json, ToJson(report));
        AtomicFile.WriteAllText(md, ToMarkdown(report));
        return [json, md];
    }

    static string F(double x, int digits = 2) => x.ToString("F" + digits, CultureInfo.InvariantCulture);
    static string MiB(long bytes) => (bytes / 1048576.0).ToString("F0", CultureInfo.InvariantCulture);

    /// <summary>A heading and a Markdown table; the first column left-aligned, the others (numbers) right-aligned.</summary>
    static void Table(StringBuilder sb, string heading, string[] columns, IEnumerable<string[]> rows)
    {
        sb.AppendLine(heading).AppendLine();
        sb.AppendLine("| " + string.Join(" | ", columns) + " |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", columns.Length - 1)));
        foreach (var row in rows) sb.AppendLine("| " + string.Join(" | ", row) + " |");
        sb.AppendLine();
    }

    public static string ToMarkdown(BenchmarkReport r)
    {
        var m = r.Machine;
        var sb = new StringBuilder();
        sb.AppendLine($"## RlhfKit benchmark{(m.Quick ? " (quick sizes)" : "")}");
        sb.AppendLine();
        sb.AppendLine($"CPU: {m.Cpu}, {m.PhysicalCores} physical cores / {m.LogicalCpus} logical; torch threads {m.Threads} (TorchSharp default {m.DefaultTorchThreads}); " +
                      $"{m.Os}; {m.DotNet}; TorchSharp {m.TorchSharp}; device {m.Device}; compute type {m.ComputeDtype} (CPU bfloat16 support: {(m.CpuHasBf16 ? "yes" : "no")}); load average {F(m.LoadAverage)} at the start, {F(m.LoadAverageAtEnd)} at the end. Median of {m.Repetitions} timed runs after {m.Warmup} warm-up; {m.StartedUtc}; whole run {F(r.TotalSeconds, 0)} s.");
        sb.AppendLine();

        if (r.Matmul.Count > 0)
            Table(sb, "### Machine limit: float32 matmul (2n³ FLOP)", ["n", "threads", "ms per product", "GFLOP/s"],
                r.Matmul.Select(x => new[] { $"{x.N}", $"{x.Threads}", F(x.MedianSeconds * 1000), F(x.Gflops, 1) }));
        if (r.Linear.Count > 0)
            Table(sb, "### Linear layers at the models' shapes (y = x·Wᵀ, 2mkn FLOP)", ["shape", "x", "W", "threads", "ms", "GFLOP/s"],
                r.Linear.Select(x => new[] { x.Name, $"{x.M}×{x.K}", $"{x.N}×{x.K}", $"{x.Threads}", F(x.MedianSeconds * 1000, 3), F(x.Gflops, 1) }));

        if (r.Generation.Count > 0)
        {
            sb.AppendLine("### Generation: key/value cache vs recomputing the prefix");
            sb.AppendLine();
            foreach (var g in r.Generation.GroupBy(g => g.Model))
            {
                var first = g.First();
                sb.AppendLine($"**{g.Key}**: {F(first.Parameters / 1e6)}M parameters, batch {first.Batch}, prompt {first.PromptTokens} tokens, sampling with eos masked; encoder pass {F(first.EncoderSeconds * 1000, 1)} ms.");
                sb.AppendLine();
                sb.AppendLine("| new tokens | cached s | cached tok/s | cached ms/step | recompute s | recompute tok/s | recompute ms/step | recompute / cached | cached GFLOP/s | cached % of matmul peak | MB read per step | bandwidth-bound ms/step | cached % of bandwidth bound |");
                sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
                foreach (var x in g)
                    sb.AppendLine($"| {x.NewTokens} | {F(x.CachedSeconds, 3)} | {F(x.CachedTokensPerSecond, 1)} | {F(x.CachedMsPerStep)} | {F(x.RecomputeSeconds, 3)} | {F(x.RecomputeTokensPerSecond, 1)} | {F(x.RecomputeMsPerStep)} | {F(x.CacheSpeedup)}x | {F(x.CachedGflops)} | {F(x.CachedFractionOfPeak * 100, 1)}% | {F(x.DecodingStepBytes / 1e6, 1)} | {F(x.BandwidthBoundMsPerStep, 2)} | {F(x.CachedFractionOfBandwidth * 100, 1)}% |");
                sb.AppendLine();
            }
            sb.AppendLine($"Model FLOPs = {PerformanceBenchmark.FlopFormula}. \"ms/step\" = (total − encoder pass) / new tokens: flat when time is linear in the new tokens.");
            sb.AppendLine($"Bandwidth bound = bytes a step reads at least (decoder weights without the cross-attention k/v, the output layer, and the keys and values attended to, on average over the new tokens) / measured memory bandwidth ({F(r.Generation[0].MemoryBandwidthGBps, 1)} GB/s, a {PerformanceBenchmark.BandwidthNote}).");
            sb.AppendLine();
        }

        if (r.Ppo is { } p)
        {
            sb.AppendLine("### One PPO step");
            sb.AppendLine();
            sb.AppendLine($"Policy {p.Model} ({F(p.PolicyParameters / 1e6)}M parameters, plus a frozen reference copy), reward {p.RewardModel} ({F(p.RewardParameters / 1e6)}M); " +
                          $"batch {p.Batch}, prompts {p.PromptTokens} tokens, {p.NewTokens} new tokens; minibatch {p.MiniBatch} × {p.GradientAccumulationSteps} accumulation steps, {p.PpoEpochs} PPO epochs; median of {p.MeasuredSteps} step(s) after a warm-up step.");
            sb.AppendLine();
            sb.AppendLine("| phase | seconds | share of step | model GFLOP | % of matmul peak |");
            sb.AppendLine("|---|---:|---:|---:|---:|");
            double total = p.PhaseSeconds.TryGetValue("step_total", out var t) ? t : double.NaN;
            foreach (var (k, v) in p.PhaseSeconds)
                sb.AppendLine($"| {k} | {F(v)} | {(k is "step_total" or "time/ppo/total" || double.IsNaN(total) ? "" : F(v / total * 100, 1) + "%")} | " +
                              $"{(p.PhaseGflop.TryGetValue(k, out var g) ? F(g, 1) : "")} | {(p.PhaseFractionOfPeak.TryGetValue(k, out var fr) ? F(fr * 100, 1) + "%" : "")} |");
            sb.AppendLine();
            sb.AppendLine($"Model FLOPs: {p.PpoFlopFormula}; matmul peak {F(p.MatmulPeakGflops, 1)} GFLOP/s.");
            sb.AppendLine();
            sb.AppendLine($"Peak process memory: **{MiB(p.PeakMemoryBytes)} MiB** ({p.PeakMemorySource}{(p.PeakResetAtStart ? ", reset at the start of this section" : ", whole process")}); " +
                          $"{MiB(p.StartMemoryBytes)} MiB before the models were built, {MiB(p.ModelsMemoryBytes)} MiB with policy, reference and reward model built; " +
                          $"peak by phase: {string.Join(", ", p.PeakMemoryByPhaseBytes.Select(kv => $"{kv.Key} {MiB(kv.Value)} MiB"))}.");
            sb.AppendLine();
        }

        if (r.Reward is { } w)
        {
            sb.AppendLine("### Reward scoring");
            sb.AppendLine();
            sb.AppendLine($"{w.Model}, {w.Texts} synthetic texts of {w.MinWords}–{w.MaxWords} words (one token per word), batch {w.BatchSize}; {w.RealTokens} real tokens.");
            sb.AppendLine();
            sb.AppendLine("| batching | tokens processed (with padding) | seconds | texts/s | % of matmul peak |");
            sb.AppendLine("|---|---:|---:|---:|---:|");
            sb.AppendLine($"| length-sorted | {w.SortedPaddedTokens} | {F(w.SortedSeconds)} | {F(w.SortedTextsPerSecond, 1)} | {F(w.SortedFractionOfPeak * 100, 1)}% |");
            sb.AppendLine($"| input order | {w.UnsortedPaddedTokens} | {F(w.UnsortedSeconds)} | {F(w.UnsortedTextsPerSecond, 1)} | {F(w.UnsortedFractionOfPeak * 100, 1)}% |");
            sb.AppendLine();
            sb.AppendLine($"Sorting by length: {F(w.SortingSpeedup)}x. Model FLOPs = 2 × encoder weights × real tokens = {F(w.ModelGflop, 1)} GFLOP (useful work; padding not counted); matmul peak {F(w.MatmulPeakGflops, 1)} GFLOP/s.");
            sb.AppendLine();
        }
        if (r.Agreement is { } a)
        {
            sb.AppendLine("### bfloat16 agreement with float32");
            sb.AppendLine();
            sb.AppendLine($"A fixed batch: {a.Rows} rows, {a.PromptTokens}-token prompts, {a.ResponseTokens}-token responses each policy sampled in float32; " +
                          "teacher-forced log-probabilities in float32, under bfloat16 autocast (the update's `--update-dtype bfloat16`) and with the weights cast to bfloat16 (rollouts' `--dtype bfloat16`).");
            sb.AppendLine();
            sb.AppendLine("| policy | token log-prob mean \\|diff\\| autocast | cast | max \\|diff\\| autocast | mean \\|log p\\| | next-token KL(fp32‖bf16) autocast, nats | cast | fp32 entropy, nats |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var x in a.Policies)
                sb.AppendLine($"| {x.Model} | {G(x.LogprobMeanAbsDiffAutocast)} | {G(x.LogprobMeanAbsDiffCast)} | {G(x.LogprobMaxAbsDiffAutocast)} | {G(x.LogprobMeanAbs)} | {G(x.NextTokenKlAutocast)} | {G(x.NextTokenKlCast)} | {G(x.NextTokenEntropy)} |");
            sb.AppendLine();
            sb.AppendLine($"Reward model {a.RewardModel} on {a.PromptTokens + a.ResponseTokens} random tokens per row: logits mean |diff| {G(a.RewardLogitMeanAbsDiffCast)} cast to bfloat16, " +
                          $"{G(a.RewardLogitMeanAbsDiffAutocast)} under autocast (mean |logit| {G(a.RewardLogitMeanAbs)}).");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    static string G(double x) => x.ToString("G3", CultureInfo.InvariantCulture);
}
