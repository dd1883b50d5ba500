using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Benchmarks;
using RlhfKit.Generation;
using RlhfKit.Tests.Models;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Benchmarks;

/// <summary>The benchmark's quick sizes end to end. Nothing here is a timed pass/fail threshold: the checks are the
/// structure of bench.json, that every figure is a positive finite number derived as documented from the measured
/// times, and that the recompute baseline does the cached path's work (the same tokens).</summary>
public class BenchmarkTests
{
    static readonly Lazy<BenchmarkReport> Quick = new(() =>
    {
        var policy = Path.Combine(OfflineAssets.DefaultDirectory(), "policy");
        return PerformanceBenchmark.Run(BenchmarkOptions.Quick(File.Exists(Path.Combine(policy, "config.json")) ? policy : null));
    });

    /// <summary>Numbers that may legitimately be zero or negative (−1 = unknown).</summary>
    static readonly HashSet<string> MayBeNonPositive = ["load_average", "load_average_at_end"];

    [Fact]
    public void QuickRunWritesEverySectionWithPositiveFiniteNumbers()
    {
        var report = Quick.Value;
        var dir = Directory.CreateTempSubdirectory("rlhf-bench-");
        try
        {
            var files = BenchmarkOutput.Save(report, dir.FullName);
            Assert.Equal(["bench.json", "bench.md"], files.Select(Path.GetFileName));
            using var doc = JsonDocument.Parse(File.ReadAllText(files[0]));
            var root = doc.RootElement;
            foreach (var section in new[] { "machine", "matmul", "generation", "ppo", "reward", "agreement" })
                Assert.True(root.TryGetProperty(section, out var value) && value.ValueKind != JsonValueKind.Null, $"bench.json lacks '{section}'");
            Assert.NotEmpty(root.GetProperty("matmul").EnumerateArray());
            // Each linear shape at the benchmark's threads, and again at one thread when that differs.
            int threads = report.Machine.Threads;
            Assert.Equal(BenchmarkOptions.Quick().LinearShapes.Count * (threads > 1 ? 2 : 1), root.GetProperty("linear").GetArrayLength());
            Assert.All(report.Linear, l => Assert.Equal(2.0 * l.M * l.K * l.N / l.MedianSeconds / 1e9, l.Gflops, 6));
            Assert.True(root.GetProperty("machine").GetProperty("threads").GetInt32() >= 1);

            int numbers = 0;
            void Walk(JsonElement e, string path)
            {
                switch (e.ValueKind)
                {
                    case JsonValueKind.Object:
                        foreach (var p in e.EnumerateObject()) Walk(p.Value, path + "." + p.Name);
                        break;
                    case JsonValueKind.Array:
                        int i = 0;
                        foreach (var item in e.EnumerateArray()) Walk(item, $"{path}[{i++}]");
                        break;
                    case JsonValueKind.Number:
                        numbers++;
                        var x = e.GetDouble();
                        Assert.True(double.IsFinite(x), $"{path} = {x} is not finite");
                        if (!MayBeNonPositive.Contains(path[(path.LastIndexOf('.') + 1)..])) Assert.True(x > 0, $"{path} = {x} is not positive");
                        break;
                }
            }
            Walk(root, "$");
            Assert.True(numbers > 50, $"only {numbers} numbers in bench.json");

            // Every PPO phase is there, with a peak memory per phase.
            var phases = report.Ppo!.PhaseSeconds.Keys.ToHashSet();
            foreach (var key in new[] { "rollout_generation", "reward_scoring", "time/ppo/forward_pass", "time/ppo/optimize_step", "time/ppo/calc_stats", "step_total" })
                Assert.Contains(key, phases);
            Assert.Equal(["reward_scoring", "rollout_generation", "trainer_step"], report.Ppo.PeakMemoryByPhaseBytes.Keys.Order());
            Assert.True(report.Ppo.PeakMemoryBytes >= report.Ppo.PeakMemoryByPhaseBytes.Values.Max());

            // The Markdown carries every section, and the JSON reads back.
            var md = File.ReadAllText(files[1]);
            foreach (var heading in new[] { "matmul", "Linear layers", "Generation", "PPO step", "Reward scoring", "Peak process memory" }) Assert.Contains(heading, md);
            var back = BenchmarkOutput.FromJson(File.ReadAllText(files[0]));
            Assert.Equal(report.Generation.Count, back.Generation.Count);
            Assert.Equal(report.Ppo.PeakMemoryBytes, back.Ppo!.PeakMemoryBytes);
        }
        finally { dir.Delete(recursive: true); }
    }

