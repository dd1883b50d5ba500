using RlhfKit.Rewards;

namespace RlhfKit.Tests.Rewards;

public class CompositeRewardTests
{
    static readonly string[] Texts = ["a", "bb", "cccc"];

    [Fact]
    public void TotalIsTheWeightedSumAndEachComponentIsLogged()
    {
        var reward = new CompositeReward()
            .Add("length", t => t.Length, weight: 1.0)
            .Add("has_c", t => t.Contains('c') ? 2f : 0f, weight: 0.5);
        var result = reward.Score(Texts);
        Assert.Equal(new[] { 1f, 2f, 5f }, result.Total);
        Assert.Equal(new[] { 1f, 2f, 4f }, result.Components["length"]);
        Assert.Equal(new[] { 0f, 0f, 2f }, result.Components["has_c"]);
        Assert.Equal([("length", 1.0), ("has_c", 0.5)], reward.Parts);
    }

    [Fact]
    public void NormalisationUsesRunningStatisticsAndClippingBoundsTheTotal()
    {
        var reward = new CompositeReward { Normalize = true, ClipAt = 1.0 }.Add("length", t => t.Length);
        var first = reward.Score(Texts); // mean 7/3, sample std of [1,2,4] = 1.5275
        Assert.Equal((1 - 7.0 / 3) / 1.5275252, first.Total[0], 1e-4);
        Assert.Equal(1f, first.Total[2]); // (4 - 2.333)/1.5275 = 1.09, clipped
        var second = reward.Score(["dddddddd"]); // running stats now over [1,2,4,8]: mean 3.75, std 3.0957
        Assert.Equal(1f, second.Total[0]);
        var unclipped = new CompositeReward { Normalize = true }.Add("length", t => t.Length);
        unclipped.Score(Texts);
        Assert.Equal((8 - 3.75) / 3.0956959, unclipped.Score(["dddddddd"]).Total[0], 1e-4);
    }

    [Fact]
    public void MisconfiguredRewardsFailClearly()
    {
        Assert.Throws<InvalidOperationException>(() => new CompositeReward().Score(Texts));
        var reward = new CompositeReward().Add("x", _ => 1f);
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => reward.Add("x", _ => 2f)).Message);
        Assert.Throws<ArgumentException>(() => new CompositeReward().Add("y", _ => 1f, double.NaN));
        var broken = new CompositeReward().Add(new Broken());
        Assert.Contains("'broken' returned 1 scores for 3 texts", Assert.Throws<InvalidOperationException>(() => broken.Score(Texts)).Message);
    }

    sealed class Broken : IRewardComponent
    {
        public string Name => "broken";
        public float[] Score(IReadOnlyList<string> texts) => [0f];
    }
}
