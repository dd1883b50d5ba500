using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Analysis;
using RlhfKit.Data;
using RlhfKit.Hub;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Alignment;

/// <summary>Where a run stands, for progress bars.</summary>
public sealed record RunProgress(int Step, int TotalSteps, int Epoch, TimeSpan Elapsed, TimeSpan? Remaining, double? RewardMean, double? Kl, string Phase);

/// <summary>One PPO step's statistics (TRL's keys, each reward component's mean, timings) and a sample.</summary>
public sealed record StepLog(int Step, int Epoch, int Batch, IReadOnlyDictionary<string, double> Stats, string SampleQuery, string SampleResponse);

/// <summary>
/// The workshop's loop as one object: epochs of batches of generate → score → PPO step, statistics logged as they
/// happen (<c>stats.jsonl</c>, <c>stats.csv</c>, and <see cref="StatisticsFrame"/>), resumable checkpoints
/// (<c>checkpoints/</c>, written atomically), and progress through <see cref="Progress"/>.
/// A run started on a folder that holds a checkpoint continues from it with the same data order and random streams.
/// </summary>
public sealed class AlignmentRun : IDisposable
{
    const string LatestFile = "latest.json";
    static readonly string[] PolicyFiles = ["config.json", "spiece.model"];
    static readonly string[] PolicyOptionalFiles = ["tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.json"];

    readonly List<StepLog> _log = [];
    readonly Dictionary<string, byte[]> _tokenizerFiles;
    int _epoch, _nextBatch;
    int _klStrikes;
    /// <summary>(step, epoch, next batch) of the last checkpoint written or resumed from.</summary>
    (int Step, int Epoch, int NextBatch)? _checkpointed;

    AlignmentRun(AlignmentConfig config, string outputDir, PpoTrainer trainer, IHfTokenizer tokenizer, CompositeReward reward,
        NewsDataset train, NewsDataset eval, Dictionary<string, byte[]> tokenizerFiles)
    {
        Config = config; OutputDir = outputDir; Trainer = trainer; Tokenizer = tokenizer; Reward = reward;
        TrainData = train; EvalData = eval; _tokenizerFiles = tokenizerFiles;
        trainer.Warn = m => Warn?.Invoke(m);
    }

    public AlignmentConfig Config { get; }
    public string OutputDir { get; }
    public PpoTrainer Trainer { get; }
    public IHfTokenizer Tokenizer { get; }
    public CompositeReward Reward { get; }
    public NewsDataset TrainData { get; }
    public NewsDataset EvalData { get; }
    public Seq2SeqLMWithValueHead Policy => Trainer.Policy;
    /// <summary>The frozen starting point: the KL penalty's reference and the evaluation's base model.</summary>
    public T5ForConditionalGeneration Reference => Trainer.Reference;
    public IReadOnlyList<StepLog> Log => _log;
    public int StepsPerEpoch => TrainData.Count / Config.Ppo.BatchSize;
    public int TotalSteps => Math.Min(Config.MaxSteps ?? int.MaxValue, StepsPerEpoch * Config.Epochs);
    public bool Finished => Trainer.StepCount >= TotalSteps;

    /// <summary>Why the last <see cref="Train"/> stopped before <see cref="TotalSteps"/> (the KL ran away), or null.</summary>
    public string? StopReason { get; private set; }

    public event Action<RunProgress>? Progress;
    public event Action<StepLog>? StepCompleted;
    public Action<string>? Warn { get; set; }

    /// <summary>The profile's composite reward: each classifier's raw logit of its label, weighted (downloaded once,
    /// then cached; on <see cref="AlignmentConfig.Device"/> in <see cref="AlignmentConfig.InferenceDType"/>).</summary>
    public static async Task<CompositeReward> LoadRewardAsync(AlignmentConfig config, HubClient? hub = null,
        Action<string>? status = null, IProgress<HubDownloadProgress>? download = null)
    {
        var device = DeviceFromName(config.Device);
        var reward = new CompositeReward();
        foreach (var spec in config.Rewards)
        {
            status?.Invoke($"Loading the reward model {spec.Model} ({spec.Name} = {spec.Weight} x {spec.Label})");
            var pipeline = await TextClassificationPipeline.FromPretrainedAsync(spec.Model, device, hub: hub, progress: download, dtype: config.InferenceScalarType());
            reward.Add(new ClassifierLogitReward(spec.Name, pipeline, spec.Label), spec.Weight);
        }
        return reward;
    }

