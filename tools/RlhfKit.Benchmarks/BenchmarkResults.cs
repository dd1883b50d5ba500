namespace RlhfKit.Benchmarks;

/// <summary>Everything one benchmark run measured; serialised as bench.json (snake_case keys).</summary>
public sealed record BenchmarkReport
{
    public required MachineInfo Machine { get; init; }
    public required IReadOnlyList<MatmulResult> Matmul { get; init; }
    public IReadOnlyList<LinearResult> Linear { get; init; } = [];
    public required IReadOnlyList<GenerationResult> Generation { get; init; }
    public PpoStepResult? Ppo { get; init; }
    public RewardScoringResult? Reward { get; init; }
    public AgreementResult? Agreement { get; init; }
    public double TotalSeconds { get; init; }
}

public sealed record MachineInfo
{
    public required string Cpu { get; init; }
    public int LogicalCpus { get; init; }
    public int PhysicalCores { get; init; }
    /// <summary>torch.get_num_threads() before the benchmark changed anything.</summary>
    public int DefaultTorchThreads { get; init; }
    /// <summary>torch.get_num_threads() during the measurements.</summary>
    public int Threads { get; init; }
    public required string Os { get; init; }
    public required string DotNet { get; init; }
    public required string TorchSharp { get; init; }
    public required string Device { get; init; }
    /// <summary>1-minute load average when the run started and ended (/proc/loadavg; −1 where unknown): a busy machine
    /// slows every figure.</summary>
    public double LoadAverage { get; init; }
    public double LoadAverageAtEnd { get; init; }
    public bool Quick { get; init; }
    /// <summary>Compute type of the model sections: <c>float32</c>, or <c>bfloat16</c> (<see cref="BenchmarkOptions.DType"/>).</summary>
    public string ComputeDtype { get; init; } = "float32";
    /// <summary>Whether the CPU has native bfloat16 products (AVX512_BF16 or AMX_BF16; <c>CpuFeatures.HasBf16</c>).</summary>
    public bool CpuHasBf16 { get; init; }
    public int Warmup { get; init; }
    public int Repetitions { get; init; }
    public required string StartedUtc { get; init; }
}

/// <summary>C = A·B for float32 n×n matrices: 2n³ floating-point operations.</summary>
public sealed record MatmulResult(int N, int Threads, double MedianSeconds, double Gflops);

/// <summary>y = x·Wᵀ for x [M, K] and W [N, K]: 2·M·K·N floating-point operations.</summary>
public sealed record LinearResult(string Name, int M, int K, int N, int Threads, double MedianSeconds, double Gflops);

/// <summary>Batched sampling of a fixed number of new tokens (eos masked), with the key/value cache and with the
/// recompute baseline. Model FLOPs (see <see cref="FlopFormula"/>) count the work a cached decoder must do.</summary>
public sealed record GenerationResult
{
    public required string Model { get; init; }
    public long Parameters { get; init; }
    public int Batch { get; init; }
    public int PromptTokens { get; init; }
    public int NewTokens { get; init; }
    /// <summary>The encoder pass alone (part of both paths).</summary>
    public double EncoderSeconds { get; init; }
    public double CachedSeconds { get; init; }
    public double RecomputeSeconds { get; init; }
    /// <summary>Generated tokens (batch × new tokens) per second.</summary>
    public double CachedTokensPerSecond { get; init; }
    public double RecomputeTokensPerSecond { get; init; }
    /// <summary>(cached − encoder) / new tokens: flat across lengths when the cached path is linear.</summary>
    public double CachedMsPerStep { get; init; }
    public double RecomputeMsPerStep { get; init; }
    /// <summary>Recompute time / cached time.</summary>
    public double CacheSpeedup { get; init; }
    public double ModelGflop { get; init; }
    public double CachedGflops { get; init; }
    public double RecomputeGflops { get; init; }
    /// <summary>Cached GFLOP/s over the best measured matmul GFLOP/s.</summary>
    public double CachedFractionOfPeak { get; init; }
    public double RecomputeFractionOfPeak { get; init; }
    public required string FlopFormula { get; init; }
    /// <summary>Measured memory bandwidth, GB/s (<see cref="PerformanceBenchmark.MemoryBandwidthGBps"/>).</summary>
    public double MemoryBandwidthGBps { get; init; }
    /// <summary>Bytes one cached decoding step reads at least, on average over the new tokens
    /// (<see cref="PerformanceBenchmark.DecodingStepBytes"/>).</summary>
    public double DecodingStepBytes { get; init; }
    /// <summary>The step time memory traffic alone allows: <see cref="DecodingStepBytes"/> / bandwidth, in ms.</summary>
    public double BandwidthBoundMsPerStep { get; init; }
    /// <summary><see cref="BandwidthBoundMsPerStep"/> / <see cref="GenerationResult.CachedMsPerStep"/>: 1 would be a step
    /// as fast as reading its bytes once.</summary>
    public double CachedFractionOfBandwidth { get; init; }
}

