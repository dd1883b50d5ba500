using RlhfKit.Common;
using RlhfKit.Data;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Evaluation;

/// <summary>
/// Compares the base policy with the aligned one on held-out articles: both summarise every article with the same
/// decoding settings and seed, every reward component scores both summaries, and a teacher-forced pass of the policy
/// and the reference over each summary gives its sequence-level KL estimate Σ_t log p_policy(y_t) − log p_ref(y_t).
/// </summary>
/// <remarks>
/// Models run in eval mode (their training flags are restored afterwards) without gradients. With sampling, batch k
/// is drawn with seed <c>Seed + k</c> (an unseeded config is seeded with 0), the same for both policies, so results
/// are reproducible for a given batch size. The reference defaults to the base model.
/// </remarks>
public sealed class PolicyEvaluator
{
    public PolicyEvaluator(T5ForConditionalGeneration baseModel, T5ForConditionalGeneration alignedModel, IHfTokenizer tokenizer,
        CompositeReward reward, T5ForConditionalGeneration? reference = null)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(alignedModel);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(reward);
        BaseModel = baseModel;
        AlignedModel = alignedModel;
        Reference = reference ?? baseModel;
        Tokenizer = tokenizer;
        Reward = reward;
        foreach (var (name, m) in new[] { ("aligned", alignedModel), ("reference", Reference) })
        {
            var (a, b) = (baseModel.Config, m.Config);
            if (a.VocabSize != b.VocabSize || a.PadTokenId != b.PadTokenId || a.EosTokenId != b.EosTokenId || a.DecoderStartTokenId != b.DecoderStartTokenId)
                throw new ArgumentException($"The {name} model's vocabulary or special tokens differ from the base model's.");
        }
        if (tokenizer.VocabSize > baseModel.Config.VocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} ids but the model's vocabulary only {baseModel.Config.VocabSize}.", nameof(tokenizer));
    }

    /// <summary>The aligned policy is the PPO model's language model (its value head plays no part).</summary>
    public PolicyEvaluator(T5ForConditionalGeneration baseModel, Seq2SeqLMWithValueHead aligned, IHfTokenizer tokenizer,
        CompositeReward reward, T5ForConditionalGeneration? reference = null)
        : this(baseModel, (aligned ?? throw new ArgumentNullException(nameof(aligned))).pretrained_model, tokenizer, reward, reference) { }

    public T5ForConditionalGeneration BaseModel { get; }
    public T5ForConditionalGeneration AlignedModel { get; }
    public T5ForConditionalGeneration Reference { get; }
    public IHfTokenizer Tokenizer { get; }
    public CompositeReward Reward { get; }
    /// <summary>Prompts are truncated to this many tokens, eos included.</summary>
    public int MaxInputLength { get; init; } = 512;
    public double ConfidenceLevel { get; init; } = 0.95;
    /// <summary>Progress messages, one per batch.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Generates a summary of every article with both policies (the same seed for both, batch by batch), scores
    /// them, and measures each one's KL to the reference. With <paramref name="samplesPerArticle"/> above 1 it does so
    /// again with fresh seeds (sampling only) and keeps one row per article and sample; <see cref="EvaluationResult.Summary"/>
    /// then averages each article's samples before its intervals. Sample 0 is what a one-sample evaluation gives.</summary>
    public EvaluationResult Evaluate(IReadOnlyList<Article> articles, GenerationConfig generation, int batchSize = 8, int samplesPerArticle = 1)
    {
        ArgumentNullException.ThrowIfNull(articles);
        ArgumentNullException.ThrowIfNull(generation);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerArticle, 1);
        generation.Validate();
        if (samplesPerArticle > 1 && !generation.DoSample)
            throw new ArgumentException($"samplesPerArticle is {samplesPerArticle}, but without sampling (DoSample = false) every sample of an article is the same summary.", nameof(samplesPerArticle));
        EvaluationResult.CheckReward(Reward); // before the expensive part
        if (articles.Select(a => a.Id).Distinct().Count() != articles.Count) throw new ArgumentException("Article ids must be distinct.", nameof(articles));
        var config = generation.DoSample && generation.Seed is null ? generation with { Seed = 0 } : generation;

        int batches = (articles.Count + batchSize - 1) / batchSize;
        var articleCount = articles.Count;
        // Sample s repeats the articles with seeds that no other sample's batch uses: seed + s·batches + batch.
        articles = [.. Enumerable.Range(0, samplesPerArticle).SelectMany(_ => articles)];
        var n = articles.Count;
        var baseIds = new long[n][];
        var alignedIds = new long[n][];
        var baseKl = new double[n];
        var alignedKl = new double[n];
        var baseRef = new double[n];
        var alignedRef = new double[n];
        var models = new[] { BaseModel, AlignedModel, Reference };
        var wasTraining = models.Select(m => m.training).ToArray();
        try
        {
            foreach (var m in models) m.eval();
            for (int sample = 0; sample < samplesPerArticle; sample++)
            for (int batch = 0; batch < batches; batch++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                int start = sample * articleCount + batch * batchSize, count = Math.Min(batchSize, articleCount - batch * batchSize);
                var queries = PromptedBatch.Queries(articles.Skip(start).Take(count).Select(a => a.Text), Tokenizer, MaxInputLength);
                var batchConfig = config.DoSample ? config with { Seed = config.Seed!.Value + sample * batches + batch } : config;
                var b = GenerateIds(BaseModel, queries, batchConfig);
                var a = GenerateIds(AlignedModel, queries, batchConfig);
                var (klB, refB) = KlAndReferenceLogLik(BaseModel, Reference, queries, b);
                var (klA, refA) = KlAndReferenceLogLik(AlignedModel, Reference, queries, a);
                for (int i = 0; i < count; i++)
                {
                    baseIds[start + i] = b[i]; alignedIds[start + i] = a[i];
                    baseKl[start + i] = klB[i]; alignedKl[start + i] = klA[i];
                    baseRef[start + i] = refB[i]; alignedRef[start + i] = refA[i];
                }
                Log?.Invoke(samplesPerArticle == 1 ? $"evaluated {start + count}/{n} articles" : $"evaluated {start + count}/{n} summaries ({articleCount} articles x {samplesPerArticle} samples)");
            }
        }
        finally
        {
            for (int i = 0; i < models.Length; i++) models[i].train(wasTraining[i]);
        }

        var baseTexts = Tokenizer.Decode(baseIds);
        var alignedTexts = Tokenizer.Decode(alignedIds);
        return Build(articles, baseTexts, alignedTexts, Reward, baseKl, alignedKl,
            baseIds.Select(ContentLength).Select(x => (int?)x).ToList(), alignedIds.Select(ContentLength).Select(x => (int?)x).ToList(),
            baseIds, alignedIds, batchSize, config, ConfidenceLevel, samples: [.. Enumerable.Range(0, n).Select(i => i / articleCount)]).WithReferenceLogLik(baseRef, alignedRef);
    }

    /// <summary>Evaluates summaries generated elsewhere (or saved earlier): scores both sides with
    /// <paramref name="reward"/> and takes the KL values as given (base KL defaults to 0). Token lengths come from
    /// <paramref name="tokenizer"/> (without special tokens) and are left unknown without one.</summary>
    public static EvaluationResult EvaluateSummaries(IReadOnlyList<Article> articles, IReadOnlyList<string> baseSummaries,
        IReadOnlyList<string> alignedSummaries, CompositeReward reward, IReadOnlyList<double> alignedKl,
        IReadOnlyList<double>? baseKl = null, IHfTokenizer? tokenizer = null, int batchSize = 32, double confidenceLevel = 0.95,
        IReadOnlyList<int>? samples = null)
    {
        ArgumentNullException.ThrowIfNull(articles);
        ArgumentNullException.ThrowIfNull(baseSummaries);
        ArgumentNullException.ThrowIfNull(alignedSummaries);
        ArgumentNullException.ThrowIfNull(alignedKl);
        int n = articles.Count;
        if (samples is not null && samples.Count != n) throw new ArgumentException($"Expected {n} sample indices (one per row); got {samples.Count}.", nameof(samples));
        if (baseSummaries.Count != n || alignedSummaries.Count != n || alignedKl.Count != n || (baseKl is not null && baseKl.Count != n))
            throw new ArgumentException($"Expected {n} base summaries, aligned summaries and KL values (one per article); got {baseSummaries.Count}, {alignedSummaries.Count}, {alignedKl.Count}" +
                (baseKl is null ? "." : $" and {baseKl.Count} base KL values."));
        List<int?> Lengths(IReadOnlyList<string> texts) => texts.Select(t => tokenizer is null ? (int?)null : tokenizer.Encode(t, addSpecialTokens: false).Count).ToList();
        return Build(articles, baseSummaries, alignedSummaries, reward, baseKl ?? new double[n], alignedKl,
            Lengths(baseSummaries), Lengths(alignedSummaries), null, null, batchSize, null, confidenceLevel, samples);
    }

    static EvaluationResult Build(IReadOnlyList<Article> articles, IReadOnlyList<string> baseTexts, IReadOnlyList<string> alignedTexts,
        CompositeReward reward, IReadOnlyList<double> baseKl, IReadOnlyList<double> alignedKl, IReadOnlyList<int?> baseTokens,
        IReadOnlyList<int?> alignedTokens, long[][]? baseIds, long[][]? alignedIds, int batchSize, GenerationConfig? generation, double level,
        IReadOnlyList<int>? samples = null)
    {
        var b = EvaluationResult.ScoreInBatches(reward, baseTexts, batchSize);
        var a = EvaluationResult.ScoreInBatches(reward, alignedTexts, batchSize);
        var rows = articles.Select((art, i) => new EvaluationRow
        {
            Id = art.Id, Sample = samples?[i] ?? 0, Article = art.Text, BaseSummary = baseTexts[i], AlignedSummary = alignedTexts[i],
            BaseTotal = b.Total[i], AlignedTotal = a.Total[i],
            BaseComponents = b.Components.ToDictionary(kv => kv.Key, kv => kv.Value[i]),
            AlignedComponents = a.Components.ToDictionary(kv => kv.Key, kv => kv.Value[i]),
            BaseKl = baseKl[i], AlignedKl = alignedKl[i],
            BaseTokens = baseTokens[i], AlignedTokens = alignedTokens[i],
            BaseWords = EvaluationRow.CountWords(baseTexts[i]), AlignedWords = EvaluationRow.CountWords(alignedTexts[i]),
            BaseResponseIds = baseIds?[i], AlignedResponseIds = alignedIds?[i],
        }).ToList();
        return new EvaluationResult(reward.Parts.Select(p => p.Name).ToList(), rows, generation, level);
    }

    /// <summary>Summaries (new tokens, eos kept, padding dropped) of right-padded prompts.</summary>
    static IReadOnlyList<long[]> GenerateIds(T5ForConditionalGeneration model, IReadOnlyList<long[]> queries, GenerationConfig config)
    {
        using var output = Seq2SeqGenerator.Generate(model, queries, config, model.parameters().First().device);
        return output.ResponseIds();
    }

    /// <summary>Per row, the sequence KL Σ_t (log p_policy − log p_ref) (0 when <paramref name="policy"/> is the
    /// reference) and the reference's mean log-likelihood per response token (1/T) Σ_t log p_ref(y_t | y_&lt;t, x), from
    /// one teacher-forced pass of each model (NaN for an empty response).</summary>
    public static (double[] Kl, double[] ReferenceLogLik) KlAndReferenceLogLik(T5ForConditionalGeneration policy, T5ForConditionalGeneration reference,
        IReadOnlyList<long[]> queries, IReadOnlyList<long[]> responses)
    {
        if (queries.Count != responses.Count) throw new ArgumentException($"{queries.Count} queries but {responses.Count} responses.");
        if (queries.Count == 0) return ([], []);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (_, mask) = Batching.PadRight(responses, 0);
        var m = mask.to_type(float64);
        var lr = ResponseLogprobs(reference, queries, responses).to_type(float64) * m;
        var refLogLik = (lr.sum(1) / m.sum(1)).data<double>().ToArray();
        if (ReferenceEquals(policy, reference)) return (new double[queries.Count], refLogLik);
        var lp = ResponseLogprobs(policy, queries, responses).to_type(float64) * m;
        return ((lp - lr).sum(1).data<double>().ToArray(), refLogLik);
    }

    /// <summary>Per row, Σ over the response tokens of log p_policy − log p_reference, by teacher-forced passes of both
    /// models over (query, response). Responses are new tokens without the decoder start token.</summary>
    public static double[] SequenceKl(T5ForConditionalGeneration policy, T5ForConditionalGeneration reference,
        IReadOnlyList<long[]> queries, IReadOnlyList<long[]> responses) => KlAndReferenceLogLik(policy, reference, queries, responses).Kl;

    /// <summary>[B, T] log-probabilities of each response token under <paramref name="model"/> (padding positions
    /// hold garbage; mask them), on the CPU.</summary>
    static Tensor ResponseLogprobs(T5ForConditionalGeneration model, IReadOnlyList<long[]> queries, IReadOnlyList<long[]> responses)
    {
        using var scope = NewDisposeScope();
        var device = model.parameters().First().device;
        var batch = RolloutBatch.Create(queries, responses, model.Config, device);
        using var output = model.Forward(batch.InputIds, batch.AttentionMask, decoderInputIds: batch.DecoderInputIds, decoderAttentionMask: batch.DecoderMask);
        var logprobs = PpoMath.LogprobsFromLogits(output.Logits.to_type(float32), batch.Targets);
        return logprobs.cpu().MoveToOuterDisposeScope();
    }

    int ContentLength(long[] ids) => ids.Length > 0 && ids[^1] == BaseModel.Config.EosTokenId ? ids.Length - 1 : ids.Length;
}
