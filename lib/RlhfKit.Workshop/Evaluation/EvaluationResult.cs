using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using RlhfKit.Generation;
using RlhfKit.Rewards;

namespace RlhfKit.Evaluation;

/// <summary>A held-out article: the prompt is <c>"summarize: " + Text</c>.</summary>
public sealed record Article(string Id, string Text);

/// <summary>One article's outcome: both summaries, every reward component and the total for each, the sequence-level
/// KL of each policy to the reference on its own summary, and the summaries' lengths. An evaluation that samples each
/// article several times has one row per sample, with the article's <see cref="Id"/> and its own <see cref="Sample"/>.</summary>
public sealed record EvaluationRow
{
    public required string Id { get; init; }
    /// <summary>Which of the article's samples this row holds: 0 for the first (and only, with one sample per article).</summary>
    public int Sample { get; init; }
    public required string Article { get; init; }
    public required string BaseSummary { get; init; }
    public required string AlignedSummary { get; init; }
    public required double BaseTotal { get; init; }
    public required double AlignedTotal { get; init; }
    public required IReadOnlyDictionary<string, double> BaseComponents { get; init; }
    public required IReadOnlyDictionary<string, double> AlignedComponents { get; init; }
    /// <summary>Σ over the base summary's tokens of log p_base − log p_ref (0 when the base model is the reference).</summary>
    public double BaseKl { get; init; }
    /// <summary>Σ over the aligned summary's tokens of log p_aligned − log p_ref.</summary>
    public double AlignedKl { get; init; }
    /// <summary>Generated tokens without the final eos; null when unknown (pre-generated text without a tokenizer).</summary>
    public int? BaseTokens { get; init; }
    public int? AlignedTokens { get; init; }
    public int BaseWords { get; init; }
    public int AlignedWords { get; init; }
    /// <summary>The generated token ids (eos included), when the evaluator generated them; not saved to CSV.</summary>
    public long[]? BaseResponseIds { get; init; }
    public long[]? AlignedResponseIds { get; init; }
    /// <summary>Fluency that the reward models do not see: the frozen reference model's mean log-likelihood per token of
    /// the base summary, (1/T) Σ_t log p_ref(y_t | y_&lt;t, article); NaN when unknown (no reference pass).</summary>
    public double BaseRefLogLik { get; init; } = double.NaN;
    public double AlignedRefLogLik { get; init; } = double.NaN;

    public double DeltaTotal => AlignedTotal - BaseTotal;

    /// <summary>The base value of a metric: <c>total</c>, a component, <c>kl</c>, <c>tokens</c> or <c>words</c> (NaN if unknown).</summary>
    public double Base(string metric) => Value(metric, aligned: false);
    public double Aligned(string metric) => Value(metric, aligned: true);

    double Value(string metric, bool aligned) => metric switch
    {
        EvaluationResult.Total => aligned ? AlignedTotal : BaseTotal,
        EvaluationResult.Kl => aligned ? AlignedKl : BaseKl,
        EvaluationResult.Tokens => (aligned ? AlignedTokens : BaseTokens) is int t ? t : double.NaN,
        EvaluationResult.Words => aligned ? AlignedWords : BaseWords,
        EvaluationResult.RefLogLik => aligned ? AlignedRefLogLik : BaseRefLogLik,
        EvaluationResult.Distinct2 => DistinctBigrams(aligned ? AlignedSummary : BaseSummary),
        _ => (aligned ? AlignedComponents : BaseComponents).TryGetValue(metric, out var v) ? v
            : throw new KeyNotFoundException($"No metric '{metric}' in this row."),
    };

