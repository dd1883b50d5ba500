using Microsoft.Data.Analysis;

namespace RlhfKit.Evaluation;

/// <summary>One alignment method against the base policy on the same held-out articles.</summary>
public sealed record MethodResult(string Method, EvaluationResult Evaluation);

/// <summary>
/// Several ways to get better summaries, side by side on the same articles: the base policy, best-of-n samples of it,
/// the PPO policy. Each method's <see cref="EvaluationResult"/> compares it with the same base summaries, so every row
/// gives the method's mean of each metric with its interval and its paired gain over the base with that interval.
/// </summary>
public static class MethodComparison
{
    /// <summary>The metrics the methods are compared on: the first one's reward metrics, <c>kl</c>, and the fluency proxies
    /// that every method has (summaries evaluated without a reference pass have no <c>ref_loglik</c>).</summary>
    public static IReadOnlyList<string> Metrics(IReadOnlyList<MethodResult> methods) => methods.Count == 0 ? [] :
        [.. methods[0].Evaluation.RewardMetrics, EvaluationResult.Kl,
         .. methods[0].Evaluation.FluencyMetrics.Where(f => methods.All(m => m.Evaluation.FluencyMetrics.Contains(f)))];

    /// <summary>One row per method and metric (the reward metrics, <c>kl</c>, and the fluency proxies every method
    /// has): <c>method</c>, <c>metric</c>,
    /// <c>mean</c> and its interval, <c>gain</c> over the base and its interval. The base comes first, from the first
    /// method's base side.</summary>
    public static DataFrame ToDataFrame(IReadOnlyList<MethodResult> methods)
    {
        ArgumentNullException.ThrowIfNull(methods);
        if (methods.Count == 0) throw new ArgumentException("At least one method is needed.", nameof(methods));
        var metrics = Metrics(methods);
        var (method, metric, mean, low, high, gain, gainLow, gainHigh) =
            (new List<string>(), new List<string>(), new List<double>(), new List<double>(), new List<double>(), new List<double>(), new List<double>(), new List<double>());
        void Add(string name, string m, double mu, double lo, double hi, double g, double gl, double gh)
        {
            method.Add(name); metric.Add(m); mean.Add(mu); low.Add(lo); high.Add(hi); gain.Add(g); gainLow.Add(gl); gainHigh.Add(gh);
        }
        foreach (var m in metrics)
        {
            var first = methods[0].Evaluation;
            var ci = MeanInterval.Of(EvaluationResult.PerArticle(first.Rows, m).Select(p => p.B).ToList(), first.ConfidenceLevel);
            Add("base", m, ci.Mean, ci.Low, ci.High, 0, 0, 0);
        }
        foreach (var (name, evaluation) in methods)
        {
            if (evaluation.Rows.Count != methods[0].Evaluation.Rows.Count)
                throw new ArgumentException($"'{name}' was evaluated on {evaluation.Rows.Count} rows (articles × samples), '{methods[0].Method}' on {methods[0].Evaluation.Rows.Count}: compare methods on the same articles and samples.", nameof(methods));
            foreach (var m in metrics)
            {
                var s = evaluation.Metric(m);
                Add(name, m, s.AlignedMean, s.AlignedCiLow, s.AlignedCiHigh, s.DiffMean, s.DiffCiLow, s.DiffCiHigh);
            }
        }
        return new DataFrame(
            new StringDataFrameColumn("method", method), new StringDataFrameColumn("metric", metric),
            new DoubleDataFrameColumn("mean", mean), new DoubleDataFrameColumn("mean_ci_low", low), new DoubleDataFrameColumn("mean_ci_high", high),
            new DoubleDataFrameColumn("gain", gain), new DoubleDataFrameColumn("gain_ci_low", gainLow), new DoubleDataFrameColumn("gain_ci_high", gainHigh));
    }
}
