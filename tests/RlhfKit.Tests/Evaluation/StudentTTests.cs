using RlhfKit.Evaluation;

namespace RlhfKit.Tests.Evaluation;

public class StudentTTests
{
    // Reference values from mpmath (40 digits): root of betainc(df/2, 1/2, 0, df/(df+t^2), regularized)/2 = 1 - p.
    [Theory]
    [InlineData(0.975, 1, 12.706204736174693)]
    [InlineData(0.975, 3, 3.1824463052837084)]
    [InlineData(0.975, 4, 2.7764451051977935)]
    [InlineData(0.975, 5, 2.5705818356363148)]
    [InlineData(0.975, 9, 2.262157162798205)]
    [InlineData(0.975, 19, 2.0930240544083093)]
    [InlineData(0.975, 30, 2.0422724563012379)]
    [InlineData(0.975, 100, 1.9839715185235519)]
    [InlineData(0.975, 1000, 1.9623390808264081)]
    [InlineData(0.95, 10, 1.8124611228116759)]
    [InlineData(0.995, 5, 4.0321429835552272)]
    [InlineData(0.9995, 3, 12.923978636687964)]
    [InlineData(0.999, 1000, 3.0984021639129226)]
    [InlineData(0.9, 2.5, 1.7302509288071768)]
    public void QuantileMatchesReferenceValues(double p, double df, double expected)
    {
        Assert.Equal(expected, StudentT.Quantile(p, df), 1e-9 * expected);
        Assert.Equal(-expected, StudentT.Quantile(1 - p, df), 1e-8 * expected); // symmetry (1 - p is rounded)
    }

    [Fact]
    public void TextbookTwoSidedCriticalValues()
    {
        Assert.Equal(12.706, StudentT.Critical(0.95, 1), 3);
        Assert.Equal(2.262, StudentT.Critical(0.95, 9), 3);
        Assert.Equal(2.042, StudentT.Critical(0.95, 30), 3);
        Assert.Equal(1.962, StudentT.Critical(0.95, 1000), 3);
    }

    /// <summary>df 1 (Cauchy) and df 2 have closed forms; check them across the whole range of p.</summary>
    [Fact]
    public void QuantileMatchesClosedFormsForOneAndTwoDegreesOfFreedom()
    {
        foreach (var p in new[] { 1e-6, 0.001, 0.01, 0.1, 0.3, 0.49, 0.5, 0.51, 0.7, 0.9, 0.99, 0.999, 1 - 1e-6 })
        {
            double cauchy = Math.Tan(Math.PI * (p - 0.5));
            double two = (2 * p - 1) / Math.Sqrt(2 * p * (1 - p));
            Assert.Equal(cauchy, StudentT.Quantile(p, 1), 1e-9 * Math.Max(1, Math.Abs(cauchy)));
            Assert.Equal(two, StudentT.Quantile(p, 2), 1e-9 * Math.Max(1, Math.Abs(two)));
        }
    }

    [Fact]
    public void CdfInvertsQuantileAndLargeDfApproachesTheNormal()
    {
        foreach (var df in new[] { 1.0, 2, 3.5, 7, 25, 200, 5000 })
            foreach (var p in new[] { 0.001, 0.05, 0.3, 0.5, 0.8, 0.975, 0.9999 })
                Assert.Equal(p, StudentT.Cdf(StudentT.Quantile(p, df), df), 1e-12 + 1e-10 * p);
        Assert.Equal(1.9599642217672051, StudentT.Quantile(0.975, 1e7), 1e-8); // Cornish-Fisher branch
        Assert.Equal(1.9599639845400542, StudentT.NormalQuantile(0.975), 1e-8);
        Assert.Equal(1.9599639845400542, StudentT.Quantile(0.975, double.PositiveInfinity), 1e-8);
        // Continuity across the switch to the expansion.
        Assert.Equal(StudentT.Quantile(0.975, 999_999), StudentT.Quantile(0.975, 1_000_001), 5e-9);
        Assert.Equal(0.0, StudentT.Quantile(0.5, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Quantile(1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Quantile(0.9, 0));
    }

    [Fact]
    public void LogGammaAndIncompleteBetaMatchKnownValues()
    {
        Assert.Equal(Math.Log(24), StudentT.LogGamma(5), 1e-13);
        Assert.Equal(0.5 * Math.Log(Math.PI), StudentT.LogGamma(0.5), 1e-13);
        Assert.Equal(857.93366982585743, StudentT.LogGamma(200), 1e-9); // ln(199!)
        // I_x(1, b) = 1 - (1-x)^b and I_x(a, 1) = x^a.
        Assert.Equal(1 - Math.Pow(0.7, 3.5), StudentT.RegularizedIncompleteBeta(1, 3.5, 0.3), 1e-14);
        Assert.Equal(Math.Pow(0.3, 2.5), StudentT.RegularizedIncompleteBeta(2.5, 1, 0.3), 1e-14);
    }
}
