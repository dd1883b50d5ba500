using XPlot.Plotly;

namespace RlhfKit.Charts;

/// <summary>One named line: <see cref="X"/> and <see cref="Y"/> of equal length.</summary>
public sealed record LineSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>The workshop's charts as XPlot.Plotly charts built from plain arrays. Write them with
/// <see cref="ChartHtml.Save(PlotlyChart, string, bool)"/> or show them in a notebook with
/// <c>display(HTML(ChartHtml.ToInlineHtml(chart)))</c>.</summary>
public static class WorkshopCharts
{
    public const int DefaultWidth = 900;
    public const int DefaultHeight = 500;

    /// <summary>Mean reward (left axis) and KL to the reference policy (right axis) per PPO step: two traces.</summary>
    public static PlotlyChart RewardAndKl(IReadOnlyList<double> steps, IReadOnlyList<double> reward, IReadOnlyList<double> kl)
    {
        RequireSameLength(steps, reward, nameof(reward));
        RequireSameLength(steps, kl, nameof(kl));
        var traces = new Trace[]
        {
            new Scatter { name = "reward", x = steps.ToArray(), y = reward.ToArray(), mode = "lines+markers" },
            new Scatter { name = "KL", x = steps.ToArray(), y = kl.ToArray(), mode = "lines+markers", yaxis = "y2",
                                line = new Line { dash = "dot" } },
        };
        var layout = new Layout.Layout
        {
            title = "Reward and KL during PPO",
            xaxis = new Xaxis { title = "PPO step" },
            yaxis = new Yaxis { title = "mean reward" },
            yaxis2 = new Yaxis { title = "KL(policy ‖ reference)", overlaying = "y", side = "right", showgrid = false },
            showlegend = true,
        };
        return Build(traces, layout);
    }

