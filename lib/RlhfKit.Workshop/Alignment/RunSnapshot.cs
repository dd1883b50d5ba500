using RlhfKit.Data;
using RlhfKit.Hub;
using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;

namespace RlhfKit.Alignment;

/// <summary>
/// A run's latest checkpoint opened for reading only, for evaluation: the aligned policy (no value head, no optimiser
/// state: <c>optimizer.bin</c> is not needed), the frozen base, the tokenizer, the reward, the held-out articles and
/// the statistics up to the checkpoint. Unlike <see cref="AlignmentRun.CreateAsync"/> it writes nothing and deletes
/// nothing in the folder (no resume of <c>stats.jsonl</c>, no removal of temporaries), takes no lock, and so can read a
/// folder that <c>align</c> is still writing.
/// </summary>
public sealed class RunSnapshot : IDisposable
{
    RunSnapshot(AlignmentConfig config, string outputDir, string checkpoint, int step, T5ForConditionalGeneration policy,
        T5ForConditionalGeneration reference, IHfTokenizer tokenizer, CompositeReward reward, NewsDataset eval, IReadOnlyList<StepLog> log)
    {
        Config = config; OutputDir = outputDir; Checkpoint = checkpoint; Step = step; Policy = policy; Reference = reference;
        Tokenizer = tokenizer; Reward = reward; EvalData = eval; Log = log;
    }

    public AlignmentConfig Config { get; }
    public string OutputDir { get; }
    /// <summary>The checkpoint's folder name (<c>step-NNNNNN</c>) and step.</summary>
    public string Checkpoint { get; }
    public int Step { get; }
    public T5ForConditionalGeneration Policy { get; }
    public T5ForConditionalGeneration Reference { get; }
    public IHfTokenizer Tokenizer { get; }
    public CompositeReward Reward { get; }
    public NewsDataset EvalData { get; }
    /// <summary>The statistics rows of steps 1 to <see cref="Step"/>, read without rewriting the file.</summary>
    public IReadOnlyList<StepLog> Log { get; }

    /// <summary>Opens the latest checkpoint of <paramref name="outputDir"/>; <see cref="DirectoryNotFoundException"/>
    /// naming the folder when it has none. The checkpoint is located before any model or classifier is loaded.</summary>
    public static async Task<RunSnapshot> OpenAsync(AlignmentConfig config, string outputDir, HubClient? hub = null,
        Action<string>? status = null, IProgress<HubDownloadProgress>? download = null)
    {
        config.Validate();
        outputDir = Path.GetFullPath(outputDir);
        var checkpoints = new RunCheckpoints(outputDir);
        var (name, step) = checkpoints.Latest()
            ?? throw new DirectoryNotFoundException($"{outputDir} holds no checkpoint (checkpoints/latest.json or a step-* folder); run 'align --out {outputDir}' first.");
        var folder = checkpoints.PathOf(name);
        var device = ProfileLoader.Device(config.Device);
        status?.Invoke($"Reading checkpoint {name} (step {step}) of {outputDir}");
        var policy = AutoModel.T5FromPretrained(folder, device);
        try
        {
            var policyFiles = await ProfileLoader.PolicyAsync(config, hub, download);
            var reference = AutoModel.T5FromPretrained(policyFiles.Folder, device);
            var reward = await ProfileLoader.RewardAsync(config, hub, status, download);
            status?.Invoke($"Loading the articles ({config.Data})");
            var (_, eval) = await ProfileLoader.TrainAndEvalAsync(config, hub);
            return new RunSnapshot(config, outputDir, name, step, policy, reference, policyFiles.Tokenizer, reward, eval, StatisticsLog.Read(outputDir, step));
        }
        catch
        {
            policy.Dispose();
            throw;
        }
    }

    /// <summary>Base against the checkpoint's policy on the held-out articles, as <see cref="AlignmentRun.Evaluate"/>.</summary>
    public Evaluation.EvaluationResult Evaluate(int batchSize = 8, Action<string>? log = null) =>
        AlignmentRun.EvaluatePolicies(Config, Reference, Policy, Tokenizer, Reward, EvalData, batchSize, log);

    /// <summary>Best-of-n of the base policy on the articles of <paramref name="evaluation"/>, as
    /// <see cref="AlignmentRun.EvaluateBestOfN"/>.</summary>
    public Evaluation.EvaluationResult EvaluateBestOfN(Evaluation.EvaluationResult evaluation, int n, int batchSize = 8) =>
        AlignmentRun.BestOfN(Config, Reference, Tokenizer, Reward, evaluation, n, batchSize);

    public void Dispose()
    {
        Policy.Dispose();
        Reference.Dispose();
    }
}
