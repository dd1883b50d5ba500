using System.Globalization;
using Microsoft.Data.Analysis;
using RlhfKit.Evaluation;
using RlhfKit.Rewards;

namespace RlhfKit.Tests.Evaluation;

public class EvaluationStatisticsTests
{
    // Hand-made scores: the reward looks each summary up in a table.
    static readonly string[] BaseTexts = ["base zero", "base one, two", "base \"three\"", "b4", "base five five five"];
    static readonly string[] AlignedTexts = ["aligned zero", "aligned one", "aligned three is longer", "a4", "aligned\nfive"];
    static readonly double[] AlphaBase = [1.0, 2.0, 3.0, 4.0, 5.0], AlphaAligned = [1.5, 2.0, 4.0, 4.5, 7.0];
    static readonly double[] BetaBase = [-1, -2, 0.5, -0.5, -3], BetaAligned = [0, -1, 1, -1, -1];
    static readonly double[] KlAligned = [0.5, 1.25, 0.0, 2.0, 0.75], KlBase = [0, 0, 0, 0, 0.125];
    const double T975Df4 = 2.7764451051977935; // Student t quantile, from mpmath

    static CompositeReward TableReward()
    {
        var alpha = BaseTexts.Zip(AlphaBase).Concat(AlignedTexts.Zip(AlphaAligned)).ToDictionary(p => p.First, p => (float)p.Second);
        var beta = BaseTexts.Zip(BetaBase).Concat(AlignedTexts.Zip(BetaAligned)).ToDictionary(p => p.First, p => (float)p.Second);
        return new CompositeReward().Add("alpha", t => alpha[t], 1.0).Add("beta", t => beta[t], 0.5);
    }

    static List<Article> Articles() => Enumerable.Range(0, 5).Select(i => new Article($"id{i}", $"Article {i}, with a comma.")).ToList();

    static EvaluationResult Result() => PolicyEvaluator.EvaluateSummaries(Articles(), BaseTexts, AlignedTexts, TableReward(), KlAligned, KlBase, batchSize: 2);

    /// <summary>mean, sd, and the 95% paired t interval computed directly.</summary>
    static (double Mean, double Sd, double Low, double High) Direct(double[] x)
    {
        double mean = x.Average();
        double sd = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
        double half = T975Df4 * sd / Math.Sqrt(x.Length);
        return (mean, sd, mean - half, mean + half);
    }

    static void Check(MetricSummary s, double[] b, double[] a, bool gain = true)
    {
        var d = a.Zip(b, (x, y) => x - y).ToArray();
        var (dm, dsd, dlo, dhi) = Direct(d);
        var (am, _, alo, ahi) = Direct(a);
        Assert.Equal(5, s.N);
        Assert.Equal(b.Average(), s.BaseMean, 1e-9);
        Assert.Equal(am, s.AlignedMean, 1e-9);
        Assert.Equal(alo, s.AlignedCiLow, 1e-9);
        Assert.Equal(ahi, s.AlignedCiHigh, 1e-9);
        Assert.Equal(dm, s.DiffMean, 1e-9);
        Assert.Equal(dsd, s.DiffSd, 1e-9);
        Assert.Equal(dlo, s.DiffCiLow, 1e-9);
        Assert.Equal(dhi, s.DiffCiHigh, 1e-9);
        if (gain) Assert.Equal(100 * (a.Average() - b.Average()) / Math.Abs(b.Average()), s.RelativeGainPercent, 1e-9);
    }