    internal static int CountWords(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>distinct-2 of one summary: distinct word bigrams / word bigrams (lower-cased, punctuation kept on the
    /// word). 1 when no pair of words repeats; it falls as a summary loops ("in harrowing in harrowing"). NaN for fewer
    /// than two words.</summary>
    public static double DistinctBigrams(string text)
    {
        var words = text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 2) return double.NaN;
        var bigrams = Enumerable.Range(0, words.Length - 1).Select(i => (words[i], words[i + 1])).ToList();
        return (double)bigrams.Distinct().Count() / bigrams.Count;
    }
}

/// <summary>Per metric: means of base and aligned, the mean paired difference (aligned − base) with its t interval,
/// the interval of the aligned mean, and the relative gain (aligned − base)/|base| in percent.</summary>
public sealed record MetricSummary(
    string Metric, int N, double BaseMean, double AlignedMean, double AlignedCiLow, double AlignedCiHigh,
    double DiffMean, double DiffSd, double DiffCiLow, double DiffCiHigh, double RelativeGainPercent);

/// <summary>
/// Base vs aligned policy on held-out articles: per-article rows (<see cref="ToDataFrame"/>, <see cref="SaveCsv"/>),
/// the summary table with paired confidence intervals (<see cref="Summary"/>, <see cref="SummaryDataFrame"/>,
/// <see cref="SaveSummaryCsv"/>) and a Markdown report (<see cref="ToMarkdown"/>, <see cref="SaveReport"/>).
/// </summary>
public sealed class EvaluationResult
{
    public const string Total = "total", Kl = "kl", Tokens = "tokens", Words = "words";
    /// <summary>Fluency proxies that do not come from the reward: <see cref="EvaluationRow.BaseRefLogLik"/> and
    /// <see cref="EvaluationRow.DistinctBigrams"/>.</summary>
    public const string RefLogLik = "ref_loglik", Distinct2 = "distinct2";
    static readonly string[] Reserved = [Total, Kl, Tokens, Words, RefLogLik, Distinct2, "summary"];

    IReadOnlyList<MetricSummary>? _summary;

    public EvaluationResult(IReadOnlyList<string> components, IReadOnlyList<EvaluationRow> rows, GenerationConfig? generation = null, double confidenceLevel = 0.95)
    {
        ArgumentNullException.ThrowIfNull(components);
        ArgumentNullException.ThrowIfNull(rows);
        if (!(confidenceLevel > 0 && confidenceLevel < 1)) throw new ArgumentOutOfRangeException(nameof(confidenceLevel), confidenceLevel, "must lie in (0, 1).");
        foreach (var c in components)
        {
            if (string.IsNullOrEmpty(c)) throw new ArgumentException("Component names must be non-empty.", nameof(components));
            if (Reserved.Contains(c)) throw new ArgumentException($"A reward component may not be named '{c}' here (reserved: {string.Join(", ", Reserved)}).", nameof(components));
        }
        if (components.Distinct().Count() != components.Count) throw new ArgumentException("Component names must be distinct.", nameof(components));
        foreach (var r in rows)
            foreach (var c in components)
                if (!r.BaseComponents.ContainsKey(c) || !r.AlignedComponents.ContainsKey(c))
                    throw new ArgumentException($"Row '{r.Id}' lacks the score of component '{c}'.", nameof(rows));
        var repeated = rows.GroupBy(r => (r.Id, r.Sample)).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new ArgumentException($"Article '{repeated.Key.Id}' has {repeated.Count()} rows for sample {repeated.Key.Sample}: each sample of an article needs a row of its own.", nameof(rows));
        Components = [.. components];
        Rows = [.. rows];
        Generation = generation;
        ConfidenceLevel = confidenceLevel;
    }

    public IReadOnlyList<string> Components { get; }
    public IReadOnlyList<EvaluationRow> Rows { get; }
    /// <summary>The decoding settings both policies used, when the evaluator generated the summaries.</summary>
    public GenerationConfig? Generation { get; }
    public double ConfidenceLevel { get; }

    /// <summary>The reward metrics: <c>total</c>, then each component.</summary>
    public IReadOnlyList<string> RewardMetrics => [Total, .. Components];

    /// <summary>The fluency proxies this evaluation has a value of on both sides of at least one row: <c>ref_loglik</c>
    /// when the reference scored the summaries, <c>distinct2</c> when summaries have two words or more.</summary>
    public IReadOnlyList<string> FluencyMetrics => [.. new[] { RefLogLik, Distinct2 }
        .Where(m => Rows.Any(r => !double.IsNaN(r.Base(m)) && !double.IsNaN(r.Aligned(m))))];

    /// <summary>Samples per article: the most rows any article has (1 unless the evaluator drew several).</summary>
    public int SamplesPerArticle => Rows.Count == 0 ? 0 : Rows.GroupBy(r => r.Id).Max(g => g.Count());

