using System.Diagnostics;
using Microsoft.Data.Analysis;
using RlhfKit.Data;
using RlhfKit.Hub;
using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Alignment;

/// <summary>Where a run stands, for progress bars.</summary>
public sealed record RunProgress(int Step, int TotalSteps, int Epoch, TimeSpan Elapsed, TimeSpan? Remaining, double? RewardMean, double? Kl, string Phase);

/// <summary>One batch of the run's data: its place in the epoch, the articles, their prompts and query ids.</summary>
public sealed record RunBatch(int Epoch, int Index, PromptedBatch Prompted)
{
    public IReadOnlyList<NewsArticle> Articles => Prompted.Articles;
    /// <summary>The token ids of <c>"summarize: " + article</c>, one row per article (TRL's <c>query_tensors</c>).</summary>
    public IReadOnlyList<long[]> Queries => Prompted.QueryIds;
}

/// <summary>
/// A PPO alignment run as the workshop's notebook wrote it, in a folder: the trainer (policy with value head, frozen
/// reference), the tokenizer, the reward and the articles, the data position, the statistics
/// (<see cref="StatisticsLog"/>) and the checkpoints (<see cref="RunCheckpoints"/>). A run created on a folder that
/// holds a checkpoint continues from it with the same data order and random streams.
/// <para>The loop is yours to read and change (lesson 03 writes it out in a cell); <see cref="Train"/> is exactly that
/// loop:</para>
/// <code>
/// foreach (var batch in run.Batches())
///     generate → decode → score → (skip a non-finite batch) → Trainer.Step → run.LogStats
/// run.Finish();
/// </code>
/// </summary>
public sealed class AlignmentRun : IDisposable
{
    readonly IReadOnlyDictionary<string, byte[]> _tokenizerFiles;
    RunPosition _position = new(0, 0);
    /// <summary>The position after the batch in hand; committed when the batch is logged or skipped.</summary>
    RunPosition? _pending;
    int _klStrikes;
    bool _stopRequested;
    /// <summary>The state of the last checkpoint written or resumed from.</summary>
    (int Step, RunPosition Position)? _checkpointed;
    Stopwatch _clock = new();
    int _startStep;
    TimeLeftEstimate _pace = new();
    TimeSpan _lastCommit;
    RunFolderLock? _lock;

    AlignmentRun(AlignmentConfig config, string outputDir, PpoTrainer trainer, IHfTokenizer tokenizer, CompositeReward reward,
        NewsDataset train, NewsDataset eval, IReadOnlyDictionary<string, byte[]> tokenizerFiles)
    {
        Config = config; OutputDir = outputDir; Trainer = trainer; Tokenizer = tokenizer; Reward = reward;
        TrainData = train; EvalData = eval; _tokenizerFiles = tokenizerFiles;
        Statistics = new StatisticsLog(outputDir);
        Checkpoints = new RunCheckpoints(outputDir);
        trainer.Warn = m => Warn?.Invoke(m);
    }

    public AlignmentConfig Config { get; }
    public string OutputDir { get; }
    public PpoTrainer Trainer { get; }
    public IHfTokenizer Tokenizer { get; }
    public CompositeReward Reward { get; }
    public NewsDataset TrainData { get; }
    public NewsDataset EvalData { get; }
    public StatisticsLog Statistics { get; }
    public RunCheckpoints Checkpoints { get; }
    public Seq2SeqLMWithValueHead Policy => Trainer.Policy;
    /// <summary>The frozen starting point: the KL penalty's reference and the evaluation's base model.</summary>
    public T5ForConditionalGeneration Reference => Trainer.Reference;
    public IReadOnlyList<StepLog> Log => Statistics.Rows;
    public RunPosition Position => _position;
    public int StepsPerEpoch => TrainData.Count / Config.Ppo.BatchSize;
    public int TotalSteps => Math.Min(Config.MaxSteps ?? int.MaxValue, StepsPerEpoch * Config.Epochs);
    public bool Finished => Trainer.StepCount >= TotalSteps;

