using System.Collections;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using Microsoft.Data.Analysis;
using RlhfKit.Alignment;
using RlhfKit.Charts;
using XPlot.Plotly;

namespace RlhfKit.Notebooks;

/// <summary>Something a notebook shows as HTML. The lessons' first cell registers one formatter for all of them:
/// <c>Formatter.Register&lt;IHtmlView&gt;(v =&gt; v.ToHtml(), "text/html")</c>; outside a notebook <c>ToString()</c> is used.</summary>
public interface IHtmlView
{
    string ToHtml();
}

/// <summary>A progress bar for an alignment run: display it once, then <c>Update</c> it from <see cref="AlignmentRun.Progress"/>.</summary>
public sealed record ProgressView(RunProgress? Progress) : IHtmlView
{
    public double Fraction => Progress is { TotalSteps: > 0 } p ? Math.Clamp((double)p.Step / p.TotalSteps, 0, 1) : 0;

    public string ToHtml()
    {
        var p = Progress;
        var max = Math.Max(1, p?.TotalSteps ?? 1);
        return $"<div style=\"font-family: monospace; white-space: nowrap\"><progress value=\"{p?.Step ?? 0}\" max=\"{max}\" " +
               $"style=\"width: 360px; vertical-align: middle\"></progress> {WebUtility.HtmlEncode(Text())}</div>";
    }

    public override string ToString()
    {
        const int width = 30;
        var filled = (int)Math.Round(Fraction * width);
        return $"[{new string('#', filled)}{new string('-', width - filled)}] {Text()}";
    }

    string Text()
    {
        if (Progress is not { } p) return "starting...";
        var left = p.Remaining is TimeSpan r ? $", ~{Clock(r)} left" : "";
        return $"step {p.Step}/{p.TotalSteps}  reward {Num(p.RewardMean)}  KL {Num(p.Kl)}  {p.Phase}  ({Clock(p.Elapsed)} elapsed{left})";
    }

    static string Num(double? x) => x is double v ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";
    static string Clock(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// A chart for frequent updates: unlike a displayed <see cref="PlotlyChart"/> (which carries plotly.js, about 4.5 MB),
/// its HTML only draws with the plotly.js an earlier output of the page already loaded. Display the first version as a
/// <see cref="PlotlyChart"/>, update it with <see cref="LiveChart"/>s, and finish with a <see cref="PlotlyChart"/> again so
/// the saved notebook draws on its own.
/// </summary>
public sealed record LiveChart(PlotlyChart Chart) : IHtmlView
{
    public string ToHtml()
    {
        var id = WebUtility.HtmlEncode(Chart.Id);
        return $"<div id=\"{id}\" style=\"width: {Chart.Width}px; height: {Chart.Height}px;\"></div>\n" +
               "<script type=\"text/javascript\">\n(function () {\n" +
               "  if (!window.Plotly) { document.getElementById('" + id + "').textContent = '(the chart draws once plotly.js is loaded)'; return; }\n" +
               ChartHtml.EscapeForScriptElement(Chart.GetPlottingJS()) + "\n})();\n</script>\n";
    }

    public override string ToString() => "(live chart)";
}

/// <summary>Tables for notebook cells: any rows as a <see cref="DataFrame"/>, and DataFrames as readable HTML or text.</summary>
public static class Tables
{
    /// <summary>A DataFrame with one column per public property of <typeparamref name="T"/> (anonymous types work):
    /// numbers as double columns, everything else as text.</summary>
    public static DataFrame Of<T>(IEnumerable<T> rows)
    {
        var list = rows.ToList();
        var props = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).ToList();
        var columns = new List<DataFrameColumn>();
        foreach (var p in props)
        {
            var type = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            if (type == typeof(int) || type == typeof(long))
                columns.Add(new Int64DataFrameColumn(p.Name, list.Select(r => p.GetValue(r) is { } v ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : (long?)null)));
            else if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
                columns.Add(new DoubleDataFrameColumn(p.Name, list.Select(r => p.GetValue(r) is { } v ? Convert.ToDouble(v, CultureInfo.InvariantCulture) : (double?)null)));
            else if (type == typeof(bool))
                columns.Add(new BooleanDataFrameColumn(p.Name, list.Select(r => (bool?)p.GetValue(r))));
            else
                columns.Add(new StringDataFrameColumn(p.Name, list.Select(r => Cell(p.GetValue(r)))));
        }
        return new DataFrame(columns);
    }

    /// <summary>An HTML table of the first <paramref name="maxRows"/> rows; long texts wrap, numbers show 4 decimals.</summary>
    public static string ToHtml(DataFrame frame, int maxRows = 25)
    {
        var sb = new StringBuilder("<table style=\"border-collapse: collapse\"><thead><tr>");
        foreach (var c in frame.Columns)
            sb.Append("<th style=\"text-align: left; padding: 2px 8px; border-bottom: 1px solid #999\">").Append(WebUtility.HtmlEncode(c.Name)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        for (long r = 0; r < Math.Min(frame.Rows.Count, maxRows); r++)
        {
            sb.Append("<tr>");
            foreach (var c in frame.Columns)
            {
                var value = c[r];
                var numeric = value is double or float or int or long;
                sb.Append("<td style=\"vertical-align: top; padding: 2px 8px; white-space: normal; max-width: 480px; text-align: ")
                  .Append(numeric ? "right" : "left").Append("\">").Append(WebUtility.HtmlEncode(Cell(value))).Append("</td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (frame.Rows.Count > maxRows) sb.Append($"<div><i>{maxRows} of {frame.Rows.Count} rows</i></div>");
        return sb.ToString();
    }

    /// <summary>The same table as aligned text, each cell cut to <paramref name="maxWidth"/> characters.</summary>
    public static string ToText(DataFrame frame, int maxRows = 25, int maxWidth = 48)
    {
        var rows = (int)Math.Min(frame.Rows.Count, maxRows);
        var cells = frame.Columns.Select(c => new[] { c.Name }.Concat(Enumerable.Range(0, rows).Select(r => Cut(Cell(c[r]), maxWidth))).ToArray()).ToList();
        var widths = cells.Select(col => col.Max(s => s.Length)).ToList();
        var sb = new StringBuilder();
        for (int r = 0; r <= rows; r++)
        {
            sb.AppendJoin("  ", cells.Select((col, i) => col[r].PadRight(widths[i])).ToArray()).Append('\n');
            if (r == 0) sb.AppendJoin("  ", widths.Select(w => new string('-', w)).ToArray()).Append('\n');
        }
        if (frame.Rows.Count > maxRows) sb.Append($"({maxRows} of {frame.Rows.Count} rows)\n");
        return sb.ToString();
    }

    static string Cut(string s, int max) => (s.Length <= max ? s : s[..(max - 3)] + "...").Replace('\n', ' ');

    static string Cell(object? value) => value switch
    {
        null => "",
        double d => double.IsNaN(d) ? "NaN" : d.ToString("F4", CultureInfo.InvariantCulture),
        float f => f.ToString("F4", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        string s => s,
        IEnumerable e => string.Join(", ", e.Cast<object?>().Select(Cell)),
        _ => value.ToString() ?? "",
    };
}
