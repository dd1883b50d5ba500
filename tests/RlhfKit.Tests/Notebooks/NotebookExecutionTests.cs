using RlhfKit.NotebookScripts;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using RlhfKit.Charts;
using RlhfKit.Notebooks;
using RlhfKit.Tests.Charts;

namespace RlhfKit.Tests.Notebooks;

/// <summary>Every lesson notebook runs headlessly top to bottom on the offline profile (dotnet-repl), with no error, and
/// the charts it shows and saves draw offline in headless Chromium.</summary>
[Collection(NotebookCollection.Name)]
public sealed partial class NotebookExecutionTests(NotebookHarness harness, ITestOutputHelper log)
{
    public static TheoryData<string> Lessons => new(NotebookHarness.LessonNames());

    /// <summary>Cells that show a chart, per lesson (the test fails if a chart disappears or an unexpected one appears).</summary>
    static readonly Dictionary<string, int> ChartCells = new()
    {
        ["00-environment"] = 1, ["01-reward-classifiers"] = 0, ["02-policy-and-data"] = 0, ["03-ppo-training"] = 3, ["04-evaluation"] = 8,
        ["05-preferences"] = 2,
    };

    [Theory]
    [MemberData(nameof(Lessons))]
    public void RunsHeadlessTopToBottomWithoutErrors(string lesson)
    {
        var run = harness.Notebook(lesson);
        log.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, $"dotnet repl exited with {run.ExitCode} for {lesson}:\n{NotebookHarness.Tail(run.Output)}");
        Assert.True(run.OutputNotebook is not null, $"dotnet repl wrote no output notebook for {lesson} (a cell may have ended the process):\n{NotebookHarness.Tail(run.Output)}");