    /// <summary>Why the last loop stopped before <see cref="TotalSteps"/> (the KL ran away), or null.</summary>
    public string? StopReason { get; private set; }

    public event Action<RunProgress>? Progress;
    public event Action<StepLog>? StepCompleted;
    public Action<string>? Warn { get; set; }

    /// <summary>Loads the policy, its tokenizer, the reward classifiers and the data named by <paramref name="config"/>
    /// (<see cref="ProfileLoader"/>), and resumes from the last checkpoint in <paramref name="outputDir"/> if there is one.
    /// The run holds the folder's <see cref="RunFolderLock"/> until it is disposed: another process on the same folder
    /// gets <see cref="RunFolderLockedException"/> at once, before anything loads. Temporaries that dead writers left
    /// (checkpoint folders, <see cref="AtomicFile"/> temp files) are removed; a live process's are not touched.</summary>
    public static async Task<AlignmentRun> CreateAsync(AlignmentConfig config, string outputDir, HubClient? hub = null,
        Action<string>? status = null, IProgress<HubDownloadProgress>? download = null)
    {
        config.Validate();
        var folderLock = RunFolderLock.Acquire(outputDir, CommandLine(), status);
        try
        {
            var run = await CreateLockedAsync(config, outputDir, folderLock, hub, status, download);
            run._lock = folderLock;
            return run;
        }
        catch
        {
            folderLock.Dispose();
            throw;
        }
    }

    /// <summary>This process's command line, as the lock records it (shortened).</summary>
    static string CommandLine()
    {
        var args = Environment.GetCommandLineArgs();
        var text = string.Join(' ', args.Select((a, i) => i == 0 ? Path.GetFileName(a) : a));
        return text.Length > 200 ? text[..200] + "..." : text;
    }

    static async Task<AlignmentRun> CreateLockedAsync(AlignmentConfig config, string outputDir, RunFolderLock folderLock, HubClient? hub,
        Action<string>? status, IProgress<HubDownloadProgress>? download)
    {
        var device = ProfileLoader.Device(config.Device);
        status?.Invoke($"Loading the policy {config.Policy}");
        var policyFiles = await ProfileLoader.PolicyAsync(config, hub, download);
        var reward = await ProfileLoader.RewardAsync(config, hub, status, download);
        status?.Invoke($"Loading the articles ({config.Data})");
        var (train, eval) = await ProfileLoader.TrainAndEvalAsync(config, hub);

        var checkpoints = new RunCheckpoints(outputDir);
        checkpoints.RemoveTemporary(includeOwn: folderLock.Fresh);
        DeadWriters.RemoveTempFiles(outputDir, includeOwn: folderLock.Fresh);
        DeadWriters.RemoveTempFiles(Path.Combine(outputDir, "charts"), includeOwn: folderLock.Fresh);
        var latest = checkpoints.Latest();
        manual_seed(config.Ppo.Seed); // module construction draws from the global generator (the weights are then loaded)
        var reference = AutoModel.T5FromPretrained(policyFiles.Folder, device);
        Seq2SeqLMWithValueHead policy;
        if (latest is null)
        {
            policy = new Seq2SeqLMWithValueHead(AutoModel.T5FromPretrained(policyFiles.Folder, device));
            policy.v_head.Initialize(config.Ppo.Seed); // not from the global generator: runs with one seed start alike
            if (device.type != DeviceType.CPU) policy.to(device); // the new value head is built on the CPU
        }
        else policy = Seq2SeqLMWithValueHead.FromPretrained(checkpoints.PathOf(latest.Value.Name), device);
        foreach (var p in reference.parameters()) p.requires_grad = false;
        var trainer = new PpoTrainer(config.Ppo, policy, reference) { RolloutDType = config.InferenceScalarType(), UpdateDType = config.UpdateScalarType() };
        foreach (var warning in config.Generation.KlBiasWarnings()) status?.Invoke("Warning: " + warning);

        var run = new AlignmentRun(config, outputDir, trainer, policyFiles.Tokenizer, reward, train, eval, policyFiles.TokenizerFiles);
        if (latest is { } resumeFrom)
        {
            status?.Invoke($"Resuming from checkpoint {resumeFrom.Name} (step {resumeFrom.Step})");
            run.Resume(resumeFrom.Name);
        }
        else run.Statistics.Start();
        return run;
    }

