using RlhfKit.Loading;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Benchmarks;

/// <summary>
/// The kit's performance benchmarks (CPU): the machine's float32 matmul rate, generation with the key/value cache
/// against recomputing the prefix, one PPO step by phase with the peak process memory, and reward scoring with and
/// without length-sorted batches. Every figure is the median of <see cref="BenchmarkOptions.Repetitions"/> timed runs
/// after <see cref="BenchmarkOptions.Warmup"/> untimed ones (Stopwatch wall time). Models have random weights in the
/// real models' shapes: timing depends on shapes, not on weights.
/// </summary>
public static class PerformanceBenchmark
{
    /// <summary>How the bandwidth is measured, for the report.</summary>
    public const string BandwidthNote = "copy of one float32 buffer far larger than the caches into another, bytes read plus written per second";

    public const string FlopFormula =
        "2*(N_enc + N_xkv)*B*L_prompt + 2*(N_dec - N_xkv + N_lm_head)*B*n_new, N = non-embedding weights of the encoder " +
        "blocks (N_enc), decoder blocks (N_dec; N_xkv = their cross-attention k/v, applied to the encoder output once) " +
        "and the output layer; attention-score products and embedding lookups are not counted";

    public const string PpoFlopFormula =
        "rollout_generation = F; reward_scoring = 2*N_reward*(scored tokens); forward_pass = 2*F (policy and reference); " +
        "optimize_step = ppo_epochs*3*F (backward = 2x forward); F = the generation formula at the step's batch, prompt and response lengths";

    public static BenchmarkReport Run(BenchmarkOptions options)
    {
        var total = Stopwatch.StartNew();
        var log = options.Log ?? (_ => { });
        int defaultThreads = get_num_threads();
        if (options.Threads is int t) set_num_threads(t);
        var sections = options.Sections.Select(s => s.ToLowerInvariant()).ToHashSet();
        foreach (var s in sections)
            if (!BenchmarkOptions.AllSections.Contains(s))
                throw new ArgumentException($"Unknown benchmark section '{s}'. Known: {string.Join(", ", BenchmarkOptions.AllSections)}.");

        var machine = Machine(options, defaultThreads);
        log($"CPU: {machine.Cpu}, {machine.PhysicalCores} cores, torch threads {machine.Threads} (default {defaultThreads})");

        var matmul = new List<MatmulResult>();
        var linear = new List<LinearResult>();
        if (sections.Contains("matmul"))
        {
            matmul.AddRange(MatmulSection(options, log));
            linear.AddRange(LinearSection(options, log));
        }

        // Every model benchmark is stated as a fraction of this: the best matmul rate at the threads in use.
        double peak = matmul.Where(m => m.Threads == get_num_threads()).Select(m => m.Gflops).DefaultIfEmpty(0).Max();
        if (peak == 0 && sections.Overlaps(["generation", "ppo", "reward"])) peak = Matmul(options.MatmulSizes.Max(), options, log).Gflops;

        var generation = new List<GenerationResult>();
        if (sections.Contains("generation")) generation.AddRange(GenerationSection(options, peak, log));
        PpoStepResult? ppo = sections.Contains("ppo") ? PpoSection(options, peak, log) : null;
        RewardScoringResult? reward = sections.Contains("reward") ? RewardSection(options, peak, log) : null;
        AgreementResult? agreement = sections.Contains("agreement") ? AgreementSection(options, log) : null;

        machine = machine with { LoadAverageAtEnd = LoadAverage() };
        return new BenchmarkReport
        {
            Machine = machine, Matmul = matmul, Linear = linear, Generation = generation, Ppo = ppo, Reward = reward, Agreement = agreement,
            TotalSeconds = total.Elapsed.TotalSeconds,
        };
    }

    // ---- timing -----------------------------------------------------------------------------------------------