/// <summary>One PPO step as the alignment loop runs it (generate, score, <c>PpoTrainer.Step</c>), by phase.</summary>
public sealed record PpoStepResult
{
    public required string Model { get; init; }
    public required string RewardModel { get; init; }
    public long PolicyParameters { get; init; }
    public long RewardParameters { get; init; }
    public int Batch { get; init; }
    public int MiniBatch { get; init; }
    public int GradientAccumulationSteps { get; init; }
    public int PpoEpochs { get; init; }
    public int PromptTokens { get; init; }
    public int NewTokens { get; init; }
    public int MeasuredSteps { get; init; }
    /// <summary>Median seconds per phase: rollout generation, reward scoring, then <c>PpoTrainer</c>'s
    /// <c>time/ppo/*</c> (forward_pass = policy and reference passes, optimize_step = minibatch forward,
    /// backward and Adam), and the whole step.</summary>
    public required IReadOnlyDictionary<string, double> PhaseSeconds { get; init; }
    /// <summary>Model GFLOP of each phase that does model work (see <see cref="PerformanceBenchmark.PpoFlopFormula"/>).</summary>
    public IReadOnlyDictionary<string, double> PhaseGflop { get; init; } = new Dictionary<string, double>();
    /// <summary>Achieved GFLOP/s of each such phase over <see cref="MatmulPeakGflops"/>.</summary>
    public IReadOnlyDictionary<string, double> PhaseFractionOfPeak { get; init; } = new Dictionary<string, double>();
    public double MatmulPeakGflops { get; init; }
    public string PpoFlopFormula { get; init; } = PerformanceBenchmark.PpoFlopFormula;
    /// <summary>Peak resident memory of the process during this section (models built, warm-up and measured steps).</summary>
    public long PeakMemoryBytes { get; init; }
    /// <summary>The high-water mark of each phase (rollout_generation, reward_scoring, trainer_step), maximum over steps.</summary>
    public IReadOnlyDictionary<string, long> PeakMemoryByPhaseBytes { get; init; } = new Dictionary<string, long>();
    /// <summary>Resident memory when the section started (runtime, libtorch), included in the peak.</summary>
    public long StartMemoryBytes { get; init; }
    /// <summary>Resident memory once the policy, reference, optimiser and reward model existed, before any step.</summary>
    public long ModelsMemoryBytes { get; init; }
    /// <summary>Whether the high-water mark was reset at the start of the section (else it covers the whole process).</summary>
    public bool PeakResetAtStart { get; init; }
    public required string PeakMemorySource { get; init; }
}

/// <summary>Scoring synthetic texts of varied length with the reward classifier, in length-sorted batches and in
/// input order.</summary>
public sealed record RewardScoringResult
{
    public required string Model { get; init; }
    public int Texts { get; init; }
    public int MinWords { get; init; }
    public int MaxWords { get; init; }
    public int BatchSize { get; init; }
    public long RealTokens { get; init; }
    public long SortedPaddedTokens { get; init; }
    public long UnsortedPaddedTokens { get; init; }
    /// <summary>Each text's token count in input order (so another implementation can score the same batches).</summary>
    public IReadOnlyList<int> TokenLengths { get; init; } = [];
    public double SortedSeconds { get; init; }
    public double UnsortedSeconds { get; init; }
    public double SortedTextsPerSecond { get; init; }
    public double UnsortedTextsPerSecond { get; init; }
    /// <summary>Unsorted time / sorted time.</summary>
    public double SortingSpeedup { get; init; }
    /// <summary>2 × non-embedding weights × real tokens: the useful work, the same for both orders.</summary>
    public double ModelGflop { get; init; }
    public double MatmulPeakGflops { get; init; }
    public double SortedFractionOfPeak { get; init; }
    public double UnsortedFractionOfPeak { get; init; }
}

/// <summary>How far bfloat16 moves the models' outputs from float32 on one fixed batch: each policy's teacher-forced
/// pass over responses it sampled itself (float32, seeded) under bfloat16 autocast (as <c>PpoTrainer.UpdateDType</c>
/// runs it) and with the model cast to bfloat16 (as rollouts run it), and the reward model's logits on random tokens,
/// cast to bfloat16 and under autocast.</summary>
public sealed record AgreementResult
{
    public int Rows { get; init; }
    public int PromptTokens { get; init; }
    public int ResponseTokens { get; init; }
    public required IReadOnlyList<PolicyAgreement> Policies { get; init; }
    public required string RewardModel { get; init; }
    /// <summary>Mean |logit_fp32 − logit_bf16| of the reward model (rows × labels), model cast to bfloat16.</summary>
    public double RewardLogitMeanAbsDiffCast { get; init; }
    /// <summary>The same under bfloat16 autocast (float32 weights).</summary>
    public double RewardLogitMeanAbsDiffAutocast { get; init; }
    /// <summary>Mean |logit_fp32|: the scale of the reward differences.</summary>
    public double RewardLogitMeanAbs { get; init; }
}

/// <summary>One policy's float32 vs bfloat16 figures (see <see cref="AgreementResult"/>).</summary>
public sealed record PolicyAgreement
{
    public required string Model { get; init; }
    /// <summary>Mean |log p_fp32(token) − log p_bf16(token)| over the response tokens, autocast.</summary>
    public double LogprobMeanAbsDiffAutocast { get; init; }
    /// <summary>The same with every weight cast to bfloat16 (the rollout copy).</summary>
    public double LogprobMeanAbsDiffCast { get; init; }
    /// <summary>The largest |difference| of one token's log-probability, autocast.</summary>
    public double LogprobMaxAbsDiffAutocast { get; init; }
    /// <summary>Mean |log p_fp32(token)| of the same tokens: the scale of the differences above.</summary>
    public double LogprobMeanAbs { get; init; }
    /// <summary>Mean over all decoder positions of KL(p_fp32 || p_bf16) of the next-token distributions (nats), autocast.</summary>
    public double NextTokenKlAutocast { get; init; }
    /// <summary>The same with the model cast to bfloat16.</summary>
    public double NextTokenKlCast { get; init; }
    /// <summary>Mean entropy (nats) of the float32 next-token distributions: how peaked they are.</summary>
    public double NextTokenEntropy { get; init; }
}