    /// <summary>
    /// The run's batches from where it stands (TRL's <c>for batch in ppo_trainer.dataloader</c>): epochs of seeded
    /// shuffles of the training articles, <see cref="PpoConfig.BatchSize"/> at a time. It ends when the run has made
    /// <see cref="TotalSteps"/> steps, when the KL ran away (<see cref="StopReason"/>), or when
    /// <paramref name="cancellation"/> fires. The position moves on when a batch is logged (<see cref="LogStats"/>) or
    /// skipped (<see cref="SkipNonFinite"/>), so a loop stopped half-way through a batch runs that batch again.
    /// Each pass of the loop runs in a torch <c>DisposeScope</c> that ends when the loop moves on: the step's tensors
    /// are freed deterministically.
    /// </summary>
    public IEnumerable<RunBatch> Batches(CancellationToken cancellation = default)
    {
        _clock = Stopwatch.StartNew();
        _startStep = Trainer.StepCount;
        _pace = new TimeLeftEstimate();
        _lastCommit = TimeSpan.Zero;
        _stopRequested = false;
        StopReason = null;
        foreach (var (epoch, index, articles) in TrainData.EpochBatches(Config.Ppo.BatchSize, Config.Epochs, Config.Ppo.Seed, _position.Epoch, _position.NextBatch))
        {
            if (Finished || _stopRequested || cancellation.IsCancellationRequested) yield break;
            Report(epoch, "generating");
            _pending = index + 1 >= StepsPerEpoch ? new RunPosition(epoch + 1, 0) : new RunPosition(epoch, index + 1);
            // The loop's body runs inside this scope: every tensor it makes and keeps no reference to is freed when
            // the loop moves on to the next batch (or leaves), so memory stays flat over thousands of steps.
            using var scope = NewDisposeScope();
            yield return new RunBatch(epoch, index, PromptedBatch.Create(articles, Tokenizer, Config.MaxPromptTokens));
        }
    }

    /// <summary>The summaries' text (special tokens skipped, ids past the tokenizer dropped), as the reward reads it.</summary>
    public List<string> Decode(IReadOnlyList<long[]> responses) => Tokenizer.Decode(responses);

    /// <summary>True (with a warning, and the batch counted as done) when a reward is NaN or infinite: PPO cannot learn
    /// from it, so the batch is skipped.</summary>
    public bool SkipNonFinite(RunBatch batch, RewardBreakdown rewards)
    {
        var bad = rewards.Total.Where(r => !float.IsFinite(r)).Distinct().ToList();
        if (bad.Count == 0) return false;
        Warn?.Invoke($"Step {Trainer.StepCount}: a reward was NaN or infinite ({string.Join(", ", bad)}); skipped the batch.");
        Commit(batch);
        return true;
    }

