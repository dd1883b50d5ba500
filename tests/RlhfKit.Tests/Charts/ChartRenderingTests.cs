using RlhfKit.Charts;
using Xunit.Abstractions;
using static RlhfKit.Tests.Charts.ChartTestKit;

namespace RlhfKit.Tests.Charts;

/// <summary>Each chart is written with <see cref="ChartHtml"/>, opened in headless Chromium with every host name
/// unresolvable (so nothing can come from the network), and the DOM plotly drew is checked: one SVG trace per series,
/// titles, error bars. The negative tests show that the checks fail when plotly.js does not load.</summary>
[Collection("Charts")]
public sealed class ChartRenderingTests(ITestOutputHelper output) : IDisposable
{
    readonly DirectoryInfo dir = TempDir();

    public void Dispose()
    {
        try { dir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    RenderedPage Render(XPlot.Plotly.PlotlyChart chart, string name, bool inlinePlotly = true)
    {
        _ = Bundle; // fails with set-up instructions when plotly.js is not installed
        var path = Path.Combine(dir.FullName, name + ".html");
        var source = ChartHtml.Save(chart, path, inlinePlotly);
        Assert.Equal(inlinePlotly ? PlotlySource.Inline : PlotlySource.LocalFile, source);
        return RenderFile(path);
    }

    RenderedPage RenderFile(string path)
    {
        var page = HeadlessChromium.DumpDom(path);
        output.WriteLine($"{Path.GetFileName(path)} ({new FileInfo(path).Length / 1024} KiB): rendered in {page.Elapsed.TotalMilliseconds:F0} ms, " +
                         $"{page.Traces} traces, {page.MainSvgs} main-svg");
        return page;
    }

    [Fact]
    public void RewardAndKlDrawsTwoLineTracesOnTwoYAxes()
    {
        var steps = Steps(30);
        var page = Render(WorkshopCharts.RewardAndKl(steps, Wave(30, 1, 0), Wave(30, 0.2, 1)), "reward-kl");

        Assert.True(page.HasMainSvg);
        Assert.Equal(2, page.Traces);
        Assert.Equal(2, page.ScatterTraces);
        Assert.Equal(2, page.LinePaths);
        Assert.Equal(2, page.LegendEntries);
        Assert.Equal("Reward and KL during PPO", page.TextOf("gtitle"));
        Assert.Equal("PPO step", page.TextOf("xtitle"));
        Assert.Equal("mean reward", page.TextOf("ytitle"));
        Assert.Equal("KL(policy ‖ reference)", page.TextOf("y2title"));
    }

    [Fact]
    public void RewardComponentsDrawsOneLinePerComponent()
    {
        var steps = Steps(20);
        var components = new Dictionary<string, IReadOnlyList<double>>
        {
            ["sentiment"] = Wave(20, 1, 0),
            ["toxicity"] = Wave(20, 0.5, 2),
            ["length"] = Wave(20, 0.3, 4),
        };
        var page = Render(WorkshopCharts.RewardComponents(steps, components), "components");

        Assert.Equal(3, page.Traces);
        Assert.Equal(3, page.LinePaths);
        Assert.Equal(["sentiment", "toxicity", "length"], page.LegendTexts());
        Assert.Equal("PPO step", page.TextOf("xtitle"));
    }

    [Fact]
    public void BeforeAfterDistributionsDrawsTwoOverlaidHistograms()
    {
        var page = Render(WorkshopCharts.BeforeAfterDistributions("sentiment", Samples(200, 0.2, 0.5, 1), Samples(150, 0.6, 0.4, 2)), "distributions");

        Assert.Equal(2, page.Traces);
        Assert.Equal(2, page.BarTraces);
        Assert.True(page.BarPoints >= 4, $"expected histogram bars, got {page.BarPoints}");
        Assert.Equal(["before (n=200)", "after (n=150)"], page.LegendTexts());
        Assert.Equal("sentiment: distribution before vs after PPO", page.TextOf("gtitle"));
        Assert.Equal("fraction of samples", page.TextOf("ytitle"));
    }

    [Fact]
    public void MeanGainsWithCiDrawsOneBarWithAnErrorBarPerComponent()
    {
        var gains = new List<(string Name, double Mean, double Low, double High)>
        {
            ("sentiment", 0.30, 0.20, 0.45), ("toxicity", -0.05, -0.12, 0.01), ("length", 0.10, 0.02, 0.15), ("fluency", 0.0, -0.04, 0.04),
        };
        var page = Render(WorkshopCharts.MeanGainsWithCi(gains), "gains");

        Assert.Equal(1, page.Traces);
        Assert.Equal(1, page.BarTraces);
        Assert.Equal(4, page.BarPoints);
        Assert.Equal(4, page.YErrorBars);
        Assert.Equal("reward component", page.TextOf("xtitle"));
    }

    [Fact]
    public void LinesDrawsEverySeriesEvenWithMarkupInNames()
    {
        var x = Steps(10);
        var series = new List<LineSeries>
        {
            new("plain", x, Wave(10, 1, 0)),
            new("</script><script>document.title='pwned'</script>", x, Wave(10, 1, 1)),
            new("a & b <!-- c", x, Wave(10, 1, 2)),
        };
        var page = Render(WorkshopCharts.Lines("Generic </script> title", "x axis", "y axis", series), "lines");

        Assert.Equal(3, page.Traces);
        Assert.Equal(3, page.LinePaths);
        Assert.Equal(series.Select(s => s.Name), page.LegendTexts());
        Assert.Equal("Generic </script> title", page.TextOf("gtitle"));
        Assert.Contains("<title>RlhfKit chart</title>", page.Dom); // the injected script in a name did not run
    }

    [Fact]
    public void PageReferencingTheLocalBundleByRelativePathRendersOffline()
    {
        var page = Render(WorkshopCharts.RewardAndKl(Steps(5), Wave(5, 1, 0), Wave(5, 1, 1)), "relative", inlinePlotly: false);
        var html = File.ReadAllText(Path.Combine(dir.FullName, "relative.html"));

        Assert.Contains("plotly.min.js\"></script>", html);
        Assert.DoesNotContain("cdn.plot.ly", html);
        Assert.Equal(2, page.Traces);
    }

    [Fact]
    public void MissingLocalBundleFallsBackToTheCDNWhichDrawsNothingOffline()
    {
        var path = Path.Combine(dir.FullName, "cdn.html");
        var source = ChartHtml.Save(WorkshopCharts.RewardAndKl(Steps(5), Wave(5, 1, 0), Wave(5, 1, 1)), path, inlinePlotly: true,
                                    plotlyJsPath: Path.Combine(dir.FullName, "no-such-dir", "plotly.min.js"));
        Assert.Equal(PlotlySource.Cdn, source);

        var page = RenderFile(path);

        Assert.Equal(0, page.Traces);
        Assert.False(page.HasMainSvg);
    }

    [Fact]
    public void BrokenBundleDrawsNothing()
    {
        var broken = Path.Combine(dir.FullName, "plotly.min.js");
        File.WriteAllText(broken, "/* not plotly.js */ throw new Error('broken bundle');\n");
        var path = Path.Combine(dir.FullName, "broken.html");
        Assert.Equal(PlotlySource.Inline, ChartHtml.Save(WorkshopCharts.RewardAndKl(Steps(5), Wave(5, 1, 0), Wave(5, 1, 1)), path, true, broken));

        var page = RenderFile(path);

        Assert.Equal(0, page.Traces);
        Assert.False(page.HasMainSvg);
    }

    [Fact]
    public void NotebookFragmentsRenderOfflineTwiceOnOnePageEvenWithRequireJSPresent()
    {
        var first = ChartHtml.ToInlineHtml(WorkshopCharts.RewardAndKl(Steps(5), Wave(5, 1, 0), Wave(5, 1, 1)));
        var second = ChartHtml.ToInlineHtml(WorkshopCharts.MeanGainsWithCi([("a", 1, 0.5, 1.5), ("b", 2, 1, 3)]));
        // A notebook-like page: an AMD loader is defined (as Jupyter's RequireJS does) and counts registrations.
        var html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script>window.amdCalls = 0;" +
                   "window.define = function () { window.amdCalls++; }; window.define.amd = {};</script></head><body>\n" +
                   "<div class=\"cell\">" + first + "</div>\n<div class=\"cell\">" + second + "</div>\n" +
                   "<script>document.body.setAttribute('data-amd-calls', String(window.amdCalls));" +
                   "document.body.setAttribute('data-plotly', typeof window.Plotly);</script></body></html>";
        var path = Path.Combine(dir.FullName, "notebook.html");
        File.WriteAllText(path, html);

        var page = RenderFile(path);

        Assert.Equal(3, page.Traces);
        Assert.Equal(2, page.YErrorBars);
        Assert.Contains("data-amd-calls=\"0\"", page.Dom);
        Assert.Contains("data-plotly=\"object\"", page.Dom);
    }
}