    /// <summary>The recompute baseline samples exactly the tokens the cached generator samples (same seed, same
    /// processing), so the benchmark's cached-against-recompute figures compare the same work, and the key/value cache
    /// changes nothing but the time. Which is faster is the benchmark's to measure, not a test's.</summary>
    [Theory]
    [InlineData(12, 12)] // eos masked: every row runs the full length
    [InlineData(0, 20)]  // eos allowed: finished rows pad
    public void RecomputeBaselineSamplesTheCachedGeneratorsTokens(int minNewTokens, int maxNewTokens)
    {
        using var scope = NewDisposeScope();
        using var model = TestModels.LoadT5(Fixtures.PathOf("t5-gated"), "model.safetensors");
        var ids = tensor(new long[] { 5, 9, 13, 17, 21, 1, 8, 6, 4, 1, 0, 0 }).reshape(2, 6);
        var mask = (ids != 0).to_type(int64);
        var config = new GenerationConfig
        {
            DoSample = true, TopK = 0, TopP = 1, MinNewTokens = minNewTokens, MaxNewTokens = maxNewTokens, Seed = 7,
        };
        using var cached = Seq2SeqGenerator.Generate(model, ids, mask, config);
        var recomputed = RecomputeGeneration.Generate(model, ids, mask, config);
        Assert.Equal(cached.Sequences.shape, recomputed.shape);
        Assert.Equal(cached.Sequences.data<long>().ToArray(), recomputed.data<long>().ToArray());
        if (minNewTokens > 0) Assert.Equal(minNewTokens + 1, recomputed.shape[1]);
    }

    /// <summary><c>bench --dtype bfloat16</c>: the compute type is recorded in bench.json and bench.md, the model sections
    /// run (their models in bfloat16), and the agreement figures are bfloat16-sized: positive (the two types differ)
    /// and small next to what they are differences of (8 mantissa bits: a few 2^-8 relative).</summary>
    [Fact]
    public void Bfloat16RunRecordsItsDtypeAndAgreementFigures()
    {
        var options = BenchmarkOptions.Quick() with
        {
            DType = ScalarType.BFloat16, Sections = ["generation", "ppo", "reward", "agreement"], Repetitions = 1, Warmup = 0, RecomputeRepetitions = 1, RewardRepetitions = 1,
        };
        var report = PerformanceBenchmark.Run(options);
        Assert.Equal("bfloat16", report.Machine.ComputeDtype);
        Assert.Equal(RlhfKit.Models.CpuFeatures.HasBf16, report.Machine.CpuHasBf16);
        using var doc = JsonDocument.Parse(BenchmarkOutput.ToJson(report));
        Assert.Equal("bfloat16", doc.RootElement.GetProperty("machine").GetProperty("compute_dtype").GetString());
        Assert.All(report.Generation, g => Assert.EndsWith(", bfloat16", g.Model));
        Assert.True(report.Ppo!.PhaseSeconds["step_total"] > 0);
        Assert.True(report.Reward!.SortedSeconds > 0);
        Assert.Contains("compute type bfloat16", BenchmarkOutput.ToMarkdown(report));
        Assert.Contains("bfloat16 agreement", BenchmarkOutput.ToMarkdown(report));
        Assert.Equal("float32", PerformanceBenchmark.Run(BenchmarkOptions.Quick() with { Sections = ["agreement"] }).Machine.ComputeDtype);

        var a = report.Agreement!;
        var policy = Assert.Single(a.Policies); // no policy folder given
        Assert.InRange(policy.LogprobMeanAbsDiffAutocast, 1e-6, 8 * Math.Pow(2, -8));
        Assert.InRange(policy.LogprobMeanAbsDiffCast, 1e-6, 8 * Math.Pow(2, -8));
        Assert.True(policy.LogprobMaxAbsDiffAutocast >= policy.LogprobMeanAbsDiffAutocast);
        Assert.InRange(policy.NextTokenKlAutocast, 1e-9, 1e-2);
        Assert.InRange(policy.NextTokenKlCast, 1e-9, 1e-2);
        Assert.InRange(policy.NextTokenEntropy, 0.1, Math.Log(options.AgreementModel.VocabSize) + 1e-3);
        Assert.InRange(a.RewardLogitMeanAbsDiffCast, 1e-7, 8 * Math.Pow(2, -8) * (a.RewardLogitMeanAbs + 1));
        Assert.InRange(a.RewardLogitMeanAbsDiffAutocast, 1e-7, 8 * Math.Pow(2, -8) * (a.RewardLogitMeanAbs + 1));
    }