    /// <summary>Median wall time of <paramref name="reps"/> runs after <paramref name="warmup"/> untimed ones.</summary>
    internal static double Time(int warmup, int reps, Action action)
    {
        for (int i = 0; i < warmup; i++) action();
        var times = new double[Math.Max(1, reps)];
        for (int i = 0; i < times.Length; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        return Median(times);
    }

    /// <summary>Median seconds of one call of a short operation: each timed run repeats it enough times to last about
    /// a quarter of a second (a single call is too short for the clock).</summary>
    static double SecondsPerCall(BenchmarkOptions options, Action op)
    {
        var first = Stopwatch.StartNew();
        op();
        int inner = Math.Max(1, (int)Math.Ceiling(0.25 / Math.Max(first.Elapsed.TotalSeconds, 1e-6)));
        return Time(options.Warmup, options.Repetitions, () => { for (int i = 0; i < inner; i++) op(); }) / inner;
    }

    internal static double Median(IReadOnlyList<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    // ---- machine ----------------------------------------------------------------------------------------------

    static MachineInfo Machine(BenchmarkOptions options, int defaultThreads) => new()
    {
        Cpu = CpuModel(),
        LogicalCpus = Environment.ProcessorCount,
        PhysicalCores = PhysicalCores(),
        DefaultTorchThreads = defaultThreads,
        Threads = get_num_threads(),
        Os = RuntimeInformation.OSDescription,
        DotNet = RuntimeInformation.FrameworkDescription,
        TorchSharp = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "?",
        Device = "cpu",
        LoadAverage = LoadAverage(),
        Quick = options.IsQuick,
        ComputeDtype = DTypeName(options.DType),
        CpuHasBf16 = CpuFeatures.HasBf16,
        Warmup = options.Warmup,
        Repetitions = options.Repetitions,
        StartedUtc = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
    };

    /// <summary>The name bench.json gives a compute type: float32 for null.</summary>
    public static string DTypeName(ScalarType? dtype) => dtype switch
    {
        null or ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        var other => other.ToString()!.ToLowerInvariant(),
    };

    /// <summary>The 1-minute load average (/proc/loadavg); −1 where unknown. Above ~0.5 on an idle machine, other
    /// processes compete for the cores and timings (OpenMP threads especially) suffer.</summary>
    public static double LoadAverage()
    {
        try
        {
            if (File.Exists("/proc/loadavg"))
                return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException) { }
        return -1;
    }

    /// <summary>"model name" of /proc/cpuinfo, else the architecture.</summary>
    public static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>Distinct (physical id, core id) pairs of /proc/cpuinfo, else the logical processor count.</summary>
    public static int PhysicalCores()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var cores = new HashSet<(string, string)>();
                string physical = "0";
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("physical id", StringComparison.Ordinal)) physical = line[(line.IndexOf(':') + 1)..].Trim();
                    else if (line.StartsWith("core id", StringComparison.Ordinal)) cores.Add((physical, line[(line.IndexOf(':') + 1)..].Trim()));
                }
                if (cores.Count > 0) return cores.Count;
            }
        }
        catch (IOException) { }
        return Environment.ProcessorCount;
    }

    // ---- matmul -----------------------------------------------------------------------------------------------

    static IEnumerable<MatmulResult> MatmulSection(BenchmarkOptions options, Action<string> log)
    {
        var results = options.MatmulSizes.Select(n => Matmul(n, options, log)).ToList();
        int threads = get_num_threads();
        if (options.MatmulSingleThread && threads > 1)
        {
            set_num_threads(1);
            try { results.Add(Matmul(options.MatmulSizes.Max(), options, log)); }
            finally { set_num_threads(threads); }
        }
        return results;
    }

    static MatmulResult Matmul(int n, BenchmarkOptions options, Action<string> log)
    {
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        var generator = new Generator(0);
        var a = randn([n, n], generator: generator);
        var b = randn([n, n], generator: generator);
        var seconds = SecondsPerCall(options, () => { using (a.mm(b)) { } });
        var result = new MatmulResult(n, get_num_threads(), seconds, 2.0 * n * n * n / seconds / 1e9);
        log($"matmul {n}x{n}, {result.Threads} thread(s): {result.Gflops:F1} GFLOP/s");
        return result;
    }

    static List<LinearResult> LinearSection(BenchmarkOptions options, Action<string> log)
    {
        var results = new List<LinearResult>();
        int threads = get_num_threads();
        try
        {
            foreach (int t in threads > 1 ? new[] { threads, 1 } : [threads])
            {
                set_num_threads(t);
                foreach (var shape in options.LinearShapes)
                {
                    using var scope = NewDisposeScope();
                    using var noGrad = inference_mode();
                    var generator = new Generator(0);
                    var x = randn([shape.M, shape.K], generator: generator);
                    var w = randn([shape.N, shape.K], generator: generator);
                    var seconds = SecondsPerCall(options, () => { using (nn.functional.linear(x, w)) { } });
                    var r = new LinearResult(shape.Name, shape.M, shape.K, shape.N, t, seconds, 2.0 * shape.M * shape.K * shape.N / seconds / 1e9);
                    log($"linear {r.Name} [{r.M},{r.K}]x[{r.K},{r.N}], {t} thread(s): {seconds * 1000:F3} ms, {r.Gflops:F1} GFLOP/s");
                    results.Add(r);
                }
            }
        }
        finally { set_num_threads(threads); }
        return results;
    }

    // ---- generation -------------------------------------------------------------------------------------------

    static IEnumerable<GenerationResult> GenerationSection(BenchmarkOptions options, double peakGflops, Action<string> log)
    {
        var results = new List<GenerationResult>();
        double bandwidth = MemoryBandwidthGBps(options);
        log($"memory bandwidth (copy, {options.BandwidthElements * 4 >> 20} MiB buffers, {get_num_threads()} threads): {bandwidth:F1} GB/s");
        manual_seed(0);
        // --dtype bfloat16: the model cast to bfloat16, as PpoTrainer.RolloutDType samples rollouts.
        var suffix = options.DType is ScalarType t ? $", {DTypeName(t)}" : "";
        using (var model = new T5ForConditionalGeneration(options.GenerationModel))
        {
            model.eval();
            if (options.DType is ScalarType type) model.to(type);
            results.AddRange(Generation(model, options.GenerationModelName + suffix, options, peakGflops, bandwidth, log));
        }
        if (options.PolicyFolder is string folder)
        {
            using var policy = AutoModel.T5FromPretrained(folder);
            if (options.DType is ScalarType type) policy.to(type);
            results.AddRange(Generation(policy, $"offline policy ({Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}){suffix}", options, peakGflops, bandwidth, log));
        }
        return results;
    }

    internal static long ParameterCount(T5ForConditionalGeneration model) =>
        model.state_dict().Where(kv => !model.TiedWeights.ContainsKey(kv.Key)).Sum(kv => kv.Value.numel());

    /// <summary>Weights applied to every token: the encoder layers (not the embedding tables, nor the head, which
    /// sees one token per text).</summary>
    internal static long NonEmbeddingParameters(RobertaForSequenceClassification model) =>
        model.roberta.encoder.parameters().Sum(p => p.numel());

    /// <summary>Memory bandwidth in GB/s: one float32 buffer of <see cref="BenchmarkOptions.BandwidthElements"/> copied
    /// into another (STREAM's "copy": bytes read plus bytes written, per second), median of the timed runs, at the
    /// threads in use (libtorch splits a large copy across them).</summary>
    internal static double MemoryBandwidthGBps(BenchmarkOptions options)
    {
        using var scope = NewDisposeScope();
        var source = rand(options.BandwidthElements);
        var target = empty(options.BandwidthElements);
        double seconds = Time(options.Warmup, options.Repetitions, () => target.copy_(source));
        return 2.0 * options.BandwidthElements * sizeof(float) / seconds / 1e9;
    }

    /// <summary>Bytes a cached decoding step reads at least, on average over <paramref name="newTokens"/> steps: every
    /// weight the new token passes through once (the decoder blocks without their cross-attention k/v, which ran once
    /// on the encoder output; the final norm; the output layer), and the keys and values it attends to (per decoder
    /// block, the cross-attention's over the prompt and, on average, (n + 1) / 2 self-attention positions), for
    /// <paramref name="batch"/> rows, in the model's element size. Activations, written and read back in cache, are not
    /// counted: this is the floor memory traffic puts under a step.</summary>
    internal static double DecodingStepBytes(T5ForConditionalGeneration model, int batch, int promptTokens, int newTokens)
    {
        var w = GenerationWeights(model);
        var c = model.Config;
        double keysAndValues = 2.0 * c.NumDecoderLayers * batch * c.NumHeads * c.DKv * (promptTokens + (newTokens + 1) / 2.0);
        return (w.Decoder - w.CrossKv + w.Head + keysAndValues) * model.lm_head.weight!.ElementSize;
    }

    /// <summary>A T5's weights by the part they play in generation: the encoder (blocks and final norm), the decoder
    /// (blocks and final norm), the decoder's cross-attention keys/values (within the decoder's; applied once, to the
    /// encoder output) and the output layer.</summary>
    static (long Encoder, long Decoder, long CrossKv, long Head) GenerationWeights(T5ForConditionalGeneration model)
    {
        static long Count(nn.Module m) => m.parameters().Sum(p => p.numel());
        long crossKv = 0;
        foreach (var block in model.decoder.block)
        {
            var cross = ((T5LayerCrossAttention)block.layer[1]).EncDecAttention;
            crossKv += cross.k.weight!.numel() + cross.v.weight!.numel();
        }
        return (Count(model.encoder.block) + Count(model.encoder.final_layer_norm), Count(model.decoder.block) + Count(model.decoder.final_layer_norm),
            crossKv, model.lm_head.weight!.numel());
    }

    /// <summary>Model FLOPs of generating <paramref name="newTokens"/> for <paramref name="batch"/> prompts of
    /// <paramref name="promptTokens"/> (see <see cref="FlopFormula"/>).</summary>
    internal static double ModelFlop(T5ForConditionalGeneration model, int batch, int promptTokens, int newTokens)
    {
        var (encoder, decoder, crossKv, head) = GenerationWeights(model);
        return 2.0 * (encoder + crossKv) * batch * promptTokens + 2.0 * (decoder - crossKv + head) * batch * newTokens;
    }

    static List<GenerationResult> Generation(T5ForConditionalGeneration model, string name, BenchmarkOptions options, double peakGflops, double bandwidthGBps, Action<string> log)
    {
        using var scope = NewDisposeScope();
        int batch = options.GenerationBatch, prompt = options.PromptTokens;
        var c = model.Config;
        var generator = new Generator(1);
        var ids = randint(Math.Max(2, c.EosTokenId + 1), c.VocabSize, [batch, prompt], generator: generator, dtype: int64);
        ids.index_fill_(1, tensor(new long[] { prompt - 1 }), c.EosTokenId); // prompts end with eos, as tokenized ones do
        var mask = ones_like(ids);
        long parameters = ParameterCount(model);

        double encoderSeconds = Time(options.Warmup, options.Repetitions, () =>
        {
            using var noGrad = no_grad();
            using var s = NewDisposeScope();
            model.Encode(ids, mask);
        });

        var results = new List<GenerationResult>();
        for (int k = 0; k < options.NewTokens.Count; k++)
        {
            int n = options.NewTokens[k];
            // Pure sampling with eos masked, so every row produces exactly n tokens.
            var config = new GenerationConfig { DoSample = true, TopK = 0, TopP = 1, MaxNewTokens = n, MinNewTokens = n, Seed = 1 };
            double cached = Time(options.Warmup, options.Repetitions, () =>
            {
                using var output = Seq2SeqGenerator.Generate(model, ids, mask, config);
                if (output.Sequences.shape[1] != n + 1) throw new InvalidOperationException($"expected {n} new tokens, got {output.Sequences.shape[1] - 1}");
            });
            // The baseline is slow (quadratic in n): warm it up once, at the first length only.
            double recompute = Time(k == 0 ? options.Warmup : 0, options.RecomputeRepetitions, () =>
            {
                using var sequences = RecomputeGeneration.Generate(model, ids, mask, config);
                if (sequences.shape[1] != n + 1) throw new InvalidOperationException($"expected {n} new tokens, got {sequences.shape[1] - 1}");
            });
            double flop = ModelFlop(model, batch, prompt, n);
            double generated = (double)batch * n;
            double msPerStep = Math.Max(cached - encoderSeconds, 0) / n * 1000;
            double bytes = DecodingStepBytes(model, batch, prompt, n);
            double boundMs = bytes / (bandwidthGBps * 1e9) * 1000;
            var r = new GenerationResult
            {
                Model = name, Parameters = parameters, Batch = batch, PromptTokens = prompt, NewTokens = n,
                EncoderSeconds = encoderSeconds, CachedSeconds = cached, RecomputeSeconds = recompute,
                CachedTokensPerSecond = generated / cached, RecomputeTokensPerSecond = generated / recompute,
                CachedMsPerStep = msPerStep, RecomputeMsPerStep = Math.Max(recompute - encoderSeconds, 0) / n * 1000,
                CacheSpeedup = recompute / cached,
                ModelGflop = flop / 1e9, CachedGflops = flop / cached / 1e9, RecomputeGflops = flop / recompute / 1e9,
                CachedFractionOfPeak = flop / cached / 1e9 / peakGflops, RecomputeFractionOfPeak = flop / recompute / 1e9 / peakGflops,
                FlopFormula = FlopFormula,
                MemoryBandwidthGBps = bandwidthGBps, DecodingStepBytes = bytes, BandwidthBoundMsPerStep = boundMs,
                CachedFractionOfBandwidth = msPerStep > 0 ? boundMs / msPerStep : 0,
            };
            log($"generate {name}, {n} new tokens: cached {r.CachedTokensPerSecond:F1} tok/s, recompute {r.RecomputeTokensPerSecond:F1} tok/s (x{r.CacheSpeedup:F2}), {r.CachedFractionOfPeak:P1} of matmul peak, {r.CachedFractionOfBandwidth:P1} of the bandwidth bound ({r.BandwidthBoundMsPerStep:F2} ms/step)");
            results.Add(r);
        }
        return results;
    }

    // ---- PPO step ---------------------------------------------------------------------------------------------

    static PpoStepResult PpoSection(BenchmarkOptions options, double peakGflops, Action<string> log)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        bool reset = ProcessMemory.ResetPeak();
        long start = ProcessMemory.CurrentBytes();
        var o = options;
        int batch = o.Ppo.BatchSize;

        manual_seed(0);
        var policy = new Seq2SeqLMWithValueHead(new T5ForConditionalGeneration(o.PpoModel));
        // --dtype bfloat16: bfloat16 rollouts (a cast copy), a bfloat16 reward model, the update under bfloat16 autocast.
        using var trainer = new PpoTrainer(o.Ppo, policy) { RolloutDType = o.DType, UpdateDType = o.DType };
        using var classifier = new RobertaForSequenceClassification(o.RewardModel);
        var tokenizer = new SyntheticWordTokenizer(o.RewardModel.VocabSize);
        var pipeline = new TextClassificationPipeline(classifier, tokenizer, batchSize: 16, dtype: o.DType);
        long models = ProcessMemory.CurrentBytes();
        long policyParameters = ParameterCount(policy.pretrained_model);
        long rewardParameters = classifier.parameters().Sum(p => p.numel());

        var random = new Random(0);
        long[] Query(int length) => [.. Enumerable.Range(0, length - 1).Select(_ => (long)random.Next(2, o.PpoModel.VocabSize)), o.PpoModel.EosTokenId];

        var phases = new Dictionary<string, List<double>>();
        var phasePeaks = new Dictionary<string, long>();
        var flops = new Dictionary<string, double>();
        void Record(string key, double seconds) { if (!phases.TryGetValue(key, out var l)) phases[key] = l = []; l.Add(seconds); }

        // Warm-up on short prompts (loads kernels, sizes the allocator), then the measured steps.
        for (int step = 0; step < 1 + o.PpoSteps; step++)
        {
            bool warm = step == 0;
            int promptTokens = warm ? Math.Min(16, o.PpoPromptTokens) : o.PpoPromptTokens;
            int newTokens = warm ? Math.Min(4, o.PpoNewTokens) : o.PpoNewTokens;
            var queries = Enumerable.Range(0, batch).Select(_ => Query(promptTokens)).ToList();
            var peaks = new Dictionary<string, long>();
            // Each phase's own high-water mark (where the reset works; otherwise the running maximum).
            T Phase<T>(string name, Func<T> run)
            {
                ProcessMemory.ResetPeak();
                var value = run();
                peaks[name] = ProcessMemory.PeakBytes();
                return value;
            }
            var clock = Stopwatch.StartNew();
            // Rollouts: pure sampling (TRL's advice); eos masked so every response has the configured length.
            var generation = GenerationConfig.PpoRollout(newTokens) with { MinNewTokens = newTokens };
            var responses = Phase("rollout_generation", () => { using var rollout = trainer.Generate(queries, generation); return rollout.ResponseIds(); });
            double generate = clock.Elapsed.TotalSeconds;

            clock.Restart();
            var texts = responses.Select(r => tokenizer.Decode(r.Select(i => (int)i))).ToList();
            var scores = Phase("reward_scoring", () => pipeline.LabelScores(texts, "LABEL_1"));
            double score = clock.Elapsed.TotalSeconds;

            clock.Restart();
            var stats = Phase("trainer_step", () => trainer.Step(queries, responses, scores));
            double update = clock.Elapsed.TotalSeconds;
            foreach (var (k, v) in peaks) phasePeaks[k] = Math.Max(phasePeaks.GetValueOrDefault(k), v);
            if (warm) continue;

            Record("rollout_generation", generate);
            Record("reward_scoring", score);
            foreach (var (key, value) in stats.Scalars)
                if (key.StartsWith("time/ppo/", StringComparison.Ordinal)) Record(key, value);
            Record("trainer_step", update);
            Record("step_total", generate + score + update);
            double f = ModelFlop(policy.pretrained_model, batch, promptTokens, newTokens);
            flops["rollout_generation"] = f;
            flops["reward_scoring"] = 2.0 * NonEmbeddingParameters(classifier) * texts.Sum(t => tokenizer.Encode(t, true, pipeline.MaxTokens).Count);
            flops["time/ppo/forward_pass"] = 2 * f;
            flops["time/ppo/optimize_step"] = o.Ppo.PpoEpochs * 3 * f;
            flops["trainer_step"] = flops["time/ppo/forward_pass"] + flops["time/ppo/optimize_step"];
            flops["step_total"] = flops["rollout_generation"] + flops["reward_scoring"] + flops["trainer_step"];
            log($"PPO step: generate {generate:F1} s, score {score:F1} s, PpoTrainer.Step {update:F1} s; peak memory (MiB) " +
                string.Join(", ", peaks.Select(kv => $"{kv.Key} {kv.Value / 1048576.0:F0}")));
        }

        long peak = Math.Max(ProcessMemory.PeakBytes(), phasePeaks.Values.DefaultIfEmpty(0).Max());
        trainer.Reference.Dispose();
        policy.Dispose();
        var seconds = phases.ToDictionary(kv => kv.Key, kv => Median(kv.Value));
        return new PpoStepResult
        {
            PhaseGflop = flops.ToDictionary(kv => kv.Key, kv => kv.Value / 1e9),
            PhaseFractionOfPeak = flops.Where(kv => seconds.GetValueOrDefault(kv.Key) > 0).ToDictionary(kv => kv.Key, kv => kv.Value / seconds[kv.Key] / 1e9 / peakGflops),
            MatmulPeakGflops = peakGflops,
            Model = o.PpoModelName, RewardModel = o.RewardModelName,
            PolicyParameters = policyParameters, RewardParameters = rewardParameters,
            Batch = batch, MiniBatch = o.Ppo.MiniBatchSize, GradientAccumulationSteps = o.Ppo.GradientAccumulationSteps, PpoEpochs = o.Ppo.PpoEpochs,
            PromptTokens = o.PpoPromptTokens, NewTokens = o.PpoNewTokens, MeasuredSteps = o.PpoSteps,
            PhaseSeconds = seconds,
            PeakMemoryBytes = peak, PeakMemoryByPhaseBytes = phasePeaks, StartMemoryBytes = start, ModelsMemoryBytes = models, PeakResetAtStart = reset,
            PeakMemorySource = ProcessMemory.Source,
        };
    }

    // ---- reward scoring ---------------------------------------------------------------------------------------

    /// <summary>Texts of evenly spread word counts between <paramref name="minWords"/> and <paramref name="maxWords"/>,
    /// in a shuffled (seeded) order.</summary>
    internal static List<string> SyntheticTexts(int count, int minWords, int maxWords, int vocabSize, int seed = 0)
    {
        var random = new Random(seed);
        var lengths = Enumerable.Range(0, count).Select(i => count == 1 ? minWords : minWords + (int)Math.Round((double)(maxWords - minWords) * i / (count - 1))).ToArray();
        random.Shuffle(lengths);
        return lengths.Select(n => string.Join(' ', Enumerable.Range(0, n).Select(_ => $"w{random.Next(4, vocabSize)}"))).ToList();
    }

    /// <summary>Tokens the model processes when <paramref name="lengths"/> are batched in the given order.</summary>
    static long PaddedTokens(IReadOnlyList<int> lengths, int batchSize) =>
        lengths.Chunk(batchSize).Sum(c => (long)c.Max() * c.Length);

    static RewardScoringResult RewardSection(BenchmarkOptions options, double peakGflops, Action<string> log)
    {
        var o = options;
        manual_seed(0);
        using var classifier = new RobertaForSequenceClassification(o.RewardModel);
        var tokenizer = new SyntheticWordTokenizer(o.RewardModel.VocabSize);
        var pipeline = new TextClassificationPipeline(classifier, tokenizer, batchSize: o.RewardBatchSize, dtype: o.DType);
        var texts = SyntheticTexts(o.RewardTexts, o.RewardMinWords, o.RewardMaxWords, o.RewardModel.VocabSize);
        var lengths = texts.Select(t => tokenizer.Encode(t, true, pipeline.MaxTokens).Count).ToList();

        // Warm up on a slice (kernels and allocator), then time the whole set both ways.
        for (int i = 0; i < o.Warmup; i++) pipeline.Logits(texts.Take(o.RewardBatchSize).ToList());
        pipeline.SortByLength = true;
        double sorted = Time(0, o.RewardRepetitions, () => pipeline.Logits(texts));
        pipeline.SortByLength = false;
        double unsorted = Time(0, o.RewardRepetitions, () => pipeline.Logits(texts));
        pipeline.SortByLength = true;
        double flop = 2.0 * NonEmbeddingParameters(classifier) * lengths.Sum(l => (long)l);

        var result = new RewardScoringResult
        {
            Model = o.RewardModelName, Texts = texts.Count, MinWords = o.RewardMinWords, MaxWords = o.RewardMaxWords, BatchSize = o.RewardBatchSize,
            RealTokens = lengths.Sum(l => (long)l),
            SortedPaddedTokens = PaddedTokens(lengths.OrderByDescending(l => l).ToList(), o.RewardBatchSize),
            UnsortedPaddedTokens = PaddedTokens(lengths, o.RewardBatchSize),
            TokenLengths = lengths,
            ModelGflop = flop / 1e9, MatmulPeakGflops = peakGflops,
            SortedFractionOfPeak = flop / sorted / 1e9 / peakGflops, UnsortedFractionOfPeak = flop / unsorted / 1e9 / peakGflops,
            SortedSeconds = sorted, UnsortedSeconds = unsorted,
            SortedTextsPerSecond = texts.Count / sorted, UnsortedTextsPerSecond = texts.Count / unsorted,
            SortingSpeedup = unsorted / sorted,
        };
        log($"reward scoring: sorted {result.SortedTextsPerSecond:F1} texts/s, unsorted {result.UnsortedTextsPerSecond:F1} texts/s (x{result.SortingSpeedup:F2}), {result.SortedFractionOfPeak:P1} of matmul peak sorted");
        return result;
    }

    // ---- agreement --------------------------------------------------------------------------------------------

    static AgreementResult AgreementSection(BenchmarkOptions options, Action<string> log)
    {
        var o = options;
        var policies = new List<PolicyAgreement>();
        manual_seed(0);
        using (var model = new T5ForConditionalGeneration(o.AgreementModel))
            policies.Add(PolicyAgreementOf(model, o.AgreementModelName, o, log));
        if (o.PolicyFolder is string folder)
        {
            using var trained = AutoModel.T5FromPretrained(folder);
            policies.Add(PolicyAgreementOf(trained, $"offline policy ({Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}, trained)", o, log));
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(0);
        using var classifier = new RobertaForSequenceClassification(o.AgreementRewardModel);
        classifier.eval();
        var generator = new Generator(3);
        // Random tokens above the special ones (<s> 0, <pad> 1, </s> 2), no padding.
        var ids = randint(3, o.AgreementRewardModel.VocabSize, [o.AgreementRows, o.AgreementPromptTokens + o.AgreementResponseTokens], generator: generator, dtype: int64);
        var mask = ones_like(ids);
        Tensor Logits() { using var output = classifier.Forward(ids, mask); return output.Logits.to_type(float32); }
        var full = Logits();
        Tensor autocast;
        using (Autocast.Enable(ScalarType.BFloat16)) autocast = Logits();
        classifier.to(ScalarType.BFloat16); // as TextClassificationPipeline's dtype casts it
        var cast = Logits();
        var result = new AgreementResult
        {
            Rows = o.AgreementRows, PromptTokens = o.AgreementPromptTokens, ResponseTokens = o.AgreementResponseTokens,
            Policies = policies,
            RewardModel = o.AgreementRewardModelName,
            RewardLogitMeanAbsDiffCast = (cast - full).abs().mean().item<float>(),
            RewardLogitMeanAbsDiffAutocast = (autocast - full).abs().mean().item<float>(),
            RewardLogitMeanAbs = full.abs().mean().item<float>(),
        };
        log($"agreement, reward {result.RewardModel}: logits mean |diff| cast {result.RewardLogitMeanAbsDiffCast:G3}, autocast {result.RewardLogitMeanAbsDiffAutocast:G3} (mean |logit| {result.RewardLogitMeanAbs:G3})");
        return result;
    }

    /// <summary>float32 vs bfloat16 (autocast, and a cast copy) of one policy's teacher-forced pass over responses it
    /// sampled itself in float32.</summary>
    static PolicyAgreement PolicyAgreementOf(T5ForConditionalGeneration model, string name, BenchmarkOptions o, Action<string> log)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        var c = model.Config;
        var generator = new Generator(2);
        var ids = randint(Math.Max(2, c.EosTokenId + 1), c.VocabSize, [o.AgreementRows, o.AgreementPromptTokens], generator: generator, dtype: int64);
        ids.index_fill_(1, tensor(new long[] { o.AgreementPromptTokens - 1 }), c.EosTokenId);
        var mask = ones_like(ids);
        var config = new GenerationConfig { DoSample = true, TopK = 0, TopP = 1, MaxNewTokens = o.AgreementResponseTokens, MinNewTokens = o.AgreementResponseTokens, Seed = 2 };
        Tensor sequences;
        using (var sampled = Seq2SeqGenerator.Generate(model, ids, mask, config)) sequences = sampled.Sequences.alias();
        var decoderInputs = sequences[.., ..^1];
        var targets = sequences[.., 1..].unsqueeze(-1);
        Tensor LogSoftmax(T5ForConditionalGeneration m)
        {
            using var output = m.Forward(ids, mask, decoderInputs);
            return output.Logits.to_type(float32).log_softmax(-1);
        }
        var full = LogSoftmax(model);
        Tensor autocast;
        using (Autocast.Enable(ScalarType.BFloat16)) autocast = LogSoftmax(model);
        using var copy = new T5ForConditionalGeneration(c);
        foreach (var (key, target) in copy.state_dict()) target.copy_(model.state_dict()[key]);
        copy.to(ScalarType.BFloat16);
        copy.eval();
        var cast = LogSoftmax(copy);

        var tokens32 = full.gather(-1, targets);
        double Kl(Tensor q) => (full.exp() * (full - q)).sum(-1).mean().item<float>();
        var result = new PolicyAgreement
        {
            Model = name,
            LogprobMeanAbsDiffAutocast = (autocast.gather(-1, targets) - tokens32).abs().mean().item<float>(),
            LogprobMeanAbsDiffCast = (cast.gather(-1, targets) - tokens32).abs().mean().item<float>(),
            LogprobMaxAbsDiffAutocast = (autocast.gather(-1, targets) - tokens32).abs().max().item<float>(),
            LogprobMeanAbs = tokens32.abs().mean().item<float>(),
            NextTokenKlAutocast = Kl(autocast),
            NextTokenKlCast = Kl(cast),
            NextTokenEntropy = (-(full.exp() * full).sum(-1)).mean().item<float>(),
        };
        log($"agreement, {name}: token log-prob mean |diff| autocast {result.LogprobMeanAbsDiffAutocast:G3}, cast {result.LogprobMeanAbsDiffCast:G3} (mean |log p| {result.LogprobMeanAbs:G3}); " +
            $"next-token KL autocast {result.NextTokenKlAutocast:G3}, cast {result.NextTokenKlCast:G3} nats (entropy {result.NextTokenEntropy:G3})");
        return result;
    }
}
