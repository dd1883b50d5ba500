using RlhfKit.Data;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Preferences;

/// <summary>Two summaries of one article sampled from the same policy, and what a judge (a reward, or a person) gave
/// each. <see cref="Prompt"/> is the policy's input, <c>"summarize: " + article</c>.</summary>
public sealed record SampledPair(string ArticleId, string Article, string Prompt, string A, string B, double? RewardA = null, double? RewardB = null)
{
    /// <summary>The two samples are the same text: no preference can be stated.</summary>
    public bool Identical => A == B;

    /// <summary>The pair the rewards rank: the higher-reward summary is <c>chosen</c>; null when the samples are
    /// identical, the rewards are equal (a tie) or missing.</summary>
    public PreferencePair? RankedByReward() =>
        Identical || RewardA is not double a || RewardB is not double b || a == b || !double.IsFinite(a) || !double.IsFinite(b)
            ? null
            : a > b ? new PreferencePair(Prompt, A, B) : new PreferencePair(Prompt, B, A);
}

/// <summary>What <see cref="AiFeedback.Collect"/> produced: every sampled pair with its rewards, and the preference pairs
/// they give (ties and identical samples left out).</summary>
public sealed record AiFeedbackResult(IReadOnlyList<SampledPair> Samples, IReadOnlyList<PreferencePair> Pairs)
{
    /// <summary>Articles whose two samples were identical.</summary>
    public int Identical => Samples.Count(s => s.Identical);
    /// <summary>Articles whose two different samples got the same reward.</summary>
    public int Ties => Samples.Count(s => !s.Identical && s.RankedByReward() is null);

    public override string ToString() =>
        $"{Pairs.Count} preference pairs from {Samples.Count} articles ({Identical} with identical samples, {Ties} ties left out)";
}

/// <summary>
/// Preference pairs from AI feedback (RLAIF): the policy summarizes each article twice by pure sampling at temperature 1
/// (<see cref="GenerationConfig.PpoRollout"/>), a reward scores both summaries, and the higher-scored one becomes
/// <c>chosen</c>. Hundreds of pairs in minutes, in TRL's columns, ready for <see cref="RewardTrainer"/> or DPO.
/// </summary>
/// <remarks>
/// The pairs encode exactly the reward's preferences, no more: a reward model trained on them learns that reward back,
/// and DPO on them approximates PPO on that reward (Rafailov et al. 2023). Batch k is sampled with seed
/// <c>seed + k</c>, so the same arguments give the same pairs.
/// </remarks>
public static class AiFeedback
{
    /// <summary>Two samples of <paramref name="policy"/> per article, unscored. <paramref name="generation"/> must sample
    /// (default: pure sampling, 48 new tokens); <paramref name="progress"/> gets (articles done, articles).</summary>
    public static IReadOnlyList<SampledPair> SampleTwo(T5ForConditionalGeneration policy, IHfTokenizer tokenizer, IReadOnlyList<NewsArticle> articles,
        GenerationConfig? generation = null, int maxPromptTokens = 512, int batchSize = 8, long seed = 0, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(articles);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var config = generation ?? GenerationConfig.PpoRollout(48);
        config.Validate();
        if (!config.DoSample) throw new ArgumentException("Preference pairs need two different samples per article: use a sampling GenerationConfig (DoSample = true), e.g. GenerationConfig.PpoRollout.", nameof(generation));
        if (articles.Count == 0) throw new ArgumentException("No articles to sample from.", nameof(articles));

        var device = policy.parameters().First().device;
        var samples = new List<SampledPair>(articles.Count);
        bool wasTraining = policy.training;
        policy.eval();
        try
        {
            for (int start = 0, k = 0; start < articles.Count; start += batchSize, k++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var batch = articles.Skip(start).Take(batchSize).ToList();
                var queries = PromptedBatch.Queries(batch.Select(a => a.Text), tokenizer, maxPromptTokens);
                // Each prompt twice in one batch: rows 2i and 2i + 1 are article i's two samples.
                var doubled = queries.SelectMany(q => new[] { q, q }).ToList();
                using var output = Seq2SeqGenerator.Generate(policy, doubled, config with { Seed = seed + k }, device);
                var texts = tokenizer.Decode(output.ResponseIds());
                for (int i = 0; i < batch.Count; i++)
                    samples.Add(new SampledPair(batch[i].Id, batch[i].Text, NewsDataset.Prompt(batch[i].Text), texts[2 * i], texts[2 * i + 1]));
                progress?.Invoke(start + batch.Count, articles.Count);
            }
        }
        finally { policy.train(wasTraining); }
        return samples;
    }

    /// <summary>Scores both samples of each pair with <paramref name="reward"/>'s weighted total.</summary>
    public static IReadOnlyList<SampledPair> Score(IReadOnlyList<SampledPair> samples, CompositeReward reward, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(reward);
        var scored = new List<SampledPair>(samples.Count);
        for (int start = 0; start < samples.Count; start += batchSize)
        {
            var chunk = samples.Skip(start).Take(batchSize).ToList();
            var total = reward.Score(chunk.Select(s => s.A).Concat(chunk.Select(s => s.B)).ToList()).Total;
            scored.AddRange(chunk.Select((s, i) => s with { RewardA = total[i], RewardB = total[chunk.Count + i] }));
        }
        return scored;
    }

    /// <summary>
    /// AI feedback end to end: two samples per article (<see cref="SampleTwo"/>), both scored by
    /// <paramref name="reward"/> (<see cref="Score"/>), the higher one <c>chosen</c>; identical samples and ties are left
    /// out. <paramref name="progress"/> gets (articles done, articles) while sampling.
    /// </summary>
    public static AiFeedbackResult Collect(T5ForConditionalGeneration policy, IHfTokenizer tokenizer, IReadOnlyList<NewsArticle> articles, CompositeReward reward,
        GenerationConfig? generation = null, int maxPromptTokens = 512, int batchSize = 8, long seed = 0, Action<int, int>? progress = null)
    {
        var samples = Score(SampleTwo(policy, tokenizer, articles, generation, maxPromptTokens, batchSize, seed, progress), reward);
        var pairs = samples.Select(s => s.RankedByReward()).OfType<PreferencePair>().Distinct().ToList();
        return new AiFeedbackResult(samples, pairs);
    }
}
