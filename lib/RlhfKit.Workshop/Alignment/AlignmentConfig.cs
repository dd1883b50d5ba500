using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Ppo;
using static TorchSharp.torch;

namespace RlhfKit.Alignment;

/// <summary>One reward component backed by a text classifier: the raw logit of <see cref="Label"/>, times <see cref="Weight"/>.</summary>
public sealed record ClassifierRewardSpec(string Name, string Model, string Label, double Weight);

/// <summary>Everything one alignment run needs. Profiles (<see cref="Profiles"/>) fill it in; change any field with <c>with</c>.</summary>
public sealed record AlignmentConfig
{
    /// <summary>The profile this configuration came from (for logs and output folder names).</summary>
    public required string Profile { get; init; }
    /// <summary>The policy to align: a Hub repo id (<c>google/flan-t5-small</c>) or a local Hugging Face folder.</summary>
    public required string Policy { get; init; }
    public required IReadOnlyList<ClassifierRewardSpec> Rewards { get; init; }
    public required PpoConfig Ppo { get; init; }
    /// <summary>Rollout decoding; by default TRL's advice for PPO (pure sampling, no minimum length).</summary>
    public GenerationConfig Generation { get; init; } = GenerationConfig.PpoRollout(64);
    /// <summary>Passes over the training articles.</summary>
    public int Epochs { get; init; } = 2;
    /// <summary>Stop after this many PPO steps (null: run every epoch).</summary>
    public int? MaxSteps { get; init; }
    /// <summary>Prompts are cut to this many tokens (eos kept), as the workshop's 512.</summary>
    public int MaxPromptTokens { get; init; } = 512;
    /// <summary>Where the articles come from: <c>offline</c> (the kit's <c>data/news</c>) or a Hub dataset id.</summary>
    public string Data { get; init; } = "offline";
    /// <summary>Held-out articles to evaluate on, after the length filter.</summary>
    public int EvalArticles { get; init; } = 40;
    /// <summary>Summaries each policy samples of every held-out article. One sample per article leaves the sampling
    /// noise of a temperature-1 summary in each paired difference; with several, each article's samples are averaged
    /// before the intervals, which then shrink towards the spread between articles.</summary>
    public int EvalSamples { get; init; } = 1;
    /// <summary>Evaluate only on articles of this many characters (the workshop used 200-450); null for all.</summary>
    public (int Min, int Max)? EvalLength { get; init; } = (200, 450);
    /// <summary>Write a resumable checkpoint every this many steps (and always at the end).</summary>
    public int CheckpointEvery { get; init; } = 25;
    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Compute type of rollouts and reward scoring: null (float32, the default) or <c>bfloat16</c>. For CUDA:
    /// TorchSharp has no autocast, so the reward models are cast and rollouts run on a cast copy of the policy
    /// (<see cref="PpoTrainer.RolloutDType"/>); the PPO update itself stays float32. <c>float16</c> is refused: the
    /// rollouts run T5, whose feed-forward overflows float16.</summary>
    public string? InferenceDType { get; init; }

    /// <summary><see cref="InferenceDType"/> as a torch type (null for the default).</summary>
    public ScalarType? InferenceScalarType() => ParseDType(InferenceDType, "InferenceDType", "float32, bfloat16, float16");

    /// <summary>A compute-type name as a torch type: float32 (or empty) is null, the default; bfloat16; float16. Any
    /// other name is refused, naming <paramref name="option"/> and the <paramref name="known"/> names.</summary>
    static ScalarType? ParseDType(string? name, string option, string known) => name?.ToLowerInvariant() switch
    {
        null or "" or "float32" or "float" => null,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "half" or "fp16" or "f16" => ScalarType.Float16,
        _ => throw new ArgumentException($"{option} '{name}' is not one of {known}."),
    };

    /// <summary>Compute type of the reward classifiers: null follows <see cref="InferenceDType"/>; <c>float32</c>,
    /// <c>bfloat16</c>, or <c>auto</c>: bfloat16 on a CPU with native bfloat16 products
    /// (<see cref="RlhfKit.Models.CpuFeatures.HasBf16"/>), float32 anywhere else. The workshop profiles use <c>auto</c>:
    /// roberta-base scores 2.6-2.7x faster in bfloat16 on such a CPU, its logits within about 0.003 of float32
    /// (docs/performance.md). The offline profile keeps float32: its classifiers are small and its runs reproducible.</summary>
    public string? RewardDType { get; init; }