    [Fact]
    public void SummaryMatchesADirectComputation()
    {
        var result = Result();
        Assert.Equal(["alpha", "beta"], result.Components);
        var totalBase = AlphaBase.Zip(BetaBase, (x, y) => x + 0.5 * y).ToArray();
        var totalAligned = AlphaAligned.Zip(BetaAligned, (x, y) => x + 0.5 * y).ToArray();
        Check(result.Metric("alpha"), AlphaBase, AlphaAligned);
        Check(result.Metric("beta"), BetaBase, BetaAligned);
        Check(result.Metric("total"), totalBase, totalAligned);
        Check(result.Metric("kl"), KlBase, KlAligned, gain: false);
        Assert.True(double.IsNaN(result.Metric("kl").RelativeGainPercent));
        Check(result.Metric("words"), BaseTexts.Select(t => (double)Words(t)).ToArray(), AlignedTexts.Select(t => (double)Words(t)).ToArray());
        // Negative base: the gain divides by |base| (-1.2 -> -0.4 is +66.7%).
        Assert.Equal(100 * 0.8 / 1.2, result.Metric("beta").RelativeGainPercent, 1e-9);
        // Unknown token counts (no tokenizer) are left out rather than counted as 0.
        var tokens = result.Metric("tokens");
        Assert.Equal(0, tokens.N);
        Assert.True(double.IsNaN(tokens.BaseMean));
        Assert.Equal(["total", "alpha", "beta", "kl", "tokens", "words", "distinct2"], result.Summary.Select(s => s.Metric));
        // distinct-2: "b4" and "a4" have no word pair and drop out; "base five five five" repeats (five, five).
        var distinct = result.Metric(EvaluationResult.Distinct2);
        Assert.Equal(4, distinct.N);
        Assert.Equal((3 + 2.0 / 3) / 4, distinct.BaseMean, 1e-12);
        Assert.Equal(1.0, distinct.AlignedMean, 1e-12);
        // No reference pass scored these summaries: no reference log-likelihood row.
        Assert.Equal([EvaluationResult.Distinct2], result.FluencyMetrics);

        var row = result.Rows[4];
        Assert.Equal("id4", row.Id);
        Assert.Equal(5.0, row.BaseComponents["alpha"]);
        Assert.Equal(-1.0, row.AlignedComponents["beta"]);
        Assert.Equal(7.0 - 0.5, row.AlignedTotal, 1e-6);
        Assert.Equal(0.125, row.BaseKl);
        Assert.Equal(0.75, row.AlignedKl);
    }

