using RlhfKit.Alignment;
using RlhfKit.Data;
using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Preferences;
using RlhfKit.Rewards;
using RlhfKit.Tests.Alignment;

namespace RlhfKit.Tests.Preferences;

[Collection(OfflineAssetsCollection.Name)]
public sealed class AiFeedbackTests(OfflineAssetsFixture assets)
{
    [Fact]
    public void TheHigherRewardIsChosenAndTiesOrIdenticalSamplesGiveNoPair()
    {
        var pair = new SampledPair("n", "text", "summarize: text", "first", "second", RewardA: 0.5, RewardB: 1.5);
        Assert.Equal(new PreferencePair("summarize: text", "second", "first"), pair.RankedByReward());
        Assert.Equal(new PreferencePair("summarize: text", "first", "second"), (pair with { RewardA = 2 }).RankedByReward());
        Assert.Null((pair with { RewardA = 1.5 }).RankedByReward());
        Assert.Null((pair with { B = "first" }).RankedByReward());
        Assert.Null((pair with { RewardB = null }).RankedByReward());
    }

    [Fact]
    public async Task TwoSamplesPerArticleAreRankedByTheRewardAndTheSameSeedGivesTheSamePairs()
    {
        var config = Profiles.Offline(assets.Directory);
        var files = await ProfileLoader.PolicyAsync(config);
        var policy = AutoModel.T5FromPretrained(files.Folder);
        var articles = NewsDataset.LoadOffline("train").Take(12).ToList();
        // A judge that prefers the shorter summary, so the expected choice is plain to check.
        var shorter = new CompositeReward().Add("shorter", t => -t.Length);
        var result = AiFeedback.Collect(policy, files.Tokenizer, articles, shorter, config.Generation, config.MaxPromptTokens, batchSize: 5, seed: 3);

        Assert.Equal(articles.Select(a => a.Id), result.Samples.Select(s => s.ArticleId));
        Assert.Equal(result.Samples.Count - result.Identical - result.Ties, result.Pairs.Count);
        Assert.True(result.Pairs.Count >= 6, result.ToString()); // temperature 1 gives different summaries
        Assert.All(result.Pairs, p => Assert.True(p.Chosen.Length < p.Rejected.Length, $"{p.Chosen} | {p.Rejected}"));
        Assert.All(result.Pairs, p => Assert.Contains(p.Prompt, articles.Select(a => NewsDataset.Prompt(a.Text))));

        var again = AiFeedback.Collect(policy, files.Tokenizer, articles, shorter, config.Generation, config.MaxPromptTokens, batchSize: 5, seed: 3);
        Assert.Equal(result.Pairs, again.Pairs);
        var other = AiFeedback.Collect(policy, files.Tokenizer, articles, shorter, config.Generation, config.MaxPromptTokens, batchSize: 5, seed: 4);
        Assert.NotEqual(result.Samples.Select(s => s.A), other.Samples.Select(s => s.A));
    }

    [Fact]
    public async Task GreedyDecodingIsRefusedBecauseItGivesTwoEqualSamples()
    {
        var config = Profiles.Offline(assets.Directory);
        var files = await ProfileLoader.PolicyAsync(config);
        var policy = AutoModel.T5FromPretrained(files.Folder);
        var e = Assert.Throws<ArgumentException>(() => AiFeedback.SampleTwo(policy, files.Tokenizer, NewsDataset.LoadOffline("train").Take(2).ToList(), new GenerationConfig { DoSample = false }));
        Assert.Contains("DoSample", e.Message);
    }
}
