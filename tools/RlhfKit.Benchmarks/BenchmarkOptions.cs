using RlhfKit.Models;
using RlhfKit.Ppo;

namespace RlhfKit.Benchmarks;

/// <summary>What <see cref="PerformanceBenchmark"/> measures and at which sizes. <see cref="Full"/> is the default
/// run (about 10 minutes on two cores); <see cref="Quick"/> uses small shapes and finishes in seconds (for tests).</summary>
public sealed record BenchmarkOptions
{
    /// <summary>The sections known to the runner, in the order they run.</summary>
    public static readonly IReadOnlyList<string> AllSections = ["matmul", "generation", "ppo", "reward", "agreement"];

    public bool IsQuick { get; init; }
    /// <summary>Which of <see cref="AllSections"/> to run.</summary>
    public IReadOnlyList<string> Sections { get; init; } = AllSections;
    /// <summary>torch.set_num_threads before measuring; null keeps TorchSharp's default.</summary>
    public int? Threads { get; init; }
    /// <summary>Untimed runs before each measurement.</summary>
    public int Warmup { get; init; } = 1;
    /// <summary>Timed runs per measurement; the median is reported.</summary>
    public int Repetitions { get; init; } = 3;
    /// <summary>Compute type of the model sections (<c>bench --dtype</c>): null = float32; <c>bfloat16</c> samples with the
    /// generation model cast to bfloat16, scores with the reward model cast to bfloat16, and runs the PPO step with
    /// bfloat16 rollouts (<see cref="PpoTrainer.RolloutDType"/>), a bfloat16 reward model and the update under bfloat16
    /// autocast (<see cref="PpoTrainer.UpdateDType"/>). The agreement section always compares float32 with bfloat16.</summary>
    public TorchSharp.torch.ScalarType? DType { get; init; }
    /// <summary>Called with a line of progress.</summary>
    public Action<string>? Log { get; init; }

    // Machine limit: square float32 matrix products.
    public IReadOnlyList<int> MatmulSizes { get; init; } = [1024, 2048];
    /// <summary>Also measure the largest matmul with one thread (shows what the extra threads buy).</summary>
    public bool MatmulSingleThread { get; init; } = true;
    /// <summary>Linear layers at the models' own shapes (x [m, k] times Wᵀ, W [n, k]), timed at the set threads and at
    /// one thread: how fast the BLAS library is where the models spend their time (skinny products while decoding).</summary>
    public IReadOnlyList<LinearShape> LinearShapes { get; init; } =
    [
        new("lm_head, decoding batch 8", 8, 512, 32128),
        new("feed-forward wi, decoding batch 8", 8, 512, 1024),
        new("feed-forward wi, encoder 8 x 128 tokens", 1024, 512, 1024),
    ];

    // Generation: cached vs recompute.
    public T5Config GenerationModel { get; init; } = FlanT5SmallShape();
    public string GenerationModelName { get; init; } = "flan-t5-small shape (random weights)";
    /// <summary>A saved T5 folder to measure as well (the offline policy); null skips it.</summary>
    public string? PolicyFolder { get; init; }
    public int GenerationBatch { get; init; } = 8;
    public int PromptTokens { get; init; } = 128;
    public IReadOnlyList<int> NewTokens { get; init; } = [32, 64, 128];
    /// <summary>float32 elements of each buffer of the memory-bandwidth copy (64M: 256 MiB, far past any cache).</summary>
    public long BandwidthElements { get; init; } = 64L << 20;
    /// <summary>Timed runs of the recompute baseline (it is slow: quadratic in the new tokens).</summary>
    public int RecomputeRepetitions { get; init; } = 1;

    // PPO step.
    public T5Config PpoModel { get; init; } = FlanT5SmallShape();
    public string PpoModelName { get; init; } = "flan-t5-small shape (random weights)";
    public RobertaConfig RewardModel { get; init; } = RobertaBaseShape();
    public string RewardModelName { get; init; } = "roberta-base shape (random weights)";
    public int PpoPromptTokens { get; init; } = 512;
    public int PpoNewTokens { get; init; } = 48;
    /// <summary>The workshop profile's PPO settings (batch 8, minibatch 1, 4 accumulation steps, 4 epochs).</summary>
    public PpoConfig Ppo { get; init; } = new() { BatchSize = 8, MiniBatchSize = 1, GradientAccumulationSteps = 4, LearningRate = 2e-5 };
    /// <summary>Measured PPO steps (after one warm-up step on short prompts).</summary>
    public int PpoSteps { get; init; } = 1;

    // Reward scoring throughput.
    public int RewardTexts { get; init; } = 64;
    public int RewardMinWords { get; init; } = 10;
    public int RewardMaxWords { get; init; } = 400;
    public int RewardBatchSize { get; init; } = 16;
    /// <summary>Timed runs of each scoring order (a full pass over 64 texts of up to 400 words takes tens of seconds).</summary>
    public int RewardRepetitions { get; init; } = 2;