    [Fact]
    public void GenerationFiguresFollowFromTheMeasuredTimes()
    {
        var report = Quick.Value;
        var options = BenchmarkOptions.Quick();
        var random = report.Generation.Where(g => g.Model == options.GenerationModelName).ToList();
        Assert.Equal(options.NewTokens, random.Select(g => g.NewTokens));
        Assert.All(report.Generation, g =>
        {
            Assert.Equal(g.Batch * g.NewTokens / g.CachedSeconds, g.CachedTokensPerSecond, 6);
            Assert.Equal(g.RecomputeSeconds / g.CachedSeconds, g.CacheSpeedup, 9);
            Assert.Equal(Math.Max(g.CachedSeconds - g.EncoderSeconds, 0) / g.NewTokens * 1000, g.CachedMsPerStep, 9);
            Assert.True(g.MemoryBandwidthGBps > 0, "no bandwidth measured");
            Assert.Equal(g.DecodingStepBytes / (g.MemoryBandwidthGBps * 1e9) * 1000, g.BandwidthBoundMsPerStep, 9);
            Assert.Equal(g.BandwidthBoundMsPerStep / g.CachedMsPerStep, g.CachedFractionOfBandwidth, 9);
        });
    }

    /// <summary>The bytes of a decoding step, counted by hand for a small T5: decoder weights without the
    /// cross-attention k/v, the output layer, and the keys and values attended to on average.</summary>
    [Fact]
    public void DecodingStepBytesCountTheWeightsAndTheKeysAndValuesAStepReads()
    {
        var c = new RlhfKit.Models.T5Config
        {
            VocabSize = 100, DModel = 16, DKv = 4, DFf = 32, NumLayers = 1, NumDecoderLayers = 2, NumHeads = 2,
            FeedForwardProj = "relu", TieWordEmbeddings = false,
        };
        using var model = new RlhfKit.Models.T5ForConditionalGeneration(c);
        long inner = c.NumHeads * c.DKv;
        // per decoder block: self-attention q, k, v, o + its norm; cross-attention q, o (k, v ran once) + its norm;
        // feed-forward wi, wo + its norm; one relative-position table in the first block; then the final norm and lm_head.
        long perBlock = 4 * inner * c.DModel + c.DModel + 2 * inner * c.DModel + c.DModel + 2 * c.DFf * c.DModel + c.DModel;
        long weights = c.NumDecoderLayers * perBlock + c.RelativeAttentionNumBuckets * c.NumHeads + c.DModel + c.VocabSize * c.DModel;
        int batch = 3, prompt = 10, newTokens = 5;
        double keysAndValues = 2.0 * c.NumDecoderLayers * batch * inner * (prompt + 3.0);
        Assert.Equal((weights + keysAndValues) * 4, RlhfKit.Benchmarks.PerformanceBenchmark.DecodingStepBytes(model, batch, prompt, newTokens), 6);
    }