    /// <summary>One row per reward metric, then <c>kl</c>, <c>tokens</c>, <c>words</c> and the fluency proxies. Rows
    /// with an unknown value (token counts of pre-generated text, a one-word summary's distinct-2) are left out of that
    /// metric; its N says how many articles remain. With several samples per article, each article's samples are
    /// averaged first and the intervals are t intervals over those per-article means (the articles are the independent
    /// units; a sample's noise shrinks with the number of samples, the spread between articles does not).</summary>
    public IReadOnlyList<MetricSummary> Summary => _summary ??= [.. RewardMetrics.Concat([Kl, Tokens, Words]).Concat(FluencyMetrics).Select(Summarize)];

    public MetricSummary Metric(string name) => Summary.FirstOrDefault(s => s.Metric == name)
        ?? throw new KeyNotFoundException($"No metric '{name}'; have {string.Join(", ", Summary.Select(s => s.Metric))}.");

    MetricSummary Summarize(string metric)
    {
        var pairs = PerArticle(Rows, metric);
        var b = MeanInterval.Of(pairs.Select(p => p.B).ToList(), ConfidenceLevel);
        var a = MeanInterval.Of(pairs.Select(p => p.A).ToList(), ConfidenceLevel);
        var d = MeanInterval.Of(pairs.Select(p => p.A - p.B).ToList(), ConfidenceLevel);
        // KL to the reference is ~0 for the base policy by construction: a ratio to it means nothing.
        double gain = metric == Kl || b.Mean == 0 || double.IsNaN(b.Mean) ? double.NaN : 100 * (a.Mean - b.Mean) / Math.Abs(b.Mean);
        return new MetricSummary(metric, pairs.Count, b.Mean, a.Mean, a.Low, a.High, d.Mean, d.Sd, d.Low, d.High, gain);
    }

    /// <summary>Per article (in the order of its first row), the mean of <paramref name="metric"/> over its rows that have
    /// a value on both sides, base and aligned; articles with no such row are left out.</summary>
    internal static List<(double B, double A)> PerArticle(IEnumerable<EvaluationRow> rows, string metric) =>
        [.. rows.Select(r => (r.Id, B: r.Base(metric), A: r.Aligned(metric)))
            .Where(p => !double.IsNaN(p.B) && !double.IsNaN(p.A))
            .GroupBy(p => p.Id, StringComparer.Ordinal)
            .Select(g => (g.Average(p => p.B), g.Average(p => p.A)))];

    // ---------------------------------------------------------------- tables

    /// <summary>Column names of the per-article table, in order.</summary>
    public IReadOnlyList<string> ColumnNames
    {
        get
        {
            var names = new List<string> { "id" };
            if (HasSamples) names.Add("sample");
            names.AddRange(["article", "base_summary", "aligned_summary"]);
            foreach (var m in RewardMetrics) names.AddRange([$"base_{m}", $"aligned_{m}", $"delta_{m}"]);
            names.AddRange(["base_kl", "aligned_kl", "base_tokens", "aligned_tokens", "base_words", "aligned_words",
                "base_ref_loglik", "aligned_ref_loglik", "base_distinct2", "aligned_distinct2"]);
            return names;
        }
    }

    /// <summary>Whether any article has more than one sample: the tables then carry a <c>sample</c> column after <c>id</c>.</summary>
    bool HasSamples => Rows.Any(r => r.Sample != 0);

    /// <summary>One row per article (per article and sample when there are several): id, texts, base/aligned/delta of the
    /// total and each component, KL, lengths.</summary>
    public DataFrame ToDataFrame()
    {
        var columns = new List<DataFrameColumn> { new StringDataFrameColumn("id", Rows.Select(r => r.Id)) };
        if (HasSamples) columns.Add(new Int32DataFrameColumn("sample", Rows.Select(r => r.Sample)));
        columns.AddRange([
            new StringDataFrameColumn("article", Rows.Select(r => r.Article)),
            new StringDataFrameColumn("base_summary", Rows.Select(r => r.BaseSummary)),
            new StringDataFrameColumn("aligned_summary", Rows.Select(r => r.AlignedSummary)),
        ]);
        foreach (var m in RewardMetrics)
        {
            columns.Add(new DoubleDataFrameColumn($"base_{m}", Rows.Select(r => r.Base(m))));
            columns.Add(new DoubleDataFrameColumn($"aligned_{m}", Rows.Select(r => r.Aligned(m))));
            columns.Add(new DoubleDataFrameColumn($"delta_{m}", Rows.Select(r => r.Aligned(m) - r.Base(m))));
        }
        columns.Add(new DoubleDataFrameColumn("base_kl", Rows.Select(r => r.BaseKl)));
        columns.Add(new DoubleDataFrameColumn("aligned_kl", Rows.Select(r => r.AlignedKl)));
        columns.Add(new Int32DataFrameColumn("base_tokens", Rows.Select(r => r.BaseTokens)));
        columns.Add(new Int32DataFrameColumn("aligned_tokens", Rows.Select(r => r.AlignedTokens)));
        columns.Add(new Int32DataFrameColumn("base_words", Rows.Select(r => r.BaseWords)));
        columns.Add(new Int32DataFrameColumn("aligned_words", Rows.Select(r => r.AlignedWords)));
        columns.Add(new DoubleDataFrameColumn("base_ref_loglik", Rows.Select(r => r.BaseRefLogLik)));
        columns.Add(new DoubleDataFrameColumn("aligned_ref_loglik", Rows.Select(r => r.AlignedRefLogLik)));
        columns.Add(new DoubleDataFrameColumn("base_distinct2", Rows.Select(r => r.Base(Distinct2))));
        columns.Add(new DoubleDataFrameColumn("aligned_distinct2", Rows.Select(r => r.Aligned(Distinct2))));
        return new DataFrame(columns);
    }