    static int Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void SeveralSamplesOfAnArticleAreAveragedBeforeTheIntervalAndSurviveTheCsv()
    {
        // Sample 1 of article i is scored as sample 0 of article (i + 1) % 5: the per-article means are easy to state.
        int[] next = [1, 2, 3, 4, 0];
        var articles = Articles().Concat(Articles()).ToList();
        var result = PolicyEvaluator.EvaluateSummaries(articles, [.. BaseTexts, .. next.Select(j => BaseTexts[j])],
            [.. AlignedTexts, .. next.Select(j => AlignedTexts[j])], TableReward(), [.. KlAligned, .. next.Select(j => KlAligned[j])],
            [.. KlBase, .. next.Select(j => KlBase[j])], batchSize: 3, samples: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
        Assert.Equal(2, result.SamplesPerArticle);
        double[] Mean(double[] x) => [.. Enumerable.Range(0, 5).Select(i => (x[i] + x[next[i]]) / 2)];
        Check(result.Metric("alpha"), Mean(AlphaBase), Mean(AlphaAligned)); // N is 5 articles, not 10 rows
        Check(result.Metric("beta"), Mean(BetaBase), Mean(BetaAligned));
        Check(result.Metric("kl"), Mean(KlBase), Mean(KlAligned), gain: false);

        // The tables carry the sample, and a table read back gives the same summary.
        Assert.Equal(["id", "sample", "article"], result.ColumnNames.Take(3));
        Assert.Equal(1, (int)result.ToDataFrame()["sample"][7]!);
        var path = Path.Combine(Directory.CreateTempSubdirectory("rlhfkit-samples-").FullName, "evaluation.csv");
        result.SaveCsv(path);
        var loaded = EvaluationResult.LoadCsv(path);
        Assert.Equal(result.Rows.Select(r => (r.Id, r.Sample)), loaded.Rows.Select(r => (r.Id, r.Sample)));
        Assert.Equal(result.Metric("total"), loaded.Metric("total"));
        Assert.Contains("5 held-out articles, 2 samples of each per policy", result.ToMarkdown());

        // The methods table's base row is the same per-article mean.
        var methods = MethodComparison.ToDataFrame([new MethodResult("ppo", result)]);
        Assert.Equal(Mean(AlphaBase).Average(), (double)methods["mean"][1]!, 1e-9);
        Assert.Equal("alpha", (string)methods["metric"][1]!);

        // Two rows for the same sample of one article are refused, naming the article.
        var twice = Assert.Throws<ArgumentException>(() => new EvaluationResult(result.Components, [result.Rows[0], result.Rows[0] with { AlignedTotal = 9 }]));
        Assert.Contains("'id0'", twice.Message);
        Assert.Contains("sample 0", twice.Message);
    }

    [Fact]
    public void DataFramesCarryTheRowsAndTheSummary()
    {
        var result = Result();
        var df = result.ToDataFrame();
        Assert.Equal(5, df.Rows.Count);
        Assert.Equal(result.ColumnNames, df.Columns.Select(c => c.Name));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(AlignedTexts[i], (string)df["aligned_summary"][i]);
            Assert.Equal(AlphaAligned[i] - AlphaBase[i], (double)df["delta_alpha"][i], 1e-9);
            Assert.Equal(BetaBase[i], (double)df["base_beta"][i], 1e-9);
            Assert.Equal(KlAligned[i], (double)df["aligned_kl"][i]);
            Assert.Null(df["base_tokens"][i]);
            Assert.Equal(Words(BaseTexts[i]), (int)df["base_words"][i]);
        }
        var summary = result.SummaryDataFrame();
        Assert.Equal(result.Summary.Count, summary.Rows.Count);
        var totalRow = result.Summary.ToList().FindIndex(s => s.Metric == "total");
        Assert.Equal("total", (string)summary["metric"][totalRow]);
        Assert.Equal(result.Metric("total").DiffCiLow, (double)summary["diff_ci_low"][totalRow]);
        Assert.Equal(result.Metric("total").RelativeGainPercent, (double)summary["relative_gain_pct"][totalRow]);
    }

    [Fact]
    public void DistinctBigramsIsTheShareOfWordPairsThatDoNotRepeat()
    {
        Assert.Equal(2.0 / 3, EvaluationRow.DistinctBigrams("in harrowing In harrowing"), 12); // case folded
        Assert.Equal(0.5, EvaluationRow.DistinctBigrams("five five five"), 12);
        Assert.Equal(1.0, EvaluationRow.DistinctBigrams("The river burst its banks on Friday."));
        Assert.True(double.IsNaN(EvaluationRow.DistinctBigrams("alone")));
        Assert.True(double.IsNaN(EvaluationRow.DistinctBigrams(" \n ")));
    }

