using RlhfKit.Evaluation;

namespace RlhfKit.Tests.Evaluation;

public sealed class WinRateTests
{
    [Fact]
    public void TiesCountHalfAWin()
    {
        // Pairs: 3 > 1 win, 2 = 2 tie, 1 < 2 loss, 1 > 0 win: (2 + 0.5) / 4.
        var rate = WinRate.Of([3, 2, 1, 1], [1, 2, 2, 0]);
        Assert.Equal((2, 1, 1, 4), (rate.Wins, rate.Ties, rate.Losses, rate.N));
        Assert.Equal(0.625, rate.Rate, 12);
    }

    [Fact]
    public void WilsonIntervalMatchesTheClosedFormForSixOfTenAndTenOfTen()
    {
        // (p + z²/2n ± z √(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964, worked out by hand.
        var (low, high) = WinRate.Wilson(0.6, 10);
        Assert.Equal(0.312674, low, 5);
        Assert.Equal(0.831820, high, 5);
        var all = WinRate.Of(Enumerable.Repeat(1.0, 10).ToList(), Enumerable.Repeat(0.0, 10).ToList());
        Assert.Equal(0.722467, all.Low, 5);
        Assert.Equal(1.0, all.High, 12);
        Assert.True(all.BeatsBase);
    }

    [Fact]
    public void APolicyEqualToTheBaseWinsHalfAndDoesNotBeatIt()
    {
        var same = WinRate.Of([1, 2, 3, 4], [1, 2, 3, 4]);
        Assert.Equal(0.5, same.Rate);
        Assert.True(same.Low < 0.5 && same.High > 0.5);
        Assert.False(same.BeatsBase);
    }

    [Fact]
    public void UnpairedOrNonFiniteScoresAreRefused()
    {
        Assert.Contains("3 candidate scores but 2 baseline", Assert.Throws<ArgumentException>(() => WinRate.Of([1, 2, 3], [1, 2])).Message);
        Assert.Contains("Pair 1", Assert.Throws<ArgumentException>(() => WinRate.Of([1, double.NaN], [1, 2])).Message);
        Assert.Throws<ArgumentException>(() => WinRate.Of([], []));
    }

    [Fact]
    public void FromAnEvaluationItComparesTheNamedComponentAndNamesAnUnknownOne()
    {
        EvaluationRow Row(string id, double baseLearned, double alignedLearned) => new()
        {
            Id = id, Article = "a", BaseSummary = "b", AlignedSummary = "c", BaseTotal = 0, AlignedTotal = 0,
            BaseComponents = new Dictionary<string, double> { ["learned"] = baseLearned }, AlignedComponents = new Dictionary<string, double> { ["learned"] = alignedLearned },
        };
        var evaluation = new EvaluationResult(["learned"], [Row("1", 0, 1), Row("2", 1, 0), Row("3", 0, 2)]);
        var rate = WinRate.Of(evaluation, "learned");
        Assert.Equal((2, 0, 1), (rate.Wins, rate.Ties, rate.Losses));
        Assert.Equal(0.5, WinRate.Of(evaluation, EvaluationResult.Total).Rate); // totals are all 0: three ties
        Assert.Contains("No reward component 'neutral'", Assert.Throws<ArgumentException>(() => WinRate.Of(evaluation, "neutral")).Message);

        // Two samples of one article are not two independent pairs: refused, naming the samples per article.
        var sampled = new EvaluationResult(["learned"], [Row("1", 0, 1), Row("1", 1, 0) with { Sample = 1 }, Row("2", 0, 2)]);
        Assert.Contains("2 samples per article", Assert.Throws<ArgumentException>(() => WinRate.Of(sampled, "learned")).Message);
    }
}