    /// <summary>The summary table: metric, n, base_mean, aligned_mean, aligned_ci_low/high, diff_mean, diff_sd,
    /// diff_ci_low/high, relative_gain_pct (NaN where it is undefined).</summary>
    public DataFrame SummaryDataFrame()
    {
        var s = Summary;
        return new DataFrame(new List<DataFrameColumn>
        {
            new StringDataFrameColumn("metric", s.Select(x => x.Metric)),
            new Int32DataFrameColumn("n", s.Select(x => x.N)),
            new DoubleDataFrameColumn("base_mean", s.Select(x => x.BaseMean)),
            new DoubleDataFrameColumn("aligned_mean", s.Select(x => x.AlignedMean)),
            new DoubleDataFrameColumn("aligned_ci_low", s.Select(x => x.AlignedCiLow)),
            new DoubleDataFrameColumn("aligned_ci_high", s.Select(x => x.AlignedCiHigh)),
            new DoubleDataFrameColumn("diff_mean", s.Select(x => x.DiffMean)),
            new DoubleDataFrameColumn("diff_sd", s.Select(x => x.DiffSd)),
            new DoubleDataFrameColumn("diff_ci_low", s.Select(x => x.DiffCiLow)),
            new DoubleDataFrameColumn("diff_ci_high", s.Select(x => x.DiffCiHigh)),
            new DoubleDataFrameColumn("relative_gain_pct", s.Select(x => x.RelativeGainPercent)),
        });
    }

    /// <summary>The per-article table as RFC 4180 CSV (UTF-8, CRLF, numbers in invariant round-trip form).</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder();
        Csv.AppendRecord(sb, ColumnNames);
        foreach (var r in Rows)
        {
            var fields = new List<string?> { r.Id };
            if (HasSamples) fields.Add(r.Sample.ToString(CultureInfo.InvariantCulture));
            fields.AddRange([r.Article, r.BaseSummary, r.AlignedSummary]);
            foreach (var m in RewardMetrics) fields.AddRange([Csv.Number(r.Base(m)), Csv.Number(r.Aligned(m)), Csv.Number(r.Aligned(m) - r.Base(m))]);
            fields.AddRange([Csv.Number(r.BaseKl), Csv.Number(r.AlignedKl), r.BaseTokens?.ToString(CultureInfo.InvariantCulture),
                r.AlignedTokens?.ToString(CultureInfo.InvariantCulture), r.BaseWords.ToString(CultureInfo.InvariantCulture), r.AlignedWords.ToString(CultureInfo.InvariantCulture),
                Csv.Number(r.BaseRefLogLik), Csv.Number(r.AlignedRefLogLik), Csv.Number(r.Base(Distinct2)), Csv.Number(r.Aligned(Distinct2))]);
            Csv.AppendRecord(sb, fields);
        }
        return sb.ToString();
    }

    public void SaveCsv(string path) => AtomicFile.WriteAllText(path, ToCsv());