    // Agreement of bfloat16 with float32 on a fixed batch (seeded random weights).
    public T5Config AgreementModel { get; init; } = FlanT5SmallShape();
    public string AgreementModelName { get; init; } = "flan-t5-small shape (random weights, seed 0)";
    public RobertaConfig AgreementRewardModel { get; init; } = RobertaBaseShape();
    public string AgreementRewardModelName { get; init; } = "roberta-base shape (random weights, seed 0)";
    public int AgreementRows { get; init; } = 8;
    public int AgreementPromptTokens { get; init; } = 64;
    public int AgreementResponseTokens { get; init; } = 32;

    /// <summary>google/flan-t5-small's shape: d_model 512, d_kv 64, 6 heads, d_ff 1024, 8+8 layers, vocab 32128,
    /// gated-GELU, untied output layer (77M parameters).</summary>
    public static T5Config FlanT5SmallShape() => new()
    {
        VocabSize = 32128, DModel = 512, DKv = 64, DFf = 1024, NumLayers = 8, NumDecoderLayers = 8, NumHeads = 6,
        FeedForwardProj = "gated-gelu", TieWordEmbeddings = false, PadTokenId = 0, EosTokenId = 1, DecoderStartTokenId = 0,
    };

    /// <summary>roberta-base's shape with a two-label head: 12 layers, hidden 768, 12 heads, intermediate 3072,
    /// vocab 50265, 514 positions (125M parameters).</summary>
    public static RobertaConfig RobertaBaseShape() => new()
    {
        VocabSize = 50265, HiddenSize = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, IntermediateSize = 3072,
        MaxPositionEmbeddings = 514, TypeVocabSize = 1, LayerNormEps = 1e-5, Id2Label = ["LABEL_0", "LABEL_1"],
    };

    /// <summary>The default run: the shapes of the issue (about 10 minutes on two cores).</summary>
    public static BenchmarkOptions Full(string? policyFolder = null) => new() { PolicyFolder = policyFolder };

    /// <summary>Small shapes for a smoke test: every section, every number, a few seconds. The generation model stays
    /// large enough that compute, not per-call overhead, dominates, so cached vs recompute is meaningful.</summary>
    public static BenchmarkOptions Quick(string? policyFolder = null) => new()
    {
        IsQuick = true,
        PolicyFolder = policyFolder,
        Repetitions = 3,
        MatmulSizes = [256, 512],
        LinearShapes = [new("lm_head, decoding batch 8", 8, 512, 4016), new("feed-forward wi, decoding batch 8", 8, 512, 128)],
        GenerationModel = new()
        {
            VocabSize = 4096, DModel = 256, DKv = 32, DFf = 512, NumLayers = 4, NumDecoderLayers = 4, NumHeads = 8,
            FeedForwardProj = "gated-gelu", TieWordEmbeddings = false,
        },
        GenerationModelName = "small T5 (random weights)",
        GenerationBatch = 4,
        PromptTokens = 64,
        NewTokens = [16, 32],
        BandwidthElements = 8L << 20,
        RecomputeRepetitions = 2,
        PpoModel = new()
        {
            VocabSize = 512, DModel = 64, DKv = 16, DFf = 128, NumLayers = 2, NumDecoderLayers = 2, NumHeads = 4,
            FeedForwardProj = "gated-gelu", TieWordEmbeddings = false,
        },
        PpoModelName = "tiny T5 (random weights)",
        RewardModel = RobertaBaseShape() with { VocabSize = 1000, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128 },
        RewardModelName = "tiny RoBERTa (random weights)",
        PpoPromptTokens = 32,
        PpoNewTokens = 8,
        Ppo = new() { BatchSize = 4, MiniBatchSize = 2, GradientAccumulationSteps = 1, PpoEpochs = 2, LearningRate = 2e-5 },
        PpoSteps = 1,
        RewardTexts = 16,
        RewardMinWords = 5,
        RewardMaxWords = 80,
        RewardBatchSize = 4,
        RewardRepetitions = 3,
        AgreementModel = new()
        {
            VocabSize = 512, DModel = 64, DKv = 16, DFf = 128, NumLayers = 2, NumDecoderLayers = 2, NumHeads = 4,
            FeedForwardProj = "gated-gelu", TieWordEmbeddings = false,
        },
        AgreementModelName = "tiny T5 (random weights, seed 0)",
        AgreementRewardModel = RobertaBaseShape() with { VocabSize = 1000, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128 },
        AgreementRewardModelName = "tiny RoBERTa (random weights, seed 0)",
        AgreementRows = 4,
        AgreementPromptTokens = 16,
        AgreementResponseTokens = 8,
    };
}

/// <summary>A linear layer's shape: input rows <paramref name="M"/>, input features <paramref name="K"/>, outputs <paramref name="N"/>.</summary>
public sealed record LinearShape(string Name, int M, int K, int N);