    /// <summary><see cref="RewardDType"/> resolved for <see cref="Device"/> (null: float32).</summary>
    public ScalarType? RewardScalarType()
    {
        const string known = "float32, bfloat16, auto";
        return RewardDType?.ToLowerInvariant() switch
        {
            null or "" => InferenceScalarType(),
            "auto" => Device.StartsWith("cpu", StringComparison.OrdinalIgnoreCase) && RlhfKit.Models.CpuFeatures.HasBf16 ? ScalarType.BFloat16 : null,
            _ => ParseDType(RewardDType, "RewardDType", known) switch
            {
                ScalarType.Float16 => throw new ArgumentException($"RewardDType '{RewardDType}' is not one of {known}."),
                var type => type,
            },
        };
    }

    /// <summary>Compute type of the PPO update's matrix products (<c>align --update-dtype</c>): null (float32, the default)
    /// or <c>bfloat16</c>, which runs the trainer's forward passes and backward under bfloat16 autocast with float32
    /// weights, gradients and optimiser (<see cref="PpoTrainer.UpdateDType"/>); faster on CPUs with AVX512-BF16 or AMX
    /// (<see cref="RlhfKit.Models.CpuFeatures.HasBf16"/>). <c>float16</c> is refused: T5's feed-forward overflows it.</summary>
    public string? UpdateDType { get; init; }

    /// <summary><see cref="UpdateDType"/> as a torch type (null for the default, float32).</summary>
    public ScalarType? UpdateScalarType() => ParseDType(UpdateDType, "UpdateDType", "float32, bfloat16 (align --update-dtype)");

    /// <summary>Stop the run when the KL to the reference stays above this many nats for <see cref="KlPatience"/> steps.</summary>
    public double KlStopThreshold { get; init; } = 30;
    public int KlPatience { get; init; } = 3;

    /// <summary>The same run without the KL penalty: coefficient 0 and no adaptive controller (TRL:
    /// <c>init_kl_coef=0, adap_kl_ctrl=False</c>), and no stop for a KL that runs away. What PPO does when nothing holds
    /// it near the reference: the reward climbs while the summaries drift into whatever the classifiers like.</summary>
    public AlignmentConfig WithoutKlPenalty() => this with
    {
        Ppo = Ppo with { InitKlCoef = 0, AdaptKlCtrl = false },
        KlStopThreshold = double.PositiveInfinity,
    };

    public void Validate()
    {
        Ppo.Validate();
        Generation.Validate();
        if (Rewards.Count == 0) throw new ArgumentException("An alignment run needs at least one reward component.");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1 (got {Epochs}).");
        if (MaxSteps is < 1) throw new ArgumentException($"MaxSteps must be at least 1 when set (got {MaxSteps}).");
        if (MaxPromptTokens < 2) throw new ArgumentException($"MaxPromptTokens must be at least 2 (got {MaxPromptTokens}).");
        if (CheckpointEvery < 1) throw new ArgumentException($"CheckpointEvery must be at least 1 (got {CheckpointEvery}).");
        if (InferenceScalarType() == ScalarType.Float16) // also throws for an unknown name
            throw new ArgumentException($"InferenceDType '{InferenceDType}': " + AutoModel.T5Float16Refused);
        RewardScalarType(); // throws for an unknown name
        if (UpdateScalarType() == ScalarType.Float16) // also throws for an unknown name
            throw new ArgumentException($"UpdateDType '{UpdateDType}' (align --update-dtype): " + AutoModel.T5Float16Refused);
        if (EvalArticles < 2) throw new ArgumentException($"EvalArticles must be at least 2 for a confidence interval (got {EvalArticles}).");
        if (EvalSamples < 1) throw new ArgumentException($"EvalSamples must be at least 1 (got {EvalSamples}).");
        if (EvalSamples > 1 && !Generation.DoSample) throw new ArgumentException($"EvalSamples is {EvalSamples}, but Generation does not sample: every sample of an article would be the same summary.");
    }
}

