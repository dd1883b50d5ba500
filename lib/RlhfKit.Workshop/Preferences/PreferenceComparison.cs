using System.Text.Json;
using Microsoft.Data.Analysis;
using RlhfKit.Alignment;
using RlhfKit.Charts;
using RlhfKit.Common;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using XPlot.Plotly;

namespace RlhfKit.Preferences;

/// <summary>
/// Aligned policies (PPO on a learned reward, DPO, ...) against the base on the same held-out articles, judged by a
/// learned reward model: each method's win rate over the base under it (ties count half, Wilson interval), its KL to the
/// reference, and its gain on every other reward component (the classifiers), with intervals. Built on
/// <see cref="PolicyEvaluator"/> (the evaluation of lesson 04): same prompts, same seeded sampling for every policy,
/// so the base summaries are the same in every comparison.
/// </summary>
public static class PreferenceComparison
{
    /// <summary>The name of the learned reward's component in the judge (<see cref="JudgeAsync"/>).</summary>
    public const string Learned = "learned";

    /// <summary>The judge: the profile's classifiers plus the learned reward model in <paramref name="rewardModel"/>
    /// (a folder written by <see cref="RewardTrainer.Save"/>) as the component <see cref="Learned"/>.</summary>
    public static async Task<CompositeReward> JudgeAsync(AlignmentConfig config, string rewardModel)
    {
        var judge = await ProfileLoader.RewardAsync(config);
        return judge.Add(LearnedReward.Load(LearnedRewardProfile.CheckFolder(rewardModel), Learned, ProfileLoader.Device(config.Device)));
    }

    /// <summary>Evaluates each of <paramref name="policies"/> (name, model) against <paramref name="basePolicy"/> (also
    /// the KL's reference) on <paramref name="articles"/> with <paramref name="judge"/>, with the profile's decoding and
    /// prompt length, as <see cref="AlignmentRun.Evaluate"/> does, but one sample per article whatever the profile's
    /// <see cref="AlignmentConfig.EvalSamples"/>: the win rate's Wilson interval counts independent pairs, and several
    /// samples of one article are not (<see cref="WinRate.Of(EvaluationResult, string)"/> refuses them).</summary>
    public static IReadOnlyList<MethodResult> Evaluate(AlignmentConfig config, T5ForConditionalGeneration basePolicy,
        IReadOnlyList<(string Name, T5ForConditionalGeneration Policy)> policies, IHfTokenizer tokenizer, CompositeReward judge,
        IReadOnlyList<NewsArticle> articles, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(policies);
        if (policies.Count == 0) throw new ArgumentException("At least one policy to compare is needed.", nameof(policies));
        var data = articles as NewsDataset ?? new NewsDataset(articles);
        return policies.Select(p =>
        {
            log?.Invoke($"Evaluating {p.Name} against the base on {data.Count} held-out articles");
            return new MethodResult(p.Name, AlignmentRun.EvaluatePolicies(config with { EvalSamples = 1 }, basePolicy, p.Policy, tokenizer, judge, data, batchSize: 8, log));
        }).ToList();
    }

    /// <summary>One row per method: its win rate over the base under <paramref name="metric"/> (default: the learned
    /// reward) with the Wilson interval, wins/ties/losses, and its mean KL to the reference with the t interval.</summary>
    public static DataFrame WinRates(IReadOnlyList<MethodResult> methods, string metric = Learned)
    {
        ArgumentNullException.ThrowIfNull(methods);
        var rates = methods.Select(m => (m.Method, Rate: WinRate.Of(m.Evaluation, metric), Kl: m.Evaluation.Metric(EvaluationResult.Kl))).ToList();
        return new DataFrame(
            new StringDataFrameColumn("method", rates.Select(r => r.Method)),
            new DoubleDataFrameColumn("win_rate", rates.Select(r => r.Rate.Rate)),
            new DoubleDataFrameColumn("win_rate_ci_low", rates.Select(r => r.Rate.Low)),
            new DoubleDataFrameColumn("win_rate_ci_high", rates.Select(r => r.Rate.High)),
            new Int32DataFrameColumn("wins", rates.Select(r => r.Rate.Wins)),
            new Int32DataFrameColumn("ties", rates.Select(r => r.Rate.Ties)),
            new Int32DataFrameColumn("losses", rates.Select(r => r.Rate.Losses)),
            new DoubleDataFrameColumn("kl", rates.Select(r => r.Kl.AlignedMean)),
            new DoubleDataFrameColumn("kl_ci_low", rates.Select(r => r.Kl.AlignedCiLow)),
            new DoubleDataFrameColumn("kl_ci_high", rates.Select(r => r.Kl.AlignedCiHigh)));
    }

