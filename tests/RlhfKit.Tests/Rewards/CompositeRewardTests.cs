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