    /// <summary>
    /// Records a step (TRL's <c>log_stats</c>): its statistics, each reward component's mean (<c>env/reward/NAME</c>),
    /// the mean words per summary and one sample go to <see cref="Statistics"/>; listeners of
    /// <see cref="StepCompleted"/> hear of it; a checkpoint follows every <see cref="AlignmentConfig.CheckpointEvery"/>
    /// steps, and at once when the KL has run away (which also ends <see cref="Batches"/>).
    /// </summary>
    public StepLog LogStats(RunBatch batch, PpoStepStats stats, RewardBreakdown rewards, IReadOnlyList<string> summaries)
    {
        Commit(batch);
        var row = new Dictionary<string, double>(stats.Scalars);
        foreach (var (name, scores) in rewards.Components) row[$"env/reward/{name}"] = scores.Average();
        row["tokens/response_words"] = summaries.Average(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        var log = new StepLog(Trainer.StepCount, batch.Epoch, batch.Index, row, batch.Articles[0].Text, summaries[0]);
        Statistics.Append(log);
        StepCompleted?.Invoke(log);
        if (KlRanAway(log)) { Checkpoint(); _stopRequested = true; }
        else if (Trainer.StepCount % Config.CheckpointEvery == 0) Checkpoint();
        return log;
    }

    /// <summary>Ends a loop over <see cref="Batches"/>: a checkpoint of where the run stands, <c>stats.csv</c>, and the
    /// progress bar's last state.</summary>
    public IReadOnlyList<StepLog> Finish()
    {
        Checkpoint();
        Statistics.SaveCsv();
        Report(_position.Epoch, Finished ? "done" : "stopped");
        return Log;
    }

    /// <summary>Runs steps until the configured epochs or <see cref="AlignmentConfig.MaxSteps"/> are done, or until
    /// <paramref name="cancellation"/> fires (then the current step finishes and a checkpoint is written). This is the
    /// loop lesson 03 shows, line for line.</summary>
    public IReadOnlyList<StepLog> Train(CancellationToken cancellation = default)
    {
        foreach (var batch in Batches(cancellation))
        {
            using var rollout = Trainer.Generate(batch.Queries, Config.Generation);  // sample a summary per article
            var responses = rollout.ResponseIds();
            var summaries = Decode(responses);
            var rewards = Reward.Score(summaries);                              // 1 x acceptability + 0.5 x neutral
            if (SkipNonFinite(batch, rewards)) continue;
            var stats = Trainer.Step(batch.Queries, responses, rewards.Total);  // the PPO step
            LogStats(batch, stats, rewards, summaries);
        }
        return Finish();
    }

    void Commit(RunBatch batch)
    {
        _position = _pending ?? throw new InvalidOperationException($"Batch {batch.Index} of epoch {batch.Epoch} was not handed out by Batches().");
        _pending = null;
        var now = _clock.Elapsed;
        _pace.Add(now - _lastCommit);
        _lastCommit = now;
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

    void Report(int epoch, string phase)
    {
        // Smoothed over recent steps and hidden until a few have run (TimeLeftEstimate): the console bar and the
        // notebook's ProgressView both show this value.
        TimeSpan? remaining = phase is "done" ? TimeSpan.Zero : _pace.Remaining(TotalSteps - Trainer.StepCount);
        var last = Log.Count > 0 ? Log[^1] : null;
        Progress?.Invoke(new RunProgress(Trainer.StepCount, TotalSteps, epoch, _clock.Elapsed, remaining,
            last?.Stats["env/reward_mean"], last?.Stats["objective/kl"], phase));
    }

    /// <summary>Per-step statistics: one row per step, one column per statistic (TRL's keys and the reward components).</summary>
    public DataFrame StatisticsFrame() => Statistics.ToDataFrame();

    /// <summary>Writes a checkpoint of where the run stands (<see cref="RunCheckpoints.Save"/>), unless nothing changed
    /// since the last one.</summary>
    public void Checkpoint()
    {
        var state = new RunState(Trainer.GetState(), _position, _klStrikes);
        if (_checkpointed == (state.Trainer.StepCount, _position)) return;
        Checkpoints.Save(Trainer, state, _tokenizerFiles, Config.Profile, Config.Policy);
        _checkpointed = (state.Trainer.StepCount, _position);
    }

    void Resume(string checkpoint)
    {
        var state = Checkpoints.ReadState(checkpoint);
        // Another seed would continue the run on other article orders and samples than the ones it started with.
        if (state.Seed is int seed && seed != Config.Ppo.Seed)
            throw new ArgumentException($"{Path.Combine(Checkpoints.PathOf(checkpoint), "trainer_state.json")}: the run in this folder was trained with seed {seed}, " +
                $"not {Config.Ppo.Seed}. Resume it with the same seed (align --seed {seed}), or train the new seed in another folder.");
        try { Trainer.SetState(state.Trainer); }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"{Checkpoints.PathOf(checkpoint)}: trainer_state.json holds an invalid value: {e.Message}", e);
        }
        _position = state.Position;
        _klStrikes = state.KlStrikes;
        Trainer.LoadOptimizer(Path.Combine(Checkpoints.PathOf(checkpoint), "optimizer.bin"));
        _checkpointed = (Trainer.StepCount, _position);
        Statistics.Resume(Trainer.StepCount);
    }