    [Fact]
    public void FractionsOfPeakCountTheModelFlopsOfEachPhase()
    {
        var report = Quick.Value;
        var ppo = report.Ppo!;
        var g = ppo.PhaseGflop;
        // Forward and backward passes in the PPO update: 3x a forward pass per epoch; two models in the no-grad pass.
        Assert.Equal(ppo.PpoEpochs * 3 * g["rollout_generation"], g["time/ppo/optimize_step"], 9);
        Assert.Equal(2 * g["rollout_generation"], g["time/ppo/forward_pass"], 9);
        Assert.Equal(g["rollout_generation"] + g["reward_scoring"] + g["time/ppo/forward_pass"] + g["time/ppo/optimize_step"], g["step_total"], 9);
        foreach (var (phase, fraction) in ppo.PhaseFractionOfPeak)
            Assert.Equal(g[phase] / ppo.PhaseSeconds[phase] / ppo.MatmulPeakGflops, fraction, 9);

        var w = report.Reward!;
        Assert.Equal(w.Texts, w.TokenLengths.Count);
        Assert.Equal(w.RealTokens, w.TokenLengths.Sum(l => (long)l));
        Assert.Equal(w.ModelGflop / w.SortedSeconds / w.MatmulPeakGflops, w.SortedFractionOfPeak, 9);
        Assert.Equal(w.ModelGflop / w.UnsortedSeconds / w.MatmulPeakGflops, w.UnsortedFractionOfPeak, 9);
    }

    [Fact]
    public void RobertaFlopsCountTheEncoderWeightsOnly()
    {
        var options = BenchmarkOptions.Quick();
        using var model = new RlhfKit.Models.RobertaForSequenceClassification(options.RewardModel);
        var c = options.RewardModel;
        // Per layer: q, k, v, attention output (h*h + h each), two layer norms (2h each), intermediate and output dense.
        long h = c.HiddenSize, i = c.IntermediateSize;
        long perLayer = 4 * (h * h + h) + 2 * 2 * h + (h * i + i) + (i * h + h);
        Assert.Equal(c.NumHiddenLayers * perLayer, PerformanceBenchmark.NonEmbeddingParameters(model));
    }

    [Fact]
    public void SyntheticTokenizerRoundTripsWordIdsAndCountsOneTokenPerWord()
    {
        var tokenizer = new SyntheticWordTokenizer(1000);
        var ids = tokenizer.Encode("w10 w999 hello w5000");
        Assert.Equal(6, ids.Count);
        Assert.Equal([0, 10, 999], ids.Take(3));
        Assert.Equal(2, ids[^1]);
        Assert.InRange(ids[3], 4, 999);
        Assert.Equal("w10 w999", tokenizer.Decode([10, 999, 1]));
        Assert.Equal(5, tokenizer.Encode(string.Join(' ', Enumerable.Repeat("w7", 10)), maxLength: 5).Count);
    }

    [Fact]
    public void SyntheticTextsSpanTheRequestedWordCounts()
    {
        var texts = PerformanceBenchmark.SyntheticTexts(9, 10, 50, 1000);
        var counts = texts.Select(t => t.Split(' ').Length).Order().ToList();
        Assert.Equal([10, 15, 20, 25, 30, 35, 40, 45, 50], counts);
        Assert.NotEqual(counts, texts.Select(t => t.Split(' ').Length)); // shuffled: unsorted order is not already sorted
    }

    [Fact]
    public void ProcessMemoryReadsThePeakAndCurrentResidentSize()
    {
        long current = ProcessMemory.CurrentBytes();
        Assert.True(current > 1 << 20);
        Assert.True(ProcessMemory.PeakBytes() >= current / 2); // the peak may have been reset a moment ago
        Assert.Equal(3.0, PerformanceBenchmark.Median([5, 1, 3]));
        Assert.Equal(2.0, PerformanceBenchmark.Median([1, 3]));
    }
}
