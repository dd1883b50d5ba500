using RlhfKit.Charts;
using RlhfKit.Evaluation;
using XPlot.Plotly;

namespace RlhfKit.Alignment;

/// <summary>The charts a run produces, from its step log and its evaluation.</summary>
public static class RunCharts
{
    public static PlotlyChart RewardAndKl(IReadOnlyList<StepLog> log) => WorkshopCharts.RewardAndKl(
        log.Select(l => (double)l.Step).ToList(), log.Select(l => l.Stats["env/reward_mean"]).ToList(), log.Select(l => l.Stats["objective/kl"]).ToList());

    public static PlotlyChart RewardComponents(IReadOnlyList<StepLog> log)
    {
        var names = log.SelectMany(l => l.Stats.Keys).Where(k => k.StartsWith("env/reward/", StringComparison.Ordinal)).Distinct().ToList();
        return WorkshopCharts.RewardComponents(log.Select(l => (double)l.Step).ToList(),
            names.ToDictionary(n => n["env/reward/".Length..], n => (IReadOnlyList<double>)log.Select(l => l.Stats.GetValueOrDefault(n, double.NaN)).ToList()));
    }

    public static PlotlyChart TotalBeforeAfter(EvaluationResult evaluation) => WorkshopCharts.BeforeAfterDistributions(
        "total reward", evaluation.Rows.Select(r => r.BaseTotal).ToList(), evaluation.Rows.Select(r => r.AlignedTotal).ToList());

    /// <summary>Each method's gain over the base (every reward metric, the KL, and the fluency proxies all methods have)
    /// with its interval, grouped by metric.</summary>
    public static PlotlyChart GainsByMethod(IReadOnlyList<MethodResult> methods) => WorkshopCharts.GainsByMethod(
        methods.Select(m => (m.Method, (IReadOnlyList<(string, double, double, double)>)MethodComparison.Metrics(methods)
            .Select(m.Evaluation.Metric).Select(s => (s.Metric, s.DiffMean, s.DiffCiLow, s.DiffCiHigh)).ToList())).ToList());

    /// <summary>The words the aligned summaries use more and less than the base ones (<see cref="ChangedWords"/>).</summary>
    public static PlotlyChart ChangedWords(IReadOnlyList<WordChange> changes) =>
        WorkshopCharts.WordChanges(changes.Select(c => (c.Word, c.Change)).ToList());

    /// <summary>One statistic of several runs per step, a line each: e.g. <c>env/reward_mean</c> or
    /// <c>objective/kl</c> of the run with its KL penalty and the one without.</summary>
    public static PlotlyChart CompareRuns(string statistic, IReadOnlyList<(string Name, IReadOnlyList<StepLog> Log)> runs) =>
        WorkshopCharts.Lines($"{statistic} per PPO step", "PPO step", statistic, runs.Select(r => new LineSeries(r.Name,
            r.Log.Select(l => (double)l.Step).ToList(), r.Log.Select(l => l.Stats.GetValueOrDefault(statistic, double.NaN)).ToList())).ToList());

    /// <summary>Mean paired gain (aligned - base) of each reward with its 95% interval.</summary>
    public static PlotlyChart Gains(EvaluationResult evaluation) => WorkshopCharts.MeanGainsWithCi(
        evaluation.RewardMetrics.Select(evaluation.Metric).Select(m => (m.Metric, m.DiffMean, Math.Min(m.DiffCiLow, m.DiffMean), Math.Max(m.DiffCiHigh, m.DiffMean))).ToList());
}

/// <summary>Writes a run's evaluation (CSV tables, a markdown report) and charts (standalone HTML that draws offline).</summary>
public static class RunOutputs
{
    public static IReadOnlyList<string> Save(string outputDir, IReadOnlyList<StepLog> log, EvaluationResult? evaluation)
    {
        var written = new List<string>();
        var charts = Path.Combine(outputDir, "charts");
        Directory.CreateDirectory(charts);
        void Chart(string name, PlotlyChart chart)
        {
            var path = Path.Combine(charts, name + ".html");
            ChartHtml.Save(chart, path);
            written.Add(path);
        }
        if (log.Count > 0)
        {
            Chart("reward_and_kl", RunCharts.RewardAndKl(log));
            Chart("reward_components", RunCharts.RewardComponents(log));
        }
        if (evaluation is not null)
        {
            Chart("total_reward_before_after", RunCharts.TotalBeforeAfter(evaluation));
            Chart("reward_gains", RunCharts.Gains(evaluation));
            var csv = Path.Combine(outputDir, "evaluation.csv");
            evaluation.SaveCsv(csv);
            var summary = Path.Combine(outputDir, "evaluation_summary.csv");
            evaluation.SaveSummaryCsv(summary);
            var report = Path.Combine(outputDir, "report.md");
            evaluation.SaveReport(report);
            written.AddRange([csv, summary, report]);
        }
        return written;
    }

    /// <summary>Writes the comparison of methods on the same held-out articles (<c>methods.csv</c>:
    /// <see cref="MethodComparison.ToDataFrame"/>; <c>charts/gains_by_method.html</c>) and the words whose frequency changed
    /// most between the base and the first method's summaries (<c>changed_words.csv</c>, <c>charts/changed_words.html</c>).</summary>
    public static IReadOnlyList<string> SaveComparison(string outputDir, IReadOnlyList<MethodResult> methods, IReadOnlyList<WordChange> changes)
    {
        var charts = Path.Combine(outputDir, "charts");
        Directory.CreateDirectory(charts);
        var files = new[]
        {
            Path.Combine(outputDir, "methods.csv"), Path.Combine(charts, "gains_by_method.html"),
            Path.Combine(outputDir, "changed_words.csv"), Path.Combine(charts, "changed_words.html"),
        };
        AtomicFile.WriteAllText(files[0], Csv.Of(MethodComparison.ToDataFrame(methods)));
        ChartHtml.Save(RunCharts.GainsByMethod(methods), files[1]);
        AtomicFile.WriteAllText(files[2], Csv.Of(ChangedWords.ToDataFrame(changes)));
        ChartHtml.Save(RunCharts.ChangedWords(changes), files[3]);
        return files;
    }
}
