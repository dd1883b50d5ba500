using RlhfKit.Common;
namespace RlhfKit.Evaluation;

/// <summary>
/// Student's t distribution, for the confidence intervals of the evaluation. The CDF comes from the regularized
/// incomplete beta function (continued fraction, modified Lentz), the quantile by bracketing and bisecting that CDF to
/// full double precision (better than 1e-9 relative up to a million degrees of freedom, where cancellation in ln Γ
/// starts to limit it); beyond that a Cornish–Fisher expansion around Acklam's normal quantile takes over, accurate to about 2e-9.
/// </summary>
public static class StudentT
{
    const double LargeDf = 1e6;

    /// <summary>The p-quantile of Student's t with <paramref name="df"/> degrees of freedom (df may be fractional).</summary>
    public static double Quantile(double p, double df)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must lie in (0, 1).");
        if (!(df > 0)) throw new ArgumentOutOfRangeException(nameof(df), df, "degrees of freedom must be positive.");
        if (p == 0.5) return 0;
        if (p < 0.5) return -Quantile(1 - p, df);
        if (double.IsPositiveInfinity(df)) return NormalQuantile(p);
        if (df > LargeDf)
        {
            // Cornish–Fisher (Abramowitz & Stegun 26.7.5), first three terms.
            double z = NormalQuantile(p), z2 = z * z;
            double g1 = (z2 + 1) * z / 4;
            double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
            double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
            return z + g1 / df + g2 / (df * df) + g3 / (df * df * df);
        }
        double q = 1 - p; // upper tail probability
        double lo = 0, hi = 1;
        while (UpperTail(hi, df) > q)
        {
            lo = hi;
            hi *= 2;
            if (double.IsInfinity(hi)) return double.PositiveInfinity;
        }
        for (int i = 0; i < 2000 && hi - lo > 4e-16 * hi; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (mid <= lo || mid >= hi) break;
            if (UpperTail(mid, df) > q) lo = mid; else hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    /// <summary>P(T &lt;= t) for Student's t with <paramref name="df"/> degrees of freedom.</summary>
    public static double Cdf(double t, double df)
    {
        if (!(df > 0)) throw new ArgumentOutOfRangeException(nameof(df), df, "degrees of freedom must be positive.");
        if (double.IsNaN(t)) return double.NaN;
        return t >= 0 ? 1 - UpperTail(t, df) : UpperTail(-t, df);
    }

    /// <summary>P(T &gt; t) for t &gt;= 0: half of I_{df/(df+t²)}(df/2, 1/2).</summary>
    static double UpperTail(double t, double df)
    {
        if (t == 0) return 0.5;
        if (double.IsPositiveInfinity(t)) return 0;
        double x = df / (df + t * t);
        return 0.5 * RegularizedIncompleteBeta(df / 2, 0.5, x);
    }

    /// <summary>The two-sided critical value t_{(1+level)/2, df}: e.g. 12.706 for level 0.95 and df 1.</summary>
    public static double Critical(double level, double df)
    {
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), level, "level must lie in (0, 1).");
        return Quantile(0.5 + level / 2, df);
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function (Numerical Recipes' betai/betacf).</summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (!(a > 0) || !(b > 0)) throw new ArgumentOutOfRangeException(nameof(a), "a and b must be positive.");
        if (double.IsNaN(x)) return double.NaN;
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double logFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x);
        double front = Math.Exp(logFront);
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(a, b, x) / a
            : 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
    }

    static double BetaContinuedFraction(double a, double b, double x)
    {
        const double tiny = 1e-300, eps = 1e-16;
        double qab = a + b, qap = a + 1, qam = a - 1;
        double c = 1, d = 1 - qab * x / qap;
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 100_000; m++)
        {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.Abs(del - 1) < eps) return h;
        }
        throw new ArithmeticException($"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x}).");
    }

    static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) by the Lanczos approximation (g = 7, 9 terms; relative error about 1e-15).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double sum = Lanczos[0];
        for (int i = 1; i < Lanczos.Length; i++) sum += Lanczos[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    /// <summary>The standard normal p-quantile (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double NormalQuantile(double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must lie in (0, 1).");
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low)
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        {
            double q = p - 0.5, r = q * q;
            return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
    }
}

/// <summary>Mean, sample standard deviation and the t confidence interval of the mean of a sample.</summary>
public readonly record struct MeanInterval(int N, double Mean, double Sd, double Low, double High)
{
    public double HalfWidth => (High - Low) / 2;

    /// <summary>mean ± t_{(1+level)/2, n-1} · sd/√n; the interval (and sd) are NaN for fewer than two values.</summary>
    public static MeanInterval Of(IReadOnlyList<double> values, double level = 0.95)
    {
        int n = values.Count;
        if (n == 0) return new(0, double.NaN, double.NaN, double.NaN, double.NaN);
        double mean = values.Sum() / n;
        if (n < 2) return new(1, mean, double.NaN, double.NaN, double.NaN);
        double sd = Moments.SampleStd(values, mean);
        double half = StudentT.Critical(level, n - 1) * sd / Math.Sqrt(n);
        return new(n, mean, sd, mean - half, mean + half);
    }
}