/// <summary>Named sizes, so a notebook picks one in one line. Only <see cref="Offline"/> runs without network.</summary>
public static class Profiles
{
    public static IReadOnlyList<string> Names => ["offline", "workshop", "base"];

    /// <summary>The original workshop: flan-t5-small, reward = 1 x CoLA acceptable + 0.5 x neutral sentiment logits,
    /// TRL PPOConfig(batch_size=8, learning_rate=2e-5, gradient_accumulation_steps=4), 2 epochs over 1,000 articles.
    /// Rollouts follow TRL's advice (pure sampling) instead of the original beam/min_length settings, which bias the KL.
    /// As in TRL 0.7.1, the value head's dropout is active during PPO (<see cref="PpoConfig.ValueHeadDropout"/>).</summary>
    public static AlignmentConfig Workshop => new()
    {
        Profile = "workshop",
        Policy = "google/flan-t5-small",
        Rewards =
        [
            new("cola", "textattack/roberta-base-CoLA", "LABEL_1", 1.0),
            new("neutral", "cardiffnlp/twitter-roberta-base-sentiment", "LABEL_1", 0.5),
        ],
        Ppo = new PpoConfig { BatchSize = 8, MiniBatchSize = 1, GradientAccumulationSteps = 4, LearningRate = 2e-5, ValueHeadDropout = true },
        Generation = GenerationConfig.PpoRollout(64),
        Data = "argilla/news-summary",
        Epochs = 2,
        RewardDType = "auto",
    };

    /// <summary>The workshop with flan-t5-base (about 250M parameters; a GPU is advised).</summary>
    public static AlignmentConfig Base => Workshop with { Profile = "base", Policy = "google/flan-t5-base" };

    /// <summary>No network: the kit's own small summarizer and two classifiers on the real pretrained
    /// all-MiniLM-L6-v2 encoder, built by <c>prepare</c> into <c>assets/offline</c>, on the kit's own articles.
    /// <para>Scores are scaled and centred by their running statistics (TRL's <c>use_score_scaling</c> and
    /// <c>use_score_norm</c>; the reward itself stays 1 x acceptability + 0.5 x neutral). The raw neutral logit varies
    /// about twice as much as the acceptability logit, so without them PPO climbed the neutral reward and let
    /// acceptability fall, and the value head, whose updates are clipped to 0.2 a step, never caught up with scores of
    /// that size.</para></summary>
    public static AlignmentConfig Offline(string? assetsDir = null)
    {
        var assets = assetsDir ?? OfflineAssets.DefaultDirectory();
        return new AlignmentConfig
        {
            Profile = "offline",
            Policy = Path.Combine(assets, "policy"),
            Rewards =
            [
                new("acceptability", Path.Combine(assets, "acceptability"), "LABEL_1", 1.0),
                new("neutral", Path.Combine(assets, "tone"), "LABEL_1", 0.5),
            ],
            Ppo = new PpoConfig { BatchSize = 16, MiniBatchSize = 4, GradientAccumulationSteps = 1, PpoEpochs = 4, LearningRate = 5e-5, InitKlCoef = 0.1, Seed = 0,
                UseScoreScaling = true, UseScoreNorm = true },
            Generation = GenerationConfig.PpoRollout(40),
            Data = "offline",
            Epochs = 1,
            MaxSteps = 80,
            MaxPromptTokens = 256,
            EvalArticles = 150,
            EvalSamples = 4,
            CheckpointEvery = 10,
        };
    }

    public static AlignmentConfig Get(string name) => name.ToLowerInvariant() switch
    {
        "offline" => Offline(),
        "workshop" => Workshop,
        "base" => Base,
        _ => throw new ArgumentException($"Unknown profile '{name}'. Known profiles: {string.Join(", ", Names)}.", nameof(name)),
    };
}

/// <summary>Finds the kit's checkout (the folder with Workshop.sln) from the working directory or the binaries.</summary>
public static class KitRoot
{
    public static string Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Workshop.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException(
            $"Could not find the kit's folder (the one with Workshop.sln) above '{Directory.GetCurrentDirectory()}' or '{AppContext.BaseDirectory}'. Run from inside the clone or set RLHFKIT_ASSETS / RLHFKIT_DATA.");
    }
}