    public string SummaryToCsv()
    {
        var sb = new StringBuilder();
        Csv.AppendRecord(sb, ["metric", "n", "base_mean", "aligned_mean", "aligned_ci_low", "aligned_ci_high", "diff_mean", "diff_sd", "diff_ci_low", "diff_ci_high", "relative_gain_pct"]);
        foreach (var s in Summary)
            Csv.AppendRecord(sb, [s.Metric, s.N.ToString(CultureInfo.InvariantCulture), Csv.Number(s.BaseMean), Csv.Number(s.AlignedMean),
                Csv.Number(s.AlignedCiLow), Csv.Number(s.AlignedCiHigh), Csv.Number(s.DiffMean), Csv.Number(s.DiffSd),
                Csv.Number(s.DiffCiLow), Csv.Number(s.DiffCiHigh), Csv.Number(s.RelativeGainPercent)]);
        return sb.ToString();
    }

    public void SaveSummaryCsv(string path) => AtomicFile.WriteAllText(path, SummaryToCsv());

    /// <summary>Reads a table written by <see cref="SaveCsv"/> back (components from its <c>delta_*</c> columns), e.g.
    /// to <see cref="Rescore"/> saved outputs with another reward. Response ids are not saved, so they come back null.</summary>
    public static EvaluationResult LoadCsv(string path, double confidenceLevel = 0.95)
    {
        var records = Csv.Parse(File.ReadAllText(path, Encoding.UTF8));
        if (records.Count == 0) throw new FormatException($"{path}: empty CSV.");
        var header = records[0];
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < header.Length; i++) index[header[i]] = i;
        int Col(string name) => index.TryGetValue(name, out var i) ? i : throw new FormatException($"{path}: no column '{name}'.");
        var components = header.Where(h => h.StartsWith("delta_", StringComparison.Ordinal) && h != "delta_total").Select(h => h["delta_".Length..]).ToList();
        var rows = new List<EvaluationRow>();
        for (int n = 1; n < records.Count; n++)
        {
            var f = records[n];
            if (f.Length != header.Length) throw new FormatException($"{path}: record {n} has {f.Length} fields, the header {header.Length}.");
            double D(string name) => double.Parse(f[Col(name)], NumberStyles.Float, CultureInfo.InvariantCulture);
            int? I(string name) => f[Col(name)] is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : null;
            double Optional(string name) => index.ContainsKey(name) ? D(name) : double.NaN;
            rows.Add(new EvaluationRow
            {
                Id = f[Col("id")], Sample = index.ContainsKey("sample") ? I("sample") ?? 0 : 0, Article = f[Col("article")], BaseSummary = f[Col("base_summary")], AlignedSummary = f[Col("aligned_summary")],
                BaseTotal = D("base_total"), AlignedTotal = D("aligned_total"),
                BaseComponents = components.ToDictionary(c => c, c => D($"base_{c}")),
                AlignedComponents = components.ToDictionary(c => c, c => D($"aligned_{c}")),
                BaseKl = D("base_kl"), AlignedKl = D("aligned_kl"),
                BaseTokens = I("base_tokens"), AlignedTokens = I("aligned_tokens"),
                BaseWords = I("base_words") ?? 0, AlignedWords = I("aligned_words") ?? 0,
                // Tables written before the fluency proxies lack these columns: unknown, not an error.
                BaseRefLogLik = Optional("base_ref_loglik"), AlignedRefLogLik = Optional("aligned_ref_loglik"),
            });
        }
        return new EvaluationResult(components, rows, null, confidenceLevel);
    }

    /// <summary>The same rows with the reference model's mean log-likelihood per token filled in on both sides (one value
    /// per row, in row order).</summary>
    public EvaluationResult WithReferenceLogLik(IReadOnlyList<double> baseRefLogLik, IReadOnlyList<double> alignedRefLogLik)
    {
        if (baseRefLogLik.Count != Rows.Count || alignedRefLogLik.Count != Rows.Count)
            throw new ArgumentException($"{Rows.Count} rows but {baseRefLogLik.Count} base and {alignedRefLogLik.Count} aligned log-likelihoods.");
        var rows = Rows.Select((r, i) => r with { BaseRefLogLik = baseRefLogLik[i], AlignedRefLogLik = alignedRefLogLik[i] }).ToList();
        return new EvaluationResult(Components, rows, Generation, ConfidenceLevel);
    }

    /// <summary>The same summaries, KL and lengths scored with another reward.</summary>
    public EvaluationResult Rescore(CompositeReward reward, int batchSize = 32)
    {
        var baseScores = ScoreInBatches(reward, Rows.Select(r => r.BaseSummary).ToList(), batchSize);
        var alignedScores = ScoreInBatches(reward, Rows.Select(r => r.AlignedSummary).ToList(), batchSize);
        var rows = Rows.Select((r, i) => r with
        {
            BaseTotal = baseScores.Total[i], AlignedTotal = alignedScores.Total[i],
            BaseComponents = baseScores.Components.ToDictionary(kv => kv.Key, kv => kv.Value[i]),
            AlignedComponents = alignedScores.Components.ToDictionary(kv => kv.Key, kv => kv.Value[i]),
        }).ToList();
        return new EvaluationResult(reward.Parts.Select(p => p.Name).ToList(), rows, Generation, ConfidenceLevel);
    }

    /// <summary>Scores texts a batch at a time (classifier rewards).</summary>
    internal static (double[] Total, Dictionary<string, double[]> Components) ScoreInBatches(CompositeReward reward, IReadOnlyList<string> texts, int batchSize)
    {
        CheckReward(reward);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var names = reward.Parts.Select(p => p.Name).ToList();
        var total = new double[texts.Count];
        var components = names.ToDictionary(n => n, _ => new double[texts.Count]);
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            var batch = texts.Skip(start).Take(batchSize).ToList();
            var scores = reward.Score(batch);
            for (int i = 0; i < batch.Count; i++)
            {
                total[start + i] = scores.Total[i];
                foreach (var n in names) components[n][start + i] = scores.Components[n][i];
            }
        }
        return (total, components);
    }

    internal static void CheckReward(CompositeReward reward)
    {
        ArgumentNullException.ThrowIfNull(reward);
        if (reward.Parts.Count == 0) throw new ArgumentException("The reward has no components.", nameof(reward));
    }

    // ---------------------------------------------------------------- report

    /// <summary>A Markdown report: headline table with confidence intervals, KL and lengths, the biggest movers of the
    /// total reward (up and down), and <paramref name="examples"/> articles with both summaries side by side.</summary>
    public string ToMarkdown(int examples = 5, int movers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(examples);
        ArgumentOutOfRangeException.ThrowIfNegative(movers);
        var ci = (100 * ConfidenceLevel).ToString("0.#", CultureInfo.InvariantCulture) + "% CI";
        var sb = new StringBuilder();
        sb.AppendLine("# Evaluation: base vs aligned policy").AppendLine();
        int articles = Rows.Select(r => r.Id).Distinct().Count(), samples = SamplesPerArticle;
        sb.AppendLine(samples > 1
            ? $"{articles} held-out articles, {samples} samples of each per policy; differences are paired (aligned − base) and averaged per article, intervals are t intervals over the {articles} per-article means ({ci})."
            : $"{articles} held-out articles; differences are paired (aligned − base), intervals are paired t intervals ({ci}).");
        if (Generation is { } g)
            sb.AppendLine().AppendLine($"Decoding (same for both policies): max_new_tokens={g.MaxNewTokens}, do_sample={g.DoSample.ToString().ToLowerInvariant()}, " +
                $"temperature={F(g.Temperature)}, top_k={g.TopK}, top_p={F(g.TopP)}, seed={g.Seed?.ToString(CultureInfo.InvariantCulture) ?? "none"}.");
        sb.AppendLine();

        sb.AppendLine("## Headline").AppendLine();
        sb.AppendLine($"| metric | base | aligned | Δ (aligned − base) | {ci} of Δ | relative gain |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var m in RewardMetrics)
        {
            var s = Metric(m);
            sb.AppendLine($"| {Cell(m)} | {F(s.BaseMean)} | {F(s.AlignedMean)} | {Signed(s.DiffMean)} | {Interval(s.DiffCiLow, s.DiffCiHigh)} | {Percent(s.RelativeGainPercent)} |");
        }
        sb.AppendLine();
        var kl = Metric(Kl);
        sb.AppendLine($"- **KL(aligned ‖ reference)**, summed over each aligned summary's tokens: mean {F(kl.AlignedMean)} nats, {ci} {Interval(kl.AlignedCiLow, kl.AlignedCiHigh)} (base policy: {F(kl.BaseMean)}).");
        var words = Metric(Words);
        sb.AppendLine($"- **Length in words**: base {F(words.BaseMean)}, aligned {F(words.AlignedMean)} (Δ {Signed(words.DiffMean)}, {ci} {Interval(words.DiffCiLow, words.DiffCiHigh)}).");
        foreach (var (metric, label) in new[] { (RefLogLik, "Reference log-likelihood per token"), (Distinct2, "distinct-2 (repeated word pairs lower it)") })
        {
            if (!FluencyMetrics.Contains(metric)) continue;
            var f = Metric(metric);
            sb.AppendLine($"- **{label}**, a fluency proxy the reward does not see: base {F(f.BaseMean)}, aligned {F(f.AlignedMean)} (Δ {Signed(f.DiffMean)}, {ci} {Interval(f.DiffCiLow, f.DiffCiHigh)}).");
        }
        var tokens = Metric(Tokens);
        if (tokens.N > 0)
            sb.AppendLine($"- **Length in tokens**: base {F(tokens.BaseMean)}, aligned {F(tokens.AlignedMean)} (Δ {Signed(tokens.DiffMean)}, {ci} {Interval(tokens.DiffCiLow, tokens.DiffCiHigh)}).");
        var improved = Rows.Count(r => r.DeltaTotal > 0);
        var worsened = Rows.Count(r => r.DeltaTotal < 0);
        sb.AppendLine($"- Total reward improved on {improved}, worsened on {worsened}, unchanged on {Rows.Count - improved - worsened} {(samples > 1 ? "samples" : "articles")}.");
        sb.AppendLine();

        sb.AppendLine("## Biggest movers").AppendLine();
        AppendMovers(sb, "Improved most", Rows.Where(r => r.DeltaTotal > 0).OrderByDescending(r => r.DeltaTotal).Take(movers).ToList());
        AppendMovers(sb, "Worsened most", Rows.Where(r => r.DeltaTotal < 0).OrderBy(r => r.DeltaTotal).Take(movers).ToList());

        sb.AppendLine("## Side by side").AppendLine();
        foreach (var r in Rows.Where(r => r.Sample == 0).Take(examples))
        {
            sb.AppendLine($"### {Inline(r.Id)}").AppendLine();
            sb.AppendLine($"> {Inline(Excerpt(r.Article, 300))}").AppendLine();
            sb.AppendLine("| | summary | total | " + string.Join(" | ", Components.Select(Cell)) + " | KL |");
            sb.AppendLine("|---|---|---:|" + string.Concat(Components.Select(_ => "---:|")) + "---:|");
            sb.AppendLine($"| base | {Cell(r.BaseSummary)} | {F(r.BaseTotal)} | " + string.Join(" | ", Components.Select(c => F(r.BaseComponents[c]))) + $" | {F(r.BaseKl)} |");
            sb.AppendLine($"| aligned | {Cell(r.AlignedSummary)} | {F(r.AlignedTotal)} | " + string.Join(" | ", Components.Select(c => F(r.AlignedComponents[c]))) + $" | {F(r.AlignedKl)} |");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    void AppendMovers(StringBuilder sb, string title, IReadOnlyList<EvaluationRow> rows)
    {
        sb.AppendLine($"### {title}").AppendLine();
        if (rows.Count == 0) { sb.AppendLine("(none)").AppendLine(); return; }
        sb.AppendLine("| id | base total | aligned total | Δ total | base summary | aligned summary |");
        sb.AppendLine("|---|---:|---:|---:|---|---|");
        foreach (var r in rows)
            sb.AppendLine($"| {Cell(r.Id)} | {F(r.BaseTotal)} | {F(r.AlignedTotal)} | {Signed(r.DeltaTotal)} | {Cell(Excerpt(r.BaseSummary, 160))} | {Cell(Excerpt(r.AlignedSummary, 160))} |");
        sb.AppendLine();
    }

    public void SaveReport(string path, int examples = 5, int movers = 3) => AtomicFile.WriteAllText(path, ToMarkdown(examples, movers));

    static string F(double x) => double.IsNaN(x) ? "n/a" : x.ToString("0.000", CultureInfo.InvariantCulture);
    static string Signed(double x) => double.IsNaN(x) ? "n/a" : x.ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture);
    static string Percent(double x) => double.IsNaN(x) || double.IsInfinity(x) ? "n/a" : x.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%";
    static string Interval(double lo, double hi) => double.IsNaN(lo) ? "n/a" : $"[{F(lo)}, {F(hi)}]";
    static string Excerpt(string text, int max) => text.Length <= max ? text : text[..max].TrimEnd() + "…";
    static string Inline(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    static string Cell(string text) { var s = Inline(text).Replace("|", "\\|"); return s.Length == 0 ? "(empty)" : s; }
}
