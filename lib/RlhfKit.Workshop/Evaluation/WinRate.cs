namespace RlhfKit.Evaluation;

/// <summary>
/// How often one policy's summary beats another's on the same articles, under one score (a learned reward, say):
/// <c>rate = (wins + ties / 2) / n</c>, with the Wilson score interval at <see cref="Level"/>.
/// </summary>
/// <remarks>
/// Wilson interval of a proportion p̂ over n trials with z = Φ⁻¹((1 + level) / 2):
/// <c>(p̂ + z²/(2n) ± z √(p̂(1 − p̂)/n + z²/(4n²))) / (1 + z²/n)</c>. Unlike the normal approximation it stays inside
/// [0, 1] and is not empty at p̂ = 0 or 1. A tie counts half a win, as in the usual pairwise win rates (AlpacaEval,
/// the DPO paper's comparisons), so two identical policies have a rate of 0.5.
/// </remarks>
public sealed record WinRate(int N, int Wins, int Ties, int Losses, double Rate, double Low, double High, double Level)
{
    /// <summary>True when the whole interval lies above one half: the first policy wins more often than not, at
    /// <see cref="Level"/>.</summary>
    public bool BeatsBase => Low > 0.5;

    /// <summary>The win rate of <paramref name="candidate"/> over <paramref name="baseline"/>, pair by pair (index i of
    /// both lists is the same article). Scores must be finite.</summary>
    public static WinRate Of(IReadOnlyList<double> candidate, IReadOnlyList<double> baseline, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(baseline);
        if (candidate.Count != baseline.Count)
            throw new ArgumentException($"A win rate compares pairs: {candidate.Count} candidate scores but {baseline.Count} baseline scores.", nameof(baseline));
        if (candidate.Count == 0) throw new ArgumentException("A win rate needs at least one pair.", nameof(candidate));
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), level, "level must lie in (0, 1).");
        int wins = 0, ties = 0, losses = 0;
        for (int i = 0; i < candidate.Count; i++)
        {
            double c = candidate[i], b = baseline[i];
            if (!double.IsFinite(c) || !double.IsFinite(b)) throw new ArgumentException($"Pair {i}: scores must be finite (got {c} and {b}).");
            if (c > b) wins++;
            else if (c < b) losses++;
            else ties++;
        }
        int n = candidate.Count;
        double rate = (wins + 0.5 * ties) / n;
        var (low, high) = Wilson(rate, n, level);
        return new WinRate(n, wins, ties, losses, rate, low, high, level);
    }

    /// <summary>The aligned side's win rate over the base side of <paramref name="evaluation"/> on one metric (a reward
    /// component's name, or <c>total</c>), one pair per row. An evaluation with several samples per article is refused:
    /// its rows are not independent pairs, and the Wilson interval assumes they are.</summary>
    public static WinRate Of(EvaluationResult evaluation, string metric)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        if (evaluation.SamplesPerArticle > 1)
            throw new ArgumentException($"This evaluation has {evaluation.SamplesPerArticle} samples per article; a win rate counts independent pairs, so evaluate with one sample per article (EvalSamples = 1).", nameof(evaluation));
        if (metric != EvaluationResult.Total && !evaluation.Components.Contains(metric))
            throw new ArgumentException($"No reward component '{metric}' in this evaluation (it has {string.Join(", ", evaluation.RewardMetrics)}).", nameof(metric));
        return Of(evaluation.Rows.Select(r => r.Aligned(metric)).ToList(), evaluation.Rows.Select(r => r.Base(metric)).ToList(), evaluation.ConfidenceLevel);
    }

    /// <summary>The Wilson score interval of a proportion <paramref name="p"/> observed over <paramref name="n"/> trials.</summary>
    public static (double Low, double High) Wilson(double p, int n, double level = 0.95)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be at least 1.");
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "p must lie in [0, 1].");
        double z = StudentT.NormalQuantile((1 + level) / 2);
        double z2n = z * z / n;
        double center = (p + z2n / 2) / (1 + z2n);
        double half = z * Math.Sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n);
        return (Math.Max(0, center - half), Math.Min(1, center + half));
    }

    public override string ToString() =>
        $"{Rate:P1} [{Low:P1}, {High:P1}] ({Wins} wins, {Ties} ties, {Losses} losses of {N})";
}
