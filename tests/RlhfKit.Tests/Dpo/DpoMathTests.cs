using RlhfKit.Dpo;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Dpo;

/// <summary>
/// TRL's DPO formulas on fixed numbers, the expected values worked out by hand from the formulas. Two pairs,
/// beta 0.1: pair 1 has policy log-probs (chosen, rejected) = (-10, -12), reference (-11, -11), so
/// z = (-10 + 12) - (-11 + 11) = 2 and beta z = 0.2; pair 2 has policy (-5, -4), reference (-5, -5), so z = -1 and beta z = -0.1.
/// softplus(x) = log(1 + e^x): softplus(-0.2) = 0.5981388693815918, softplus(0.2) = 0.7981388693815918,
/// softplus(0.1) = 0.7443966600735710.
/// </summary>
public class DpoMathTests
{
    static Tensor T(params double[] x) => tensor(x, dtype: float64);

    static DpoLossResult TwoPairs(DpoConfig config) =>
        DpoMath.Loss(T(-10, -5), T(-12, -4), T(-11, -5), T(-11, -5), config);

    [Fact]
    public void SigmoidLossIsTheMeanOfMinusLogSigmoidOfBetaTimesTheLogRatioDifference()
    {
        using var scope = NewDisposeScope();
        var r = TwoPairs(new DpoConfig());
        // -log σ(0.2) = softplus(-0.2); -log σ(-0.1) = softplus(0.1); mean of the two.
        Assert.Equal((0.5981388693815918 + 0.7443966600735710) / 2, r.Loss.item<double>(), 12);
        Assert.Equal(new[] { 0.1, 0.0 }, r.ChosenRewards.data<double>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-12);   // 0.1 * (policy - reference)
        Assert.Equal(new[] { -0.1, 0.1 }, r.RejectedRewards.data<double>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void LabelSmoothingMixesInTheLossOfTheFlippedLabel()
    {
        using var scope = NewDisposeScope();
        // Pair 1 only: 0.9 * softplus(-0.2) + 0.1 * softplus(0.2) = 0.6181388693815918.
        var r = DpoMath.Loss(T(-10), T(-12), T(-11), T(-11), new DpoConfig { LabelSmoothing = 0.1 });
        Assert.Equal(0.6181388693815918, r.Loss.item<double>(), 12);
    }

    [Fact]
    public void IpoLossIsTheSquaredDistanceOfTheLogRatioDifferenceFromOneOverTwoBeta()
    {
        using var scope = NewDisposeScope();
        // ((2 - 5)^2 + (-1 - 5)^2) / 2 = (9 + 36) / 2.
        Assert.Equal(22.5, TwoPairs(new DpoConfig { LossType = DpoLossType.Ipo }).Loss.item<double>(), 12);
    }

    [Fact]
    public void HingeLossIsReluOfOneMinusBetaTimesTheLogRatioDifference()
    {
        using var scope = NewDisposeScope();
        // (relu(1 - 0.2) + relu(1 + 0.1)) / 2 = (0.8 + 1.1) / 2.
        Assert.Equal(0.95, TwoPairs(new DpoConfig { LossType = DpoLossType.Hinge }).Loss.item<double>(), 12);
    }

    [Fact]
    public void ReferenceFreeLossIgnoresTheReferenceInTheLossButNotInTheRewards()
    {
        using var scope = NewDisposeScope();
        // Pair 2 alone: z = -5 + 4 = -1 with or without its (equal) reference; pair 1 reference-free: z = 2 as well.
        var r = DpoMath.Loss(T(-10), T(-12), T(-30), T(-1), new DpoConfig { ReferenceFree = true });
        Assert.Equal(0.5981388693815918, r.Loss.item<double>(), 12);
        Assert.Equal(2.0, r.ChosenRewards.item<double>(), 12);  // 0.1 * (-10 + 30)
    }

    [Fact]
    public void StatisticsCarryTrlsNamesAndValues()
    {
        using var scope = NewDisposeScope();
        var r = TwoPairs(new DpoConfig());
        // Logits [2 pairs, 1 position, 2 vocab]; the mask keeps both positions, so logits/* are plain means.
        var chosenLogits = tensor(new double[] { 1, 3, 5, 7 }, dtype: float64).reshape(2, 1, 2);
        var rejectedLogits = tensor(new double[] { -1, -3, 0, 0 }, dtype: float64).reshape(2, 1, 2);
        var mask = ones(2, 1, dtype: int64);
        var s = DpoMath.Statistics(r, T(-10, -5), T(-12, -4), chosenLogits, mask, rejectedLogits, mask, prefix: "eval_");
        Assert.Equal(0.05, s["eval_rewards/chosen"], 12);      // (0.1 + 0) / 2
        Assert.Equal(0.0, s["eval_rewards/rejected"], 12);     // (-0.1 + 0.1) / 2
        Assert.Equal(0.5, s["eval_rewards/accuracies"], 12);   // pair 1: 0.1 > -0.1; pair 2: 0 < 0.1
        Assert.Equal(0.05, s["eval_rewards/margins"], 12);     // (0.2 - 0.1) / 2
        Assert.Equal(-7.5, s["eval_logps/chosen"], 12);
        Assert.Equal(-8.0, s["eval_logps/rejected"], 12);
        Assert.Equal(4.0, s["eval_logits/chosen"], 12);
        Assert.Equal(-1.0, s["eval_logits/rejected"], 12);
        Assert.Equal((0.5981388693815918 + 0.7443966600735710) / 2, s["eval_loss"], 12);
    }

    [Fact]
    public void SequenceLogProbsSumTheResponseTokensAndSkipPadding()
    {
        using var scope = NewDisposeScope();
        // Position 0: logits (0, ln 3) give p = (1/4, 3/4), label 1 -> ln 0.75; position 1: (0, 0), label 0 -> ln 0.5;
        // position 2 is padding. Sum ln 0.375 = -0.9808292530117262; average over the 2 tokens -0.4904146265058631.
        var logits = tensor(new double[] { 0, Math.Log(3), 0, 0, 9, -9 }, dtype: float64).reshape(1, 3, 2);
        var labels = tensor(new long[] { 1, 0, 1 }).reshape(1, 3);
        var mask = tensor(new long[] { 1, 1, 0 }).reshape(1, 3);
        Assert.Equal(-0.9808292530117262, DpoMath.SequenceLogProbs(logits, labels, mask).item<double>(), 12);
        Assert.Equal(-0.4904146265058631, DpoMath.SequenceLogProbs(logits, labels, mask, average: true).item<double>(), 12);
    }

    [Theory]
    [InlineData(nameof(DpoConfig.Beta))]
    [InlineData(nameof(DpoConfig.LabelSmoothing))]
    [InlineData(nameof(DpoConfig.BatchSize))]
    [InlineData(nameof(DpoConfig.MaxPromptLength))]
    [InlineData(nameof(DpoConfig.LearningRate))]
    public void ValidateNamesTheBadOption(string option)
    {
        var bad = option switch
        {
            nameof(DpoConfig.Beta) => new DpoConfig { Beta = 0 },
            nameof(DpoConfig.LabelSmoothing) => new DpoConfig { LabelSmoothing = 0.5 },
            nameof(DpoConfig.BatchSize) => new DpoConfig { BatchSize = 0 },
            nameof(DpoConfig.MaxPromptLength) => new DpoConfig { MaxPromptLength = 0 },
            _ => new DpoConfig { LearningRate = double.NaN },
        };
        var e = Assert.Throws<ArgumentException>(bad.Validate);
        Assert.Equal(option, e.ParamName);
        Assert.StartsWith(option, e.Message);
    }

    [Fact]
    public void DefaultsAreTrls()
    {
        var c = new DpoConfig();
        Assert.Equal(0.1, c.Beta);
        Assert.Equal(0.0, c.LabelSmoothing);
        Assert.Equal(DpoLossType.Sigmoid, c.LossType);
        Assert.False(c.ReferenceFree);
        Assert.Equal(128, c.MaxPromptLength);
        Assert.Equal(128, c.MaxTargetLength);
        c.Validate();
    }
}
