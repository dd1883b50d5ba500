using RlhfKit.Data;
using RlhfKit.Hub;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Alignment;

/// <summary>A profile's policy folder with its tokenizer, and the tokenizer files a checkpoint copies next to the weights.</summary>
public sealed record PolicyFiles(string Folder, IHfTokenizer Tokenizer, IReadOnlyDictionary<string, byte[]> TokenizerFiles);

/// <summary>
/// Loads what an <see cref="AlignmentConfig"/> names: the policy's folder and tokenizer, the composite reward, the
/// articles, the device. Each is downloaded once into the Hugging Face cache, then read from it. The run, the command
/// line and the lessons load through here, so they all see the same models and data.
/// </summary>
public static class ProfileLoader
{
    static readonly string[] RequiredPolicyFiles = ["config.json", "spiece.model"];
    static readonly string[] OptionalPolicyFiles = ["tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.json"];

    /// <summary>The policy's folder (weights included) and tokenizer.</summary>
    public static async Task<PolicyFiles> PolicyAsync(AlignmentConfig config, HubClient? hub = null, IProgress<HubDownloadProgress>? download = null, string? policy = null)
    {
        var folder = await Pretrained.ResolveAsync(policy ?? config.Policy, RequiredPolicyFiles, OptionalPolicyFiles, weights: true, hub, progress: download);
        var tokenizerFiles = RequiredPolicyFiles.Concat(OptionalPolicyFiles).Where(f => f != "config.json" && File.Exists(Path.Combine(folder, f)))
            .ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(folder, f)));
        return new PolicyFiles(folder, AutoTokenizer.FromPretrained(folder), tokenizerFiles);
    }

    /// <summary>The profile's composite reward: each classifier's raw logit of its label, weighted (on
    /// <see cref="AlignmentConfig.Device"/> in <see cref="AlignmentConfig.RewardDType"/>).</summary>
    public static async Task<CompositeReward> RewardAsync(AlignmentConfig config, HubClient? hub = null,
        Action<string>? status = null, IProgress<HubDownloadProgress>? download = null)
    {
        var device = Device(config.Device);
        var reward = new CompositeReward();
        foreach (var spec in config.Rewards)
        {
            status?.Invoke($"Loading the reward model {spec.Model} ({spec.Name} = {spec.Weight} x {spec.Label})");
            var pipeline = await TextClassificationPipeline.FromPretrainedAsync(spec.Model, device, hub: hub, progress: download, dtype: config.RewardScalarType());
            reward.Add(new ClassifierLogitReward(spec.Name, pipeline, spec.Label), spec.Weight);
        }
        return reward;
    }

    /// <summary>The profile's articles of one split: the kit's own (<c>data/news</c>) offline, else the Hub dataset.</summary>
    public static async Task<NewsDataset> ArticlesAsync(AlignmentConfig config, string split, HubClient? hub = null)
    {
        if (config.Data == "offline") return NewsDataset.LoadOffline(split);
        var client = hub ?? new HubClient();
        try { return await NewsDataset.FromHubAsync(client, config.Data, split); }
        finally { if (hub is null) client.Dispose(); }
    }

    /// <summary>The training articles and the held-out ones the evaluation uses (filtered by length and counted as the
    /// config says).</summary>
    public static async Task<(NewsDataset Train, NewsDataset Eval)> TrainAndEvalAsync(AlignmentConfig config, HubClient? hub = null)
    {
        using var owned = hub is null && config.Data != "offline" ? new HubClient() : null; // one client for both splits
        var train = await ArticlesAsync(config, "train", hub ?? owned);
        var eval = await ArticlesAsync(config, "test", hub ?? owned);
        if (config.EvalLength is (int min, int max)) eval = eval.FilterByLength(min, max);
        eval = eval.Take(config.EvalArticles);
        if (train.Count < config.Ppo.BatchSize)
            throw new InvalidDataException($"The training data has {train.Count} articles, fewer than one batch of {config.Ppo.BatchSize}.");
        return (train, eval);
    }

    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> as a torch device, with a clear error when CUDA is missing.</summary>
    public static Device Device(string name) => name switch
    {
        "cpu" => CPU,
        _ when name.StartsWith("cuda", StringComparison.Ordinal) => cuda.is_available()
            ? new Device(name)
            : throw new ArgumentException($"Device '{name}' was asked for, but CUDA is not available in this build (TorchSharp-cpu) or on this machine; use --device cpu, or build for a GPU (see environment.md)."),
        _ => throw new ArgumentException($"Unknown device '{name}' (use cpu, cuda or cuda:N)."),
    };
}