    /// <summary>One line per reward component against the PPO step.</summary>
    public static PlotlyChart RewardComponents(IReadOnlyList<double> steps, IReadOnlyDictionary<string, IReadOnlyList<double>> components)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (components.Count == 0) throw new ArgumentException("At least one component is needed.", nameof(components));
        var series = components.Select(kv => new LineSeries(kv.Key, steps, kv.Value)).ToList();
        return Lines("Reward components during PPO", "PPO step", "mean component score", series);
    }

    /// <summary>Overlaid normalised histograms of one reward component's per-sample scores before and after PPO.</summary>
    public static PlotlyChart BeforeAfterDistributions(string component, IReadOnlyList<double> before, IReadOnlyList<double> after)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(component);
        RequireNonEmpty(before, nameof(before));
        RequireNonEmpty(after, nameof(after));
        var traces = new Trace[]
        {
            new Histogram { name = $"before (n={before.Count})", x = before.ToArray(), opacity = 0.6, histnorm = "probability" },
            new Histogram { name = $"after (n={after.Count})", x = after.ToArray(), opacity = 0.6, histnorm = "probability" },
        };
        var layout = new Layout.Layout
        {
            title = $"{component}: distribution before vs after PPO",
            xaxis = new Xaxis { title = component },
            yaxis = new Yaxis { title = "fraction of samples" },
            barmode = "overlay",
            showlegend = true,
        };
        return Build(traces, layout);
    }

    /// <summary>Mean gain (after − before) per component as bars with asymmetric error bars from the confidence interval
    /// [<c>Low</c>, <c>High</c>]: one bar trace.</summary>
    public static PlotlyChart MeanGainsWithCi(IReadOnlyList<(string Name, double Mean, double Low, double High)> gains)
    {
        ArgumentNullException.ThrowIfNull(gains);
        if (gains.Count == 0) throw new ArgumentException("At least one gain is needed.", nameof(gains));
        foreach (var g in gains)
        {
            if (!double.IsFinite(g.Mean) || !double.IsFinite(g.Low) || !double.IsFinite(g.High))
                throw new ArgumentException($"'{g.Name}': mean and interval must be finite.", nameof(gains));
            if (g.Low > g.Mean || g.Mean > g.High)
                throw new ArgumentException($"'{g.Name}': expected Low <= Mean <= High, got {g.Low} <= {g.Mean} <= {g.High}.", nameof(gains));
        }
        var bar = new Bar
        {
            name = "mean gain",
            x = gains.Select(g => g.Name).ToArray(),
            y = gains.Select(g => g.Mean).ToArray(),
            error_y = new Error_y
            {
                type = "data",
                symmetric = false,
                array = gains.Select(g => g.High - g.Mean).ToArray(),
                arrayminus = gains.Select(g => g.Mean - g.Low).ToArray(),
                visible = true,
            },
        };
        var layout = new Layout.Layout
        {
            title = "Mean gain per reward component (with confidence interval)",
            xaxis = new Xaxis { title = "reward component" },
            yaxis = new Yaxis { title = "mean gain (after − before)", zeroline = true },
            showlegend = false,
        };
        return Build([bar], layout);
    }

    /// <summary>Each method's mean gain over the base per metric, with its confidence interval: one bar trace per method,
    /// grouped by metric.</summary>
    public static PlotlyChart GainsByMethod(IReadOnlyList<(string Method, IReadOnlyList<(string Metric, double Mean, double Low, double High)> Gains)> methods)
    {
        ArgumentNullException.ThrowIfNull(methods);
        if (methods.Count == 0) throw new ArgumentException("At least one method is needed.", nameof(methods));
        var traces = methods.Select(m => (Trace)new Bar
        {
            name = m.Method,
            x = m.Gains.Select(g => g.Metric).ToArray(),
            y = m.Gains.Select(g => g.Mean).ToArray(),
            error_y = new Error_y
            {
                type = "data", symmetric = false, visible = true,
                array = m.Gains.Select(g => Math.Max(0, g.High - g.Mean)).ToArray(),
                arrayminus = m.Gains.Select(g => Math.Max(0, g.Mean - g.Low)).ToArray(),
            },
        }).ToList();
        var layout = new Layout.Layout
        {
            title = "Gain over the base policy, by method (with confidence interval)",
            xaxis = new Xaxis { title = "metric" },
            yaxis = new Yaxis { title = "mean gain over the base", zeroline = true },
            barmode = "group",
            showlegend = true,
        };
        return Build(traces, layout);
    }

    /// <summary>The words whose rate per 1,000 words changed most between two sets of summaries: one horizontal bar
    /// trace, rises positive and falls negative.</summary>
    public static PlotlyChart WordChanges(IReadOnlyList<(string Word, double Change)> changes)
    {
        ArgumentNullException.ThrowIfNull(changes); // an empty list draws an empty chart: no word changed often enough
        var ordered = changes.OrderBy(c => c.Change).ToList();
        var bar = new Bar { name = "change per 1,000 words", x = ordered.Select(c => c.Change).ToArray(), y = ordered.Select(c => c.Word).ToArray(), orientation = "h" };
        var layout = new Layout.Layout
        {
            title = "Words the aligned policy uses more (right) and less (left) than the base",
            xaxis = new Xaxis { title = "change of the rate per 1,000 words (aligned − base)", zeroline = true },
            showlegend = false,
        };
        return Build([bar], layout);
    }

    /// <summary>A generic line chart: one trace per series.</summary>
    public static PlotlyChart Lines(string title, string xTitle, string yTitle, IReadOnlyList<LineSeries> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("At least one series is needed.", nameof(series));
        var traces = new List<Trace>(series.Count);
        foreach (var s in series)
        {
            ArgumentNullException.ThrowIfNull(s);
            RequireSameLength(s.X, s.Y, $"{nameof(series)}['{s.Name}']");
            traces.Add(new Scatter { name = s.Name, x = s.X.ToArray(), y = s.Y.ToArray(), mode = "lines" });
        }
        var layout = new Layout.Layout
        {
            title = title,
            xaxis = new Xaxis { title = xTitle },
            yaxis = new Yaxis { title = yTitle },
            showlegend = true,
        };
        return Build(traces, layout);
    }

    static PlotlyChart Build(IEnumerable<Trace> traces, Layout.Layout layout)
    {
        var chart = Chart.Plot(traces, layout);
        chart.Width = DefaultWidth;
        chart.Height = DefaultHeight;
        return chart;
    }

    static void RequireSameLength(IReadOnlyList<double> x, IReadOnlyList<double> y, string name)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y, name);
        if (x.Count != y.Count) throw new ArgumentException($"{name} has {y.Count} values but there are {x.Count} x values.", name);
    }

    static void RequireNonEmpty(IReadOnlyList<double> values, string name)
    {
        ArgumentNullException.ThrowIfNull(values, name);
        if (values.Count == 0) throw new ArgumentException("No values.", name);
    }
}