    /// <summary>The model folder of a policy to compare: a run folder of <c>align</c> (its latest checkpoint), an output
    /// folder of <c>dpo</c> (its <c>policy/</c>), or a model folder itself.</summary>
    public static string PolicyFolder(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"The policy folder {full} does not exist.");
        if (File.Exists(Path.Combine(full, "config.json"))) return full;
        // A finished dpo folder: its policy/ (its checkpoints/ hold the same policy plus optimizer state).
        if (File.Exists(Path.Combine(full, "policy", "config.json"))) return Path.Combine(full, "policy");
        if (new RunCheckpoints(full).Latest() is { } latest)
        {
            var checkpoint = new RunCheckpoints(full).PathOf(latest.Name);
            // An align run keeps the policy in the checkpoint itself; an unfinished dpo run in its policy/ subfolder.
            return File.Exists(Path.Combine(checkpoint, "policy", "config.json")) ? Path.Combine(checkpoint, "policy") : checkpoint;
        }
        throw new FileNotFoundException($"{full} holds no policy: expected config.json, policy/config.json (a dpo folder) or checkpoints/ (an align run folder).", Path.Combine(full, "config.json"));
    }

    /// <summary>Each method's win rate over the base under <paramref name="metric"/> as a bar with its Wilson interval
    /// (one bar trace; a line at 50% marks "no better than the base").</summary>
    public static PlotlyChart WinRateChart(IReadOnlyList<MethodResult> methods, string metric = Learned)
    {
        ArgumentNullException.ThrowIfNull(methods);
        var rates = methods.Select(m => (m.Method, Rate: WinRate.Of(m.Evaluation, metric))).ToList();
        var bar = new Bar
        {
            name = "win rate",
            x = rates.Select(r => r.Method).ToArray(),
            y = rates.Select(r => 100 * r.Rate.Rate).ToArray(),
            error_y = new Error_y
            {
                type = "data", symmetric = false, visible = true,
                array = rates.Select(r => 100 * (r.Rate.High - r.Rate.Rate)).ToArray(),
                arrayminus = rates.Select(r => 100 * (r.Rate.Rate - r.Rate.Low)).ToArray(),
            },
        };
        var layout = new Layout.Layout
        {
            title = $"Win rate over the base under the {metric} reward (95% Wilson interval; 50% = no better)",
            xaxis = new Xaxis { title = "method" },
            yaxis = new Yaxis { title = "win rate (%)", range = new[] { 0.0, 100.0 } },
            shapes = new[] { new Shape { type = "line", xref = "paper", x0 = 0, x1 = 1, y0 = 50, y1 = 50, line = new Line { dash = "dash" } } },
            showlegend = false,
        };
        var chart = Chart.Plot(bar, layout);
        chart.Width = WorkshopCharts.DefaultWidth;
        chart.Height = WorkshopCharts.DefaultHeight;
        return chart;
    }

    /// <summary>Writes <c>comparison.csv</c> (<see cref="MethodComparison.ToDataFrame"/>: every metric's gain with its
    /// interval), <c>win_rates.csv</c> and <c>win_rates.json</c> (<see cref="WinRates"/>) into <paramref name="folder"/>,
    /// atomically; returns the paths.</summary>
    public static IReadOnlyList<string> Save(string folder, IReadOnlyList<MethodResult> methods, string metric = Learned)
    {
        Directory.CreateDirectory(folder);
        var files = new List<string>();
        void Csv(string name, DataFrame frame)
        {
            var path = Path.Combine(folder, name);
            using var buffer = new MemoryStream();
            DataFrame.SaveCsv(frame, buffer, cultureInfo: System.Globalization.CultureInfo.InvariantCulture);
            AtomicFile.WriteAllText(path, System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            files.Add(path);
        }
        Csv("comparison.csv", MethodComparison.ToDataFrame(methods));
        Csv("win_rates.csv", WinRates(methods, metric));
        var json = Path.Combine(folder, "win_rates.json");
        AtomicFile.WriteAllText(json, JsonSerializer.Serialize(methods.ToDictionary(m => m.Method, m => WinRate.Of(m.Evaluation, metric)), new JsonSerializerOptions { WriteIndented = true }));
        files.Add(json);
        return files;
    }
}
