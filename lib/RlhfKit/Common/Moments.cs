namespace RlhfKit.Common;

/// <summary>Sample statistics shared by the trainers' logs and the evaluation's intervals.</summary>
public static class Moments
{
    /// <summary>The sample standard deviation around <paramref name="mean"/>, with Bessel's correction:
    /// <c>sqrt(Σ (x − mean)² / (n − 1))</c>, summed in order; NaN for fewer than two values (it is undefined there).</summary>
    public static double SampleStd(IReadOnlyList<double> values, double mean)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count < 2) return double.NaN;
        double ss = 0;
        foreach (var x in values) ss += (x - mean) * (x - mean);
        return Math.Sqrt(ss / (values.Count - 1));
    }
}