    /// <summary>Loads the policy, its tokenizer, the reward classifiers and the data named by <paramref name="config"/>,
    /// and resumes from the last checkpoint in <paramref name="outputDir"/> if there is one.</summary>
    public static async Task<AlignmentRun> CreateAsync(AlignmentConfig config, string outputDir, HubClient? hub = null,
        Action<string>? status = null, IProgress<HubDownloadProgress>? download = null)
    {
        config.Validate();
        Directory.CreateDirectory(outputDir);
        var device = DeviceFromName(config.Device);
        status?.Invoke($"Loading the policy {config.Policy}");
        var policyFolder = await Pretrained.ResolveAsync(config.Policy, PolicyFiles, PolicyOptionalFiles, weights: true, hub, progress: download);
        var tokenizer = AutoTokenizer.FromPretrained(policyFolder);
        var tokenizerFiles = PolicyFiles.Concat(PolicyOptionalFiles).Where(f => f != "config.json" && File.Exists(Path.Combine(policyFolder, f)))
            .ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(policyFolder, f)));

        var reward = await LoadRewardAsync(config, hub, status, download);

        status?.Invoke($"Loading the articles ({config.Data})");
        var (train, eval) = await LoadDataAsync(config, hub);

        RemoveTemporaryCheckpoints(outputDir);
        var latest = ReadLatest(outputDir) ?? NewestCheckpoint(outputDir);
        manual_seed(config.Ppo.Seed); // module construction draws from the global generator (the weights are then loaded)
        var reference = AutoModel.T5FromPretrained(policyFolder, device);
        Seq2SeqLMWithValueHead policy;
        if (latest is null)
        {
            policy = new Seq2SeqLMWithValueHead(AutoModel.T5FromPretrained(policyFolder, device));
            policy.v_head.Initialize(config.Ppo.Seed); // not from the global generator: runs with one seed start alike
            if (device.type != DeviceType.CPU) policy.to(device); // the new value head is built on the CPU
        }
        else policy = Seq2SeqLMWithValueHead.FromPretrained(Path.Combine(outputDir, "checkpoints", latest.Folder), device);
        foreach (var p in reference.parameters()) p.requires_grad = false;
        var trainer = new PpoTrainer(config.Ppo, policy, reference) { RolloutDType = config.InferenceScalarType() };
        foreach (var warning in config.Generation.KlBiasWarnings()) status?.Invoke("Warning: " + warning);

        var run = new AlignmentRun(config, outputDir, trainer, tokenizer, reward, train, eval, tokenizerFiles);
        if (latest is not null)
        {
            status?.Invoke($"Resuming from checkpoint {latest.Folder} (step {latest.Step})");
            run.Resume(latest);
        }
        else
        {
            AtomicFile.WriteAllText(run.StatsJsonlPath, "");
        }
        return run;
    }

    /// <summary>The profile's articles of one split: the kit's own (<c>data/news</c>) offline, else the Hub dataset
    /// (downloaded once, then cached).</summary>
    public static async Task<NewsDataset> LoadArticlesAsync(AlignmentConfig config, string split, HubClient? hub = null)
    {
        if (config.Data == "offline") return NewsDataset.LoadOffline(split);
        var client = hub ?? new HubClient();
        try { return await NewsDataset.FromHubAsync(client, config.Data, split); }
        finally { if (hub is null) client.Dispose(); }
    }

    static async Task<(NewsDataset Train, NewsDataset Eval)> LoadDataAsync(AlignmentConfig config, HubClient? hub)
    {
        using var owned = hub is null && config.Data != "offline" ? new HubClient() : null; // one client for both splits
        var train = await LoadArticlesAsync(config, "train", hub ?? owned);
        var eval = await LoadArticlesAsync(config, "test", hub ?? owned);
        if (config.EvalLength is (int min, int max)) eval = eval.FilterByLength(min, max);
        eval = eval.Take(config.EvalArticles);
        if (train.Count < config.Ppo.BatchSize)
            throw new InvalidDataException($"The training data has {train.Count} articles, fewer than one batch of {config.Ppo.BatchSize}.");
        return (train, eval);
    }

    public static Device DeviceFromName(string name) => name switch
    {
        "cpu" => CPU,
        _ when name.StartsWith("cuda", StringComparison.Ordinal) => cuda.is_available()
            ? new Device(name)
            : throw new InvalidOperationException($"Device '{name}' was asked for, but CUDA is not available in this build (TorchSharp-cpu) or on this machine; see environment.md."),
        _ => throw new ArgumentException($"Unknown device '{name}' (use cpu, cuda or cuda:N)."),
    };

    string StatsJsonlPath => Path.Combine(OutputDir, "stats.jsonl");
    string CheckpointsDir => Path.Combine(OutputDir, "checkpoints");

    /// <summary>Runs steps until the configured epochs or <see cref="AlignmentConfig.MaxSteps"/> are done, or until
    /// <paramref name="cancellation"/> fires (then the current step finishes and a checkpoint is written).</summary>
    public IReadOnlyList<StepLog> Train(CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        int startStep = Trainer.StepCount;
        StopReason = null;
        var batches = TrainData.EpochBatches(Config.Ppo.BatchSize, Config.Epochs, Config.Ppo.Seed, _epoch, _nextBatch);
        foreach (var (epoch, index, articles) in batches)
        {
            if (Finished || cancellation.IsCancellationRequested) break;
            Report(epoch, clock, startStep, "generating");
            var log = TrainStep(epoch, index, articles);
            (_epoch, _nextBatch) = index + 1 >= StepsPerEpoch ? (epoch + 1, 0) : (epoch, index + 1);
            if (log is not null)
            {
                _log.Add(log);
                AppendLog(log);
                StepCompleted?.Invoke(log);
                if (KlRanAway(log)) { Checkpoint(); break; }
                if (Trainer.StepCount % Config.CheckpointEvery == 0) Checkpoint();
            }
        }
        Checkpoint();
        SaveStatisticsCsv();
        Report(_epoch, clock, startStep, Finished ? "done" : "stopped");
        return _log;
    }

    /// <summary>Generate, score, PPO step. Returns null when the step was skipped (non-finite rewards).</summary>
    StepLog? TrainStep(int epoch, int index, IReadOnlyList<NewsArticle> articles)
    {
        using var scope = NewDisposeScope();
        // 1. Prompts "summarize: " + article, cut to the prompt budget with eos kept.
        var prompts = articles.Select(a => NewsDataset.Prompt(a.Text)).ToList();
        var queries = prompts.Select(p => Tokenizer.Encode(p, addSpecialTokens: true, maxLength: Config.MaxPromptTokens).Select(i => (long)i).ToArray()).ToList();

        // 2. Rollout: sample a summary per prompt from the current policy.
        using var rollout = Trainer.Generate(queries, Config.Generation);
        var responses = rollout.ResponseIds();
        var texts = responses.Select(r => Tokenizer.Decode(r.Select(i => (int)i), skipSpecialTokens: true)).ToList();

        // 3. Rewards: the weighted sum of the classifier logits (each component kept for the log).
        var rewards = Reward.Score(texts);
        if (rewards.Total.Any(r => !float.IsFinite(r)))
        {
            Warn?.Invoke($"Step {Trainer.StepCount}: a reward was NaN or infinite ({string.Join(", ", rewards.Total.Where(r => !float.IsFinite(r)).Distinct())}); skipped the batch.");
            return null;
        }

        // 4. PPO on (query, response, reward).
        var stats = Trainer.Step(queries, responses, rewards.Total);
        var row = new Dictionary<string, double>(stats.Scalars);
        foreach (var (name, scores) in rewards.Components) row[$"env/reward/{name}"] = scores.Average();
        row["tokens/response_words"] = texts.Average(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        return new StepLog(Trainer.StepCount, epoch, index, row, articles[0].Text, texts[0]);
    }

    bool KlRanAway(StepLog log)
    {
        var kl = log.Stats["objective/kl"];
        _klStrikes = kl > Config.KlStopThreshold || !double.IsFinite(kl) ? _klStrikes + 1 : 0;
        if (_klStrikes < Config.KlPatience) return false;
        StopReason = $"Stopping: the KL to the reference has been above {Config.KlStopThreshold} nats for {Config.KlPatience} steps " +
            $"(now {kl:F2}). The policy is drifting from fluent text; lower the learning rate or raise the KL coefficient.";
        Warn?.Invoke(StopReason);
        return true;
    }

    void Report(int epoch, Stopwatch clock, int startStep, string phase)
    {
        int done = Trainer.StepCount - startStep;
        TimeSpan? remaining = done > 0 ? clock.Elapsed / done * (TotalSteps - Trainer.StepCount) : null;
        var last = _log.Count > 0 ? _log[^1] : null;
        Progress?.Invoke(new RunProgress(Trainer.StepCount, TotalSteps, epoch, clock.Elapsed, remaining,
            last?.Stats["env/reward_mean"], last?.Stats["objective/kl"], phase));
    }

    /// <summary>Per-step statistics: one row per step, one column per statistic (TRL's keys and the reward components).</summary>
    public DataFrame StatisticsFrame()
    {
        var keys = _log.SelectMany(l => l.Stats.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToList();
        var columns = new List<DataFrameColumn>
        {
            new Int32DataFrameColumn("step", _log.Select(l => l.Step)),
            new Int32DataFrameColumn("epoch", _log.Select(l => l.Epoch)),
        };
        columns.AddRange(keys.Select(k => new DoubleDataFrameColumn(k, _log.Select(l => l.Stats.TryGetValue(k, out var v) ? v : double.NaN))));
        return new DataFrame(columns);
    }

    void AppendLog(StepLog log)
    {
        var node = new JsonObject { ["step"] = log.Step, ["epoch"] = log.Epoch, ["batch"] = log.Batch, ["sample_query"] = log.SampleQuery, ["sample_response"] = log.SampleResponse };
        var stats = new JsonObject();
        foreach (var (k, v) in log.Stats) stats[k] = double.IsFinite(v) ? v : null;
        node["stats"] = stats;
        using var file = new FileStream(StatsJsonlPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        using var writer = new StreamWriter(file);
        writer.WriteLine(node.ToJsonString());
    }

    void SaveStatisticsCsv()
    {
        if (_log.Count == 0) return;
        var path = Path.Combine(OutputDir, "stats.csv");
        AtomicFile.Write(path, stream => DataFrame.SaveCsv(StatisticsFrame(), stream, cultureInfo: CultureInfo.InvariantCulture));
    }

    /// <summary>Writes policy, value head, optimiser moments and run state into <c>checkpoints/step-N</c>, then points
    /// <c>latest.json</c> at it. A crash at any moment leaves the previous checkpoint intact and loadable: the folder is
    /// built under a temporary name and renamed, the folder <c>latest.json</c> names is never replaced or deleted, and
    /// <c>latest.json</c> itself is replaced atomically.</summary>
    public void Checkpoint()
    {
        var state = Trainer.GetState();
        var position = (state.StepCount, _epoch, _nextBatch);
        if (_checkpointed == position) return; // nothing new since the last checkpoint
        Directory.CreateDirectory(CheckpointsDir);
        var latest = ReadLatest(OutputDir) ?? NewestCheckpoint(OutputDir);
        // Same step, later data position (batches skipped since): a new name, so the folder latest.json names stays.
        var name = $"step-{state.StepCount:D6}";
        for (int k = 1; latest?.Folder == name; k++) name = $"step-{state.StepCount:D6}-r{k}";
        var final = Path.Combine(CheckpointsDir, name);
        var temp = Path.Combine(CheckpointsDir, $".{name}.{Environment.ProcessId}.tmp");
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        Policy.SavePretrained(temp, _tokenizerFiles);
        Trainer.SaveOptimizer(Path.Combine(temp, "optimizer.bin"));
        var run = new JsonObject
        {
            ["step"] = state.StepCount, ["kl_coef"] = state.KlCoef, ["score_count"] = state.ScoreCount,
            ["score_mean"] = state.ScoreMean, ["score_var"] = state.ScoreVar, ["epoch"] = _epoch, ["next_batch"] = _nextBatch,
            ["kl_strikes"] = _klStrikes, ["profile"] = Config.Profile, ["policy"] = Config.Policy,
        };
        AtomicFile.WriteAllText(Path.Combine(temp, TrainerStateFile), run.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true); // not the latest (see above): an orphan of a crash
        Directory.Move(temp, final);
        AtomicFile.WriteAllText(Path.Combine(CheckpointsDir, LatestFile), new JsonObject { ["folder"] = name, ["step"] = state.StepCount }.ToJsonString());
        _checkpointed = position;
        // Keep the two newest checkpoints: this one and the one before it; anything else (older ones, orphans of a crash) goes.
        foreach (var old in Directory.GetDirectories(CheckpointsDir, "step-*"))
        {
            var oldName = Path.GetFileName(old);
            if (oldName != name && oldName != latest?.Folder) Directory.Delete(old, recursive: true);
        }
    }

    const string TrainerStateFile = "trainer_state.json";

    sealed record Latest(string Folder, int Step);

    static Latest? ReadLatest(string outputDir)
    {
        var path = Path.Combine(outputDir, "checkpoints", LatestFile);
        if (!File.Exists(path)) return null;
        Latest latest;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            if (node?["folder"] is not JsonValue folder || !folder.TryGetValue<string>(out var name) ||
                node["step"] is not JsonValue step || !step.TryGetValue<int>(out var stepValue))
                throw new InvalidDataException($"{path} is not a valid checkpoint pointer: it needs \"folder\" (a string) and \"step\" (an integer).");
            latest = new Latest(name, stepValue);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a valid checkpoint pointer: {e.Message}", e);
        }
        if (latest.Folder.Length == 0 || Path.GetFileName(latest.Folder) != latest.Folder || latest.Folder is "." or "..")
            throw new InvalidDataException($"{path} names checkpoint '{latest.Folder}', which is not a folder name inside checkpoints/.");
        return Directory.Exists(Path.Combine(outputDir, "checkpoints", latest.Folder)) ? latest
            : throw new InvalidDataException($"{path} names checkpoint '{latest.Folder}', which does not exist. " +
                $"Point it at one of the step-* folders there, or delete {Path.GetDirectoryName(path)} to start over.");
    }

    /// <summary>Without latest.json (a crash after the first checkpoint folder was renamed into place but before
    /// latest.json was written, or latest.json deleted by hand): the newest complete <c>step-*</c> folder, if any.
    /// Folders are complete by construction (built under a temporary name, then renamed); the trainer state is the
    /// last file written.</summary>
    static Latest? NewestCheckpoint(string outputDir)
    {
        var dir = Path.Combine(outputDir, "checkpoints");
        if (!Directory.Exists(dir)) return null;
        foreach (var folder in Directory.GetDirectories(dir, "step-*").OrderByDescending(Path.GetFileName, StringComparer.Ordinal))
        {
            var name = Path.GetFileName(folder);
            if (!File.Exists(Path.Combine(folder, TrainerStateFile)) ||
                !int.TryParse(name.AsSpan(5, Math.Min(6, name.Length - 5)), NumberStyles.None, CultureInfo.InvariantCulture, out var step))
                continue;
            return new Latest(name, step);
        }
        return null;
    }

    /// <summary>Removes temporary checkpoint folders a crash left behind (<c>.step-*.tmp</c>).</summary>
    static void RemoveTemporaryCheckpoints(string outputDir)
    {
        var dir = Path.Combine(outputDir, "checkpoints");
        if (!Directory.Exists(dir)) return;
        foreach (var temp in Directory.GetDirectories(dir, ".step-*.tmp"))
        {
            try { Directory.Delete(temp, recursive: true); }
            catch (IOException) { } // another process may still be writing it
            catch (UnauthorizedAccessException) { }
        }
    }

    void Resume(Latest latest)
    {
        var folder = Path.Combine(CheckpointsDir, latest.Folder);
        var statePath = Path.Combine(folder, TrainerStateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"checkpoint {folder} has no {TrainerStateFile}.", statePath);
        try
        {
            var state = JsonNode.Parse(File.ReadAllText(statePath)) as JsonObject
                ?? throw new InvalidDataException($"{statePath} does not hold a JSON object.");
            T Field<T>(string key) => state[key] is JsonValue v && v.TryGetValue<T>(out var value) ? value
                : throw new InvalidDataException($"{statePath}: field '{key}' is missing or not a {typeof(T).Name}.");
            Trainer.SetState(new PpoTrainerState(Field<int>("step"), Field<double>("kl_coef"),
                Field<long>("score_count"), Field<double>("score_mean"), Field<double>("score_var")));
            _epoch = Field<int>("epoch");
            _nextBatch = Field<int>("next_batch");
            _klStrikes = state.ContainsKey("kl_strikes") ? Field<int>("kl_strikes") : 0;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{statePath} is not valid JSON: {e.Message}", e);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"{statePath} holds an invalid value: {e.Message}", e);
        }
        Trainer.LoadOptimizer(Path.Combine(folder, "optimizer.bin"));
        _checkpointed = (Trainer.StepCount, _epoch, _nextBatch);

        // Keep the logged steps the checkpoint covers; later ones will be run again. Lines a crash cut short (or that
        // are not log rows) are dropped.
        var kept = new List<string>();
        if (File.Exists(StatsJsonlPath))
        {
            foreach (var line in File.ReadLines(StatsJsonlPath))
            {
                if (ParseLogLine(line) is not { } log || log.Step > Trainer.StepCount || _log.Any(l => l.Step == log.Step)) continue;
                kept.Add(line);
                _log.Add(log);
            }
        }
        AtomicFile.WriteAllText(StatsJsonlPath, string.Concat(kept.Select(l => l + "\n")));
    }

    /// <summary>One stats.jsonl row, or null for a line that is not one (cut by a crash, edited).</summary>
    static StepLog? ParseLogLine(string line)
    {
        JsonObject? node;
        try { node = JsonNode.Parse(line) as JsonObject; }
        catch (JsonException) { return null; }
        if (node is null) return null;
        static bool Int(JsonNode? n, out int v) { v = 0; return n is JsonValue j && j.TryGetValue(out v); }
        static string Text(JsonNode? n) => n is JsonValue j && j.TryGetValue<string>(out var s) ? s : "";
        if (!Int(node["step"], out var step) || !Int(node["epoch"], out var epoch) || !Int(node["batch"], out var batch) ||
            node["stats"] is not JsonObject statsNode)
            return null;
        var stats = new Dictionary<string, double>();
        foreach (var (k, v) in statsNode)
            stats[k] = v is JsonValue j && j.TryGetValue<double>(out var d) ? d : double.NaN;
        return new StepLog(step, epoch, batch, stats, Text(node["sample_query"]), Text(node["sample_response"]));
    }

    /// <summary>Base (the frozen reference) against the aligned policy on the held-out articles, with the same seeded
    /// decoding for both.</summary>
    public Evaluation.EvaluationResult Evaluate(int batchSize = 8, Action<string>? log = null)
    {
        var evaluator = new Evaluation.PolicyEvaluator(Reference, Policy, Tokenizer, Reward)
        {
            MaxInputLength = Config.MaxPromptTokens,
            Log = log,
        };
        var articles = EvalData.Select(a => new Evaluation.Article(a.Id, a.Text)).ToList();
        return evaluator.Evaluate(articles, Config.Generation with { Seed = Config.Generation.Seed ?? 1234 }, batchSize);
    }

    public void Dispose() => Trainer.Dispose();
}