    [Fact]
    public void ReferenceLogLikelihoodsRoundTripAndOlderTablesLoadThemAsUnknown()
    {
        var result = Result();
        var scored = new EvaluationResult(result.Components,
            result.Rows.Select((r, i) => r with { BaseRefLogLik = -2.0 - i, AlignedRefLogLik = -1.5 - 2 * i }).ToList());
        Assert.Equal([EvaluationResult.RefLogLik, EvaluationResult.Distinct2], scored.FluencyMetrics);
        var refLogLik = scored.Metric(EvaluationResult.RefLogLik);
        Assert.Equal(-4.0, refLogLik.BaseMean, 12);
        Assert.Equal(0.5 - 2.0, refLogLik.DiffMean, 12); // mean of 0.5 - i over i = 0..4
        Assert.Contains("Reference log-likelihood per token", scored.ToMarkdown(), StringComparison.Ordinal);

        var dir = Directory.CreateTempSubdirectory("rlhfkit-fluency-");
        try
        {
            var path = Path.Combine(dir.FullName, "evaluation.csv");
            scored.SaveCsv(path);
            var loaded = EvaluationResult.LoadCsv(path);
            Assert.Equal(scored.Rows.Select(r => (r.BaseRefLogLik, r.AlignedRefLogLik)), loaded.Rows.Select(r => (r.BaseRefLogLik, r.AlignedRefLogLik)));
            Assert.Equal(scored.Summary, loaded.Summary);

            // The same table as written before the fluency columns existed.
            var records = EvaluationTestData.ReadCsv(File.ReadAllText(path));
            var keep = records[0].Select((name, i) => (name, i)).Where(c => !c.name.EndsWith("_ref_loglik") && !c.name.EndsWith("_distinct2")).Select(c => c.i).ToList();
            Assert.Equal(records[0].Count - 4, keep.Count);
            var sb = new System.Text.StringBuilder();
            foreach (var record in records) Csv.AppendRecord(sb, keep.Select(i => record[i]));
            File.WriteAllText(path, sb.ToString());
            var old = EvaluationResult.LoadCsv(path);
            Assert.All(old.Rows, r => Assert.True(double.IsNaN(r.BaseRefLogLik) && double.IsNaN(r.AlignedRefLogLik)));
            Assert.Equal([EvaluationResult.Distinct2], old.FluencyMetrics);
            Assert.Equal(scored.Metric(EvaluationResult.Distinct2), old.Metric(EvaluationResult.Distinct2));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void FewerThanTwoArticlesGiveNoInterval()
    {
        var one = PolicyEvaluator.EvaluateSummaries(Articles().Take(1).ToList(), BaseTexts[..1], AlignedTexts[..1], TableReward(), KlAligned[..1]);
        var s = one.Metric("alpha");
        Assert.Equal(0.5, s.DiffMean, 1e-9);
        Assert.True(double.IsNaN(s.DiffCiLow) && double.IsNaN(s.DiffCiHigh));
    }

    [Fact]
    public void TokenLengthsComeFromTheTokenizerWhenGiven()
    {
        var tok = EvaluationTestData.Tokenizer();
        var result = PolicyEvaluator.EvaluateSummaries(Articles(), BaseTexts, AlignedTexts, TableReward(), KlAligned, tokenizer: tok);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(tok.Encode(BaseTexts[i], addSpecialTokens: false).Count, result.Rows[i].BaseTokens);
            Assert.Equal(tok.Encode(AlignedTexts[i], addSpecialTokens: false).Count, result.Rows[i].AlignedTokens);
        }
        Assert.Equal(5, result.Metric("tokens").N);
        Assert.Equal(Result().Rows.Select(r => 0.0), result.Rows.Select(r => r.BaseKl)); // base KL defaults to 0
    }

    [Fact]
    public void RejectsMismatchedInputsAndEmptyRewards()
    {
        Assert.Throws<ArgumentException>(() => PolicyEvaluator.EvaluateSummaries(Articles(), BaseTexts, AlignedTexts[..4], TableReward(), KlAligned));
        Assert.Throws<ArgumentException>(() => PolicyEvaluator.EvaluateSummaries(Articles(), BaseTexts, AlignedTexts, TableReward(), KlAligned[..3]));
        Assert.Throws<ArgumentException>(() => PolicyEvaluator.EvaluateSummaries(Articles(), BaseTexts, AlignedTexts, new CompositeReward(), KlAligned));
        var reserved = new CompositeReward().Add("total", t => t.Length);
        Assert.Throws<ArgumentException>(() => PolicyEvaluator.EvaluateSummaries(Articles(), BaseTexts, AlignedTexts, reserved, KlAligned));
    }

    [Fact]
    public void CsvRoundTripsTextsWithCommasQuotesAndNewlines()
    {
        string[] nasty = ["plain", "has, comma", "has \"quotes\", and comma", "line one\nline two", "crlf\r\nline", "  leading and trailing  ", "", "ünïcödé — ok", "\"", ",\n\""];
        int n = nasty.Length;
        var articles = Enumerable.Range(0, n).Select(i => new Article($"id,{i}", nasty[(i + 3) % n] + " article")).ToList();
        var baseTexts = nasty.ToList();
        var alignedTexts = Enumerable.Reverse(nasty).Select(s => s + "!").ToList();
        var reward = new CompositeReward().Add("len", t => t.Length / 3f, 1.0).Add("commas, \"quoted\"", t => t.Count(c => c == ','), -0.3);
        var kl = Enumerable.Range(0, n).Select(i => 0.1 * i + 1.0 / 3).ToList();
        var result = PolicyEvaluator.EvaluateSummaries(articles, baseTexts, alignedTexts, reward, kl);

        var dir = Directory.CreateTempSubdirectory("eval-csv-");
        try
        {
            var path = Path.Combine(dir.FullName, "rows.csv");
            result.SaveCsv(path);
            Assert.Equal(["rows.csv"], dir.GetFiles().Select(f => f.Name)); // the atomic write left no temp file
            var records = EvaluationTestData.ReadCsv(File.ReadAllText(path));
            var df = result.ToDataFrame();
            Assert.Equal(n + 1, records.Count);
            Assert.Equal(df.Columns.Select(c => c.Name), records[0]);
            for (int r = 0; r < n; r++)
            {
                Assert.Equal(df.Columns.Count, records[r + 1].Count);
                for (int c = 0; c < df.Columns.Count; c++)
                {
                    var expected = df.Columns[c][r];
                    var cell = records[r + 1][c];
                    switch (expected)
                    {
                        case string s: Assert.Equal(s, cell); break;
                        case double d: Assert.Equal(d, double.Parse(cell, CultureInfo.InvariantCulture)); break; // exact
                        case int k: Assert.Equal(k, int.Parse(cell, CultureInfo.InvariantCulture)); break;
                        case null: Assert.Equal("", cell); break;
                        default: throw new InvalidOperationException(expected.GetType().Name);
                    }
                }
            }

            // The kit reads its own file back: same rows, same summary.
            var loaded = EvaluationResult.LoadCsv(path);
            Assert.Equal(result.Components, loaded.Components);
            for (int r = 0; r < n; r++)
            {
                var (x, y) = (result.Rows[r], loaded.Rows[r]);
                Assert.Equal((x.Id, x.Article, x.BaseSummary, x.AlignedSummary, x.BaseTotal, x.AlignedTotal, x.BaseKl, x.AlignedKl, x.BaseWords, x.AlignedWords, x.BaseTokens),
                    (y.Id, y.Article, y.BaseSummary, y.AlignedSummary, y.BaseTotal, y.AlignedTotal, y.BaseKl, y.AlignedKl, y.BaseWords, y.AlignedWords, y.BaseTokens));
                Assert.Equal(x.AlignedComponents["commas, \"quoted\""], y.AlignedComponents["commas, \"quoted\""]);
            }
            Assert.Equal(result.Summary, loaded.Summary);

            // Re-scoring the saved outputs with another reward.
            var rescored = loaded.Rescore(new CompositeReward().Add("bangs", t => t.Count(c => c == '!')));
            Assert.All(rescored.Rows, row => Assert.Equal(1.0, row.AlignedTotal - row.BaseTotal));
            Assert.Equal(loaded.Rows.Select(r => r.AlignedKl), rescored.Rows.Select(r => r.AlignedKl));

            var summaryPath = Path.Combine(dir.FullName, "summary.csv");
            result.SaveSummaryCsv(summaryPath);
            var summary = EvaluationTestData.ReadCsv(File.ReadAllText(summaryPath));
            Assert.Equal(["metric", "n", "base_mean", "aligned_mean", "aligned_ci_low", "aligned_ci_high", "diff_mean", "diff_sd", "diff_ci_low", "diff_ci_high", "relative_gain_pct"], summary[0]);
            var quoted = summary.Single(s => s[0] == "commas, \"quoted\"");
            Assert.Equal(result.Metric("commas, \"quoted\"").DiffCiHigh, double.Parse(quoted[9], CultureInfo.InvariantCulture));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void DataAnalysisLoadCsvReadsTheSummaryTable()
    {
        var result = Result();
        var dir = Directory.CreateTempSubdirectory("eval-csv-");
        try
        {
            var path = Path.Combine(dir.FullName, "summary.csv");
            result.SaveSummaryCsv(path);
            var df = DataFrame.LoadCsv(path);
            Assert.Equal(result.Summary.Count, df.Rows.Count);
            Assert.Equal("alpha", df["metric"][1]?.ToString());
            Assert.Equal(result.Metric("alpha").DiffMean, Convert.ToDouble(df["diff_mean"][1], CultureInfo.InvariantCulture), 1e-6);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void ReportHasHeadlineMoversAndSideBySideSections()
    {
        var result = Result();
        // Δ total per article: 1.0, 0.5, 1.25, 0.25, 3.0 -> all improved; make a worse one by swapping texts.
        var swapped = PolicyEvaluator.EvaluateSummaries(Articles(), [.. AlignedTexts[..1], .. BaseTexts[1..]], [.. BaseTexts[..1], .. AlignedTexts[1..]], TableReward(), KlAligned);
        var md = swapped.ToMarkdown(examples: 2, movers: 2);
        int headline = md.IndexOf("## Headline"), movers = md.IndexOf("## Biggest movers"), up = md.IndexOf("### Improved most"),
            down = md.IndexOf("### Worsened most"), side = md.IndexOf("## Side by side");
        Assert.True(headline > 0 && movers > headline && up > movers && down > up && side > down, md);
        // Headline: one table row per reward metric with its mean difference and interval.
        var total = swapped.Metric("total");
        Assert.Contains(FormattableString.Invariant($"| total | {total.BaseMean:0.000} | {total.AlignedMean:0.000} | {total.DiffMean:+0.000;-0.000} | [{total.DiffCiLow:0.000}, {total.DiffCiHigh:0.000}] |"), md);
        Assert.Contains("| alpha |", md);
        Assert.Contains("| beta |", md);
        Assert.Contains("KL(aligned ‖ reference)", md);
        Assert.Contains(FormattableString.Invariant($"mean {swapped.Metric("kl").AlignedMean:0.000} nats"), md);
        // Movers: id4 (+3.0) and id2 (+1.25) improved most; id0 (-1.0) is the only one that got worse.
        var upSection = md[up..down];
        Assert.True(upSection.IndexOf("| id4 |") >= 0 && upSection.IndexOf("| id4 |") < upSection.IndexOf("| id2 |"), upSection);
        Assert.DoesNotContain("| id1 |", upSection);
        var downSection = md[down..side];
        Assert.Contains("| id0 | ", downSection);
        Assert.Contains("-1.000", downSection);
        // Side by side: the first two articles, base and aligned summaries with their rewards, newlines flattened.
        var sideSection = md[side..];
        Assert.Contains("### id0", sideSection);
        Assert.Contains("### id1", sideSection);
        Assert.DoesNotContain("### id2", sideSection);
        Assert.Contains("> Article 0, with a comma.", sideSection);
        Assert.Contains("| base | aligned zero |", sideSection);
        Assert.Contains("| aligned | base zero |", sideSection);

        var all = result.ToMarkdown();
        Assert.Contains("(none)", all[all.IndexOf("### Worsened most")..]); // nothing got worse
        Assert.Contains("| aligned | aligned five |", all); // "aligned\nfive" stays on one table row

        var dir = Directory.CreateTempSubdirectory("eval-md-");
        try
        {
            var path = Path.Combine(dir.FullName, "report.md");
            swapped.SaveReport(path, examples: 2, movers: 2);
            Assert.Equal(md, File.ReadAllText(path));
        }
        finally { dir.Delete(recursive: true); }
    }
}
