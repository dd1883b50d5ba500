using System.Collections;
using System.Reflection;
using Microsoft.Data.Analysis;
using RlhfKit.Charts;
using XPlot.Plotly;

namespace RlhfKit.Notebooks;

/// <summary>
/// <c>display(...)</c> for the lessons' file-based apps (<c>dotnet run notebooks/NN-name.cs</c>), which import it with
/// <c>using static RlhfKit.Notebooks.ConsoleNotebook;</c>: what a notebook would draw is written to the console, and
/// charts are saved as HTML pages (they open offline in any browser).
/// </summary>
public static class ConsoleNotebook
{
    static int _charts;

    /// <summary>Where charts go: <c>&lt;runs&gt;/charts</c> (see <see cref="Lesson.RunsRoot"/>).</summary>
    public static string ChartFolder { get; set; } = "";

#pragma warning disable IDE1006 // the notebook kernel's name, so the lessons' code runs unchanged
    public static ConsoleView display(object? value)
#pragma warning restore IDE1006
    {
        var view = new ConsoleView();
        view.Update(value);
        return view;
    }

    internal static string NewChartPath()
    {
        var folder = ChartFolder is { Length: > 0 } f ? f : Path.Combine(Lesson.RunsRoot(), "charts");
        Directory.CreateDirectory(folder);
        var app = Assembly.GetEntryAssembly()?.GetName().Name ?? "chart";
        return Path.Combine(folder, $"{app}-{Interlocked.Increment(ref _charts):D2}.html");
    }
}

/// <summary>One displayed value in the console: <see cref="Update"/> rewrites the same chart file or progress line.</summary>
public sealed class ConsoleView
{
    string? _chartPath;
    int _lastStep = -1;
    bool _lineOpen;

    public void Update(object? value)
    {
        switch (value)
        {
            case PlotlyChart chart:
                EndLine();
                _chartPath ??= ConsoleNotebook.NewChartPath();
                ChartHtml.Save(chart, _chartPath);
                Console.WriteLine($"chart: {_chartPath}");
                break;
            case LiveChart live:
                _chartPath ??= ConsoleNotebook.NewChartPath();
                ChartHtml.Save(live.Chart, _chartPath);
                break;
            case ProgressView progress:
                ShowProgress(progress);
                break;
            case DataFrame frame:
                EndLine();
                Console.WriteLine(Tables.ToText(frame));
                break;
            case string text:
                EndLine();
                Console.WriteLine(text);
                break;
            case IEnumerable items:
                EndLine();
                foreach (var item in items) Console.WriteLine(item);
                break;
            default:
                EndLine();
                Console.WriteLine(value?.ToString() ?? "null");
                break;
        }
    }

    void ShowProgress(ProgressView view)
    {
        var finished = view.Progress?.Phase is "done" or "stopped";
        if (Console.IsOutputRedirected)
        {
            // One line per step in logs and pipes.
            var step = view.Progress?.Step ?? -1;
            if (step == _lastStep && !finished) return;
            _lastStep = step;
            Console.WriteLine(view.ToString());
            return;
        }
        var width = Width() - 1;
        var text = view.ToString();
        Console.Write("\r" + (text.Length > width ? text[..width] : text.PadRight(width)));
        _lineOpen = !finished;
        if (finished) Console.WriteLine();
    }

    static int Width()
    {
        try { return Math.Max(40, Console.WindowWidth); }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException) { return 100; }
    }

    void EndLine()
    {
        if (!_lineOpen) return;
        Console.WriteLine();
        _lineOpen = false;
    }
}