        var cells = ExecutedCell.ReadCodeCells(run.OutputNotebook!);
        var source = NotebookScript.ReadCells(Path.Combine(harness.NotebooksDir, lesson + ".ipynb")).Count(c => c.Kind == "code");
        Assert.Equal(source, cells.Count);
        foreach (var cell in cells)
        {
            Assert.True(cell.Ran, $"{lesson}: code cell {cell.Index} did not run:\n{cell.Source}");
            Assert.True(!cell.Errors.Any(), $"{lesson}: code cell {cell.Index} failed: {string.Join("\n", cell.Errors)}\n---\n{cell.Source}");
            Assert.True(!cell.Stderr.Any(), $"{lesson}: code cell {cell.Index} wrote to stderr: {string.Join("\n", cell.Stderr)}");
        }
        // Every cell that ends in an expression shows something; at least the settings cell does.
        Assert.Contains(cells, c => c.Texts("text/plain").Any(t => t.Contains("profile 'offline'", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(Lessons))]
    public void ChartsShownInTheNotebookDrawOffline(string lesson)
    {
        var run = harness.Notebook(lesson);
        Assert.True(run.OutputNotebook is not null, $"no output notebook for {lesson}");
        var charts = ExecutedCell.ReadCodeCells(run.OutputNotebook!)
            .Select(c => c.Texts("text/html").LastOrDefault(IsChart)).OfType<string>().ToList();
        Assert.Equal(ChartCells[lesson], charts.Count);
        if (charts.Count == 0) return;
        // The final state of each chart cell carries plotly.js itself, so the saved notebook draws on its own: the same
        // guarded bundle in every chart (it runs only where the page has no Plotly yet).
        var bundle = InlineBundle(charts[0]);
        Assert.All(charts, (html, i) => Assert.True(InlineBundle(html) == bundle, $"{lesson}: chart {i} carries a different plotly.js bundle"));
        // One page draws them all, as the notebook does: the first chart runs the bundle, the others (whose identical,
        // guarded copy would be skipped on that page anyway) are put on it without theirs, so Chromium parses 4.5 MB once.
        using var dir = new NotebookTempDir();
        var page = dir.Write($"{lesson}.html", Page(string.Join("\n", charts.Select((html, i) => i == 0 ? html : html.Replace(bundle, "", StringComparison.Ordinal)))));
        var drawn = HeadlessChromium.DumpDom(page);
        var ids = charts.Select(ChartId).ToList();
        var starts = ids.Select(id => drawn.Dom.IndexOf($"id=\"{id}\"", StringComparison.Ordinal)).ToList();
        for (int i = 0; i < charts.Count; i++)
        {
            Assert.True(starts[i] >= 0 && (i == 0 || starts[i] > starts[i - 1]), $"{lesson}: chart {i} ({ids[i]}) is not on the drawn page in order");
            var own = new RenderedPage(drawn.Dom[starts[i]..(i + 1 < charts.Count ? starts[i + 1] : drawn.Dom.Length)], drawn.Elapsed);
            Assert.True(own.HasMainSvg, $"{lesson}: chart {i} did not draw");
            Assert.Equal(TraceCount(charts[i]), own.Traces);
        }
    }

    /// <summary>The guarded plotly.js a chart fragment carries (ChartHtml's "// plotly.js ..." through "}).call(window); }").</summary>
    static string InlineBundle(string html)
    {
        int start = html.IndexOf("// plotly.js ", StringComparison.Ordinal);
        Assert.True(start >= 0 && html.IndexOf("inlined by RlhfKit.Charts", start, StringComparison.Ordinal) >= 0, "a chart cell's final state does not carry plotly.js");
        const string End = "\n}).call(window); }\n";
        int end = html.IndexOf(End, start, StringComparison.Ordinal);
        Assert.True(end > start, "the inlined plotly.js has no end");
        Assert.Contains("if (!window.Plotly)", html[start..end], StringComparison.Ordinal);
        return html[start..(end + End.Length)];
    }

    /// <summary>The id of the div a chart fragment draws into (its first element).</summary>
    static string ChartId(string html)
    {
        var m = Regex.Match(html, "^\\s*<div id=\"([^\"]+)\"");
        Assert.True(m.Success, "a chart fragment does not start with its div");
        return m.Groups[1].Value;
    }

    [Fact]
    public void TrainingShowsALiveProgressBarAndALiveChart()
    {
        var run = harness.Notebook("03-ppo-training");
        Assert.True(run.OutputNotebook is not null, "no output notebook for 03-ppo-training");
        var training = ExecutedCell.ReadCodeCells(run.OutputNotebook!).Single(c => c.Source.Contains("foreach (var batch in run.Batches())", StringComparison.Ordinal));
        var html = training.Texts("text/html").ToList();
        int steps = int.Parse(NotebookHarness.Steps);
        // dotnet-repl appends each update of a displayed value (VS Code replaces it in place).
        var bars = html.Where(h => h.Contains("<progress", StringComparison.Ordinal)).ToList();
        Assert.True(bars.Count >= steps + 1, $"expected a progress update per step, got {bars.Count}");
        Assert.Contains($"step {steps}/{steps}", bars[^1], StringComparison.Ordinal);
        var live = html.Where(h => h.Contains("Plotly.newPlot", StringComparison.Ordinal) && !h.Contains("inlined by RlhfKit.Charts", StringComparison.Ordinal)).ToList();
        Assert.Equal(steps, live.Count);
        Assert.All(live, h => Assert.True(h.Length < 20_000, "a live update should not carry plotly.js"));

        // The last live update draws both lines once plotly.js is on the page.
        using var dir = new NotebookTempDir();
        var bundle = PlotlyJs.Locate() ?? throw new InvalidOperationException("plotly.js is not installed: run scripts/setup.sh");
        var page = dir.Write("live.html", $"<script src=\"{new Uri(bundle).AbsoluteUri}\"></script>\n" + Page(live[^1]));
        var drawn = HeadlessChromium.DumpDom(page);
        Assert.Equal(2, drawn.Traces);
        Assert.True(drawn.LinePaths >= 2, $"expected two drawn lines, got {drawn.LinePaths}");
    }

    [Fact]
    public void TheRunFolderHoldsACheckpointAReportAndChartsThatDrawOffline()
    {
        var run = harness.Notebook("04-evaluation");
        Assert.Equal(0, run.ExitCode);
        var folder = Path.Combine(harness.NotebookRuns, "notebook-offline");
        Assert.True(File.Exists(Path.Combine(folder, "checkpoints", "latest.json")), "no checkpoint");
        Assert.True(File.Exists(Path.Combine(folder, "report.md")), "no report");
        Assert.True(File.Exists(Path.Combine(folder, "evaluation.csv")), "no evaluation.csv");
        // The lesson's evaluation draws RLHFKIT_NOTEBOOK_EVAL_SAMPLES summaries of each of its articles: a row per sample.
        var rows = Evaluation.EvaluationTestData.ReadCsv(File.ReadAllText(Path.Combine(folder, "evaluation.csv")));
        Assert.Equal(["id", "sample"], rows[0].Take(2));
        int articles = int.Parse(NotebookHarness.EvalArticles), samples = int.Parse(NotebookHarness.EvalSamples);
        Assert.Equal(Enumerable.Range(0, articles * samples).Select(i => (i / articles).ToString()), rows.Skip(1).Select(r => r[1]));
        Assert.Contains($"{articles} held-out articles, {samples} samples of each per policy", File.ReadAllText(Path.Combine(folder, "report.md")));
        var expected = new Dictionary<string, int>
        {
            ["reward_and_kl.html"] = 2, ["reward_components.html"] = 2, ["total_reward_before_after.html"] = 2, ["reward_gains.html"] = 1,
        };
        var charts = Directory.GetFiles(Path.Combine(folder, "charts"), "*.html").ToDictionary(f => Path.GetFileName(f), f => f);
        Assert.Equal(expected.Keys.Order(), charts.Keys.Order());
        foreach (var (name, traces) in expected)
            Assert.Equal(traces, HeadlessChromium.DumpDom(charts[name]).Traces);
    }

    static bool IsChart(string html) => html.Contains("Plotly.newPlot", StringComparison.Ordinal);

    static string Page(string fragment) => $"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\" /></head><body>\n{fragment}\n</body></html>\n";

    /// <summary>The traces a chart fragment asks plotly to draw: the entries of its <c>var data = [...]</c>.</summary>
    static int TraceCount(string html)
    {
        var data = DataLine().Match(html);
        Assert.True(data.Success, "no 'var data = [...]' in the chart");
        // Each trace object opens the array or follows a comma with its type first (XPlot's order); nested objects
        // such as error bars have a "type" too, after "error_y":{.
        return Regex.Count(data.Value, "[\\[,]\\{\"type\":\"");
    }

    [GeneratedRegex(@"var data = \[.*?\];", RegexOptions.Singleline)]
    private static partial Regex DataLine();
}

sealed class NotebookTempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rlhfkit-nbcharts-").FullName;
    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
