using System.Globalization;
using RlhfKit.Alignment;
using RlhfKit.Data;
using RlhfKit.Rewards;

namespace RlhfKit.Notebooks;

/// <summary>
/// What the lesson notebooks (and their file-based apps) share: the profile chosen in their first cells, the run folder
/// lesson 03 writes and lesson 04 reads, and the few environment variables that let the tests run every notebook quickly.
/// </summary>
public static class Lesson
{
    /// <summary>Overrides the profile a notebook chose (headless runs on a GPU machine: <c>workshop</c>).</summary>
    public const string ProfileVariable = "RLHFKIT_NOTEBOOK_PROFILE";
    /// <summary>Overrides the device a notebook chose (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>).</summary>
    public const string DeviceVariable = "RLHFKIT_NOTEBOOK_DEVICE";
    /// <summary>Overrides the profile's <see cref="AlignmentConfig.MaxSteps"/> (the tests use a handful of steps).</summary>
    public const string StepsVariable = "RLHFKIT_NOTEBOOK_STEPS";
    /// <summary>Overrides the profile's <see cref="AlignmentConfig.EvalArticles"/>.</summary>
    public const string EvalArticlesVariable = "RLHFKIT_NOTEBOOK_EVAL_ARTICLES";
    /// <summary>Overrides the profile's <see cref="AlignmentConfig.EvalSamples"/> (summaries per held-out article).</summary>
    public const string EvalSamplesVariable = "RLHFKIT_NOTEBOOK_EVAL_SAMPLES";
    /// <summary>Where the notebooks keep their runs (default <c>runs/</c> in the kit's folder).</summary>
    public const string RunsVariable = "RLHFKIT_RUNS";

    /// <summary>
    /// <c>Profiles.Get(profile) with { Device = device }</c>, plus the overrides above when they are set. For the offline
    /// profile it also builds the offline reward models if they are missing (a few minutes, once).
    /// </summary>
    public static AlignmentConfig Config(string profile = "offline", string device = "cpu", Action<string>? status = null)
    {
        var say = status ?? Console.WriteLine;
        var config = Profiles.Get(Env(ProfileVariable) ?? profile) with { Device = Env(DeviceVariable) ?? device };
        if (Env(StepsVariable) is string steps) config = config with { MaxSteps = PositiveInt(StepsVariable, steps) };
        if (Env(EvalArticlesVariable) is string eval) config = config with { EvalArticles = PositiveInt(EvalArticlesVariable, eval) };
        if (Env(EvalSamplesVariable) is string samples) config = config with { EvalSamples = PositiveInt(EvalSamplesVariable, samples) };
        if (config.Profile == "offline" && !OfflineAssets.IsPrepared())
        {
            say("The offline reward models are not built yet: building them now (a few minutes, once; " +
                "the same as 'dotnet run --project lib/RlhfKit.Cli -c Release -- prepare').");
            OfflineAssets.Prepare(status: say);
        }
        return config;
    }

    /// <summary>One paragraph on what <paramref name="config"/> will load and do.</summary>
    public static string Describe(AlignmentConfig config)
    {
        var rewards = string.Join(" + ", config.Rewards.Select(r => $"{r.Weight.ToString(CultureInfo.InvariantCulture)} x {r.Name} ({r.Label} of {r.Model})"));
        var steps = config.MaxSteps is int n ? $"at most {n} PPO steps" : $"{config.Epochs} epoch(s)";
        return $"profile '{config.Profile}' on {config.Device}\n  policy: {config.Policy}\n  reward: {rewards}\n" +
               $"  articles: {config.Data}; {steps} of {config.Ppo.BatchSize} articles each";
    }

    /// <summary>The profile's composite reward, as an alignment run builds it: each classifier's raw logit of its label, weighted.</summary>
    public static Task<CompositeReward> RewardAsync(AlignmentConfig config) => ProfileLoader.RewardAsync(config);

    /// <summary>The profile's articles: the kit's own (<c>data/news</c>) offline, else the Hub dataset (downloaded once, then cached).</summary>
    public static Task<NewsDataset> LoadArticlesAsync(AlignmentConfig config, string split) => ProfileLoader.ArticlesAsync(config, split);

    /// <summary>The folder that holds every notebook run: <c>$RLHFKIT_RUNS</c>, else <c>runs/</c> in the kit's folder.</summary>
    public static string RunsRoot() => Env(RunsVariable) is string root ? Path.GetFullPath(root) : Path.Combine(KitRoot.Find(), "runs");

    /// <summary>The run folder of the notebooks for this profile: <c>runs/notebook-&lt;profile&gt;</c>. Lesson 03 trains into
    /// it (and resumes from its last checkpoint when run again); lesson 04 evaluates its latest checkpoint.</summary>
    public static string RunFolder(AlignmentConfig config) => Path.Combine(RunsRoot(), $"notebook-{config.Profile}");

    /// <summary>Another run of the same profile beside it, <c>runs/notebook-&lt;profile&gt;-&lt;variant&gt;</c>: e.g. the
    /// run without the KL penalty that lesson 04 trains (<paramref name="variant"/> <c>no-kl</c>).</summary>
    public static string RunFolder(AlignmentConfig config, string variant)
    {
        if (string.IsNullOrWhiteSpace(variant) || variant.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\', ' ']) >= 0)
            throw new ArgumentException($"A run variant is one word usable in a folder name (got '{variant}').", nameof(variant));
        return Path.Combine(RunsRoot(), $"notebook-{config.Profile}-{variant}");
    }

    /// <summary>True when <paramref name="runFolder"/> holds a checkpoint that <see cref="AlignmentRun.CreateAsync"/> resumes from.</summary>
    public static bool HasCheckpoint(string runFolder) => RunCheckpoints.Exists(runFolder);

    /// <summary>Deletes a run folder so the next training starts from the base policy again.</summary>
    public static void StartOver(string runFolder)
    {
        if (Directory.Exists(runFolder)) Directory.Delete(runFolder, recursive: true);
    }

    static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v.Trim() : null;

    static int PositiveInt(string variable, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{variable} must be a positive whole number (got '{value}').");
}