    /// <summary>Base (the frozen reference) against the aligned policy on the held-out articles, with the same seeded
    /// decoding for both.</summary>
    public Evaluation.EvaluationResult Evaluate(int batchSize = 8, Action<string>? log = null) =>
        EvaluatePolicies(Config, Reference, Policy.pretrained_model, Tokenizer, Reward, EvalData, batchSize, log);

    internal static Evaluation.EvaluationResult EvaluatePolicies(AlignmentConfig config, T5ForConditionalGeneration reference,
        T5ForConditionalGeneration aligned, IHfTokenizer tokenizer, CompositeReward reward, NewsDataset evalData, int batchSize, Action<string>? log)
    {
        var evaluator = new Evaluation.PolicyEvaluator(reference, aligned, tokenizer, reward)
        {
            MaxInputLength = config.MaxPromptTokens,
            Log = log,
        };
        var articles = evalData.Select(a => new Evaluation.Article(a.Id, a.Text)).ToList();
        return evaluator.Evaluate(articles, config.Generation with { Seed = config.Generation.Seed ?? 1234 }, batchSize, config.EvalSamples);
    }

    /// <summary>
    /// Best-of-n of the base policy (TRL's <c>BestOfNSampler</c>) on the articles of <paramref name="evaluation"/>: n
    /// samples of the reference per article with the evaluation's decoding, the highest-reward one kept, compared with
    /// the same base summaries. Its KL column is the analytic <c>log n − (n − 1)/n</c> (<see cref="BestOfNSampler.AnalyticKl"/>).
    /// </summary>
    public Evaluation.EvaluationResult EvaluateBestOfN(Evaluation.EvaluationResult evaluation, int n, int batchSize = 8) =>
        BestOfN(Config, Reference, Tokenizer, Reward, evaluation, n, batchSize);

    internal static Evaluation.EvaluationResult BestOfN(AlignmentConfig config, T5ForConditionalGeneration reference, IHfTokenizer tokenizer,
        CompositeReward reward, Evaluation.EvaluationResult evaluation, int n, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        var generation = evaluation.Generation ?? config.Generation with { Seed = config.Generation.Seed ?? 1234 };
        var sampler = new BestOfNSampler(reference, tokenizer, reward, n, generation, reference.parameters().First().device);
        var articles = evaluation.Rows.Select(r => new Evaluation.Article(r.Id, r.Article)).ToList();
        var queries = PromptedBatch.Queries(articles.Select(a => a.Text), tokenizer, config.MaxPromptTokens);
        var best = sampler.Sample(queries, generation.Seed ?? 1234, batchSize);
        var kept = Evaluation.PolicyEvaluator.EvaluateSummaries(articles, evaluation.Rows.Select(r => r.BaseSummary).ToList(), best.Select(b => b.Text).ToList(),
            reward, alignedKl: Enumerable.Repeat(BestOfNSampler.AnalyticKl(n), articles.Count).ToList(), baseKl: evaluation.Rows.Select(r => r.BaseKl).ToList(),
            tokenizer: tokenizer, confidenceLevel: evaluation.ConfidenceLevel, samples: evaluation.Rows.Select(r => r.Sample).ToList());
        // The fluency proxy for the kept samples, from one reference pass (the base side is the evaluation's own).
        var (_, refLogLik) = Evaluation.PolicyEvaluator.KlAndReferenceLogLik(reference, reference, queries, best.Select(b => b.Ids).ToList());
        return kept.WithReferenceLogLik(evaluation.Rows.Select(r => r.BaseRefLogLik).ToList(), refLogLik);
    }

    /// <summary>Frees the models and releases the run folder's lock.</summary>
    public void Dispose()
    {
        Trainer.Dispose();
        _lock?.Dispose();
        _lock = null;
    }
}
