using System.Text.Json;
using System.Text.RegularExpressions;
using RlhfKit.Charts;
using XPlot.Plotly;
using static RlhfKit.Tests.Charts.ChartTestKit;

namespace RlhfKit.Tests.Charts;

/// <summary>The HTML itself (no browser): where plotly.js comes from, inlining, escaping, atomic writes, and the builders'
/// argument checks. In the "Charts" collection because some tests set <see cref="PlotlyJs.EnvVar"/>.</summary>
[Collection("Charts")]
public sealed class ChartHtmlTests : IDisposable
{
    readonly DirectoryInfo dir = TempDir();

    public void Dispose()
    {
        try { dir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    static PlotlyChart Sample() => WorkshopCharts.RewardAndKl([0, 1, 2], [0.1, 0.2, 0.3], [0, 0.01, 0.03]);

    static int Count(string text, string what) => Regex.Count(text, Regex.Escape(what));

    [Fact]
    public void PackageJsonPinsPlotly2xExactlyAndTheLockFileAgrees()
    {
        var pinned = PinnedPlotlyVersion;
        Assert.Matches(@"^2\.\d+\.\d+$", pinned);
        using var lockFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot, "tools", "plotly", "package-lock.json")));
        var locked = lockFile.RootElement.GetProperty("packages").GetProperty("node_modules/plotly.js-dist-min").GetProperty("version").GetString();
        Assert.Equal(pinned, locked);
        Assert.Contains(pinned, PlotlyJs.CdnUrl);
    }

    [Fact]
    public void LocateFindsTheInstalledPinnedBundle()
    {
        var bundle = Bundle;
        Assert.EndsWith(Path.Combine("plotly.js-dist-min", "plotly.min.js"), bundle);
        Assert.Equal(PinnedPlotlyVersion, PlotlyJs.VersionOf(PlotlyJs.ReadText(bundle)));
    }

    [Fact]
    public void EnvironmentVariableOverridesTheSearchWhenTheFileExists()
    {
        var custom = Path.Combine(dir.FullName, "my-plotly.js");
        File.WriteAllText(custom, "/** plotly.js v2.0.0 */");
        var before = Environment.GetEnvironmentVariable(PlotlyJs.EnvVar);
        try
        {
            Environment.SetEnvironmentVariable(PlotlyJs.EnvVar, custom);
            Assert.Equal(custom, PlotlyJs.Locate());
            Environment.SetEnvironmentVariable(PlotlyJs.EnvVar, Path.Combine(dir.FullName, "missing.js"));
            Assert.Equal(Bundle, PlotlyJs.Locate()); // a missing override is ignored: the search still finds the kit's copy
        }
        finally { Environment.SetEnvironmentVariable(PlotlyJs.EnvVar, before); }
    }

    [Fact]
    public void SearchUpFindsBundlesInAncestorsAndPrefersToolsPlotly()
    {
        var root = dir.FullName;
        var nested = Directory.CreateDirectory(Path.Combine(root, "a", "b", "c")).FullName;
        Assert.Null(PlotlyJs.SearchUp(nested) is { } f && f.StartsWith(root, StringComparison.Ordinal) ? f : null);

        var plain = Path.Combine(root, "a", "node_modules", "plotly.js-dist-min", "plotly.min.js");
        Directory.CreateDirectory(Path.GetDirectoryName(plain)!);
        File.WriteAllText(plain, "//");
        Assert.Equal(plain, PlotlyJs.SearchUp(nested));

        var tools = Path.Combine(root, "a", "tools", "plotly", "node_modules", "plotly.js-dist-min", "plotly.min.js");
        Directory.CreateDirectory(Path.GetDirectoryName(tools)!);
        File.WriteAllText(tools, "//");
        Assert.Equal(tools, PlotlyJs.SearchUp(nested));
    }

    [Fact]
    public void SavedPageInlinesTheLocalBundleAndNeverMentionsTheCDN()
    {
        var path = Path.Combine(dir.FullName, "chart.html");
        var chart = Sample();
        Assert.Equal(PlotlySource.Inline, ChartHtml.Save(chart, path));
        var html = File.ReadAllText(path);

        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains($"plotly.js {PinnedPlotlyVersion}, inlined", html);
        Assert.Contains("if (!window.Plotly)", html);
        Assert.Contains(PlotlyJs.ReadText(Bundle)[..2000], html);
        // (the bundle itself mentions https://cdn.plot.ly/ as a default for map styles; no script is loaded from there)
        Assert.DoesNotContain(PlotlyJs.CdnUrl, html);
        Assert.DoesNotContain("<script src=", html);
        Assert.Contains($"<div id=\"{chart.Id}\"", html);
        Assert.Contains($"Plotly.newPlot('{chart.Id}'", html);
        Assert.True(new FileInfo(path).Length > 1_000_000);
    }

    [Fact]
    public void SavedPageCanReferenceTheLocalBundleRelatively()
    {
        var vendor = Directory.CreateDirectory(Path.Combine(dir.FullName, "vendor dir")).FullName;
        var bundle = Path.Combine(vendor, "plotly.min.js");
        File.Copy(Bundle, bundle);
        var path = Path.Combine(dir.FullName, "out", "chart.html");

        Assert.Equal(PlotlySource.LocalFile, ChartHtml.Save(Sample(), path, inlinePlotly: false, plotlyJsPath: bundle));
        var html = File.ReadAllText(path);

        Assert.Contains("<script src=\"../vendor%20dir/plotly.min.js\"></script>", html);
        Assert.DoesNotContain("cdn.plot.ly", html);
        Assert.True(html.Length < 20_000);
    }

    [Fact]
    public void WithoutALocalBundleThePageUsesTheCDNAndSaysSo()
    {
        var path = Path.Combine(dir.FullName, "cdn.html");
        Assert.Equal(PlotlySource.Cdn, ChartHtml.Save(Sample(), path, true, plotlyJsPath: null));
        var html = File.ReadAllText(path);

        Assert.Contains($"<script src=\"{PlotlyJs.CdnUrl}\"></script>", html);
        Assert.Contains("no local plotly.js was found", html);
        Assert.Contains("needs internet", html);
    }

    [Fact]
    public void SaveReplacesTheFileAtomicallyAndLeavesNoTempFiles()
    {
        var path = Path.Combine(dir.FullName, "sub", "chart.html");
        ChartHtml.Save(Sample(), path, inlinePlotly: false);
        var first = File.ReadAllText(path);
        var other = WorkshopCharts.Lines("t", "x", "y", [new LineSeries("s", [1, 2], [3, 4])]);
        ChartHtml.Save(other, path, inlinePlotly: false);

        Assert.NotEqual(first, File.ReadAllText(path));
        Assert.Contains($"'{other.Id}'", File.ReadAllText(path));
        Assert.Equal(["chart.html"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void NotebookFragmentIsADivAndScriptsWithTheGuardedBundle()
    {
        var chart = Sample();
        var html = ChartHtml.ToInlineHtml(chart);

        Assert.StartsWith($"<div id=\"{chart.Id}\"", html);
        Assert.DoesNotContain("<html", html);
        Assert.DoesNotContain("<head", html);
        Assert.Contains("if (!window.Plotly) { (function (define, module, exports) {", html);
        Assert.DoesNotContain(PlotlyJs.CdnUrl, html);
        Assert.DoesNotContain("createElement('script')", html);
        Assert.Equal(2, Count(html, "<script"));
        Assert.Equal(2, Count(html, "</script>"));
    }

    [Fact]
    public void NotebookFragmentWithoutALocalBundleLoadsTheCDNAndSaysSo()
    {
        var html = ChartHtml.ToInlineHtml(Sample(), plotlyJsPath: null);

        Assert.Contains(PlotlyJs.CdnUrl, html);
        Assert.Contains("needs internet", html);
        Assert.Contains("if (window.Plotly) { draw(); return; }", html);
    }

    [Fact]
    public void TextFromTheDataCannotCloseTheScriptElement()
    {
        var chart = WorkshopCharts.Lines("</SCRIPT> <!-- title", "x", "y", [new LineSeries("</script><b>", [1, 2], [3, 4])]);
        var html = ChartHtml.ToHtml(chart);

        Assert.Equal(Count(html, "<script"), Regex.Count(html, "</script>", RegexOptions.IgnoreCase));
        Assert.Contains("<\\/script><b>", html);
        Assert.Contains("<\\/SCRIPT> <\\u0021-- title", html);
    }

    [Fact]
    public void RewardAndKlPutsKLOnASecondYAxis()
    {
        var js = Sample().GetPlottingJS();

        Assert.Contains("\"yaxis\":\"y2\"", js);
        Assert.Contains("\"overlaying\":\"y\"", js);
        Assert.Contains("\"side\":\"right\"", js);
    }

    [Fact]
    public void MeanGainsWithCiWritesAsymmetricErrorBarsFromTheInterval()
    {
        var js = WorkshopCharts.MeanGainsWithCi([("a", 1.0, 0.5, 1.25)]).GetPlottingJS();

        Assert.Contains("\"array\":[0.25]", js);
        Assert.Contains("\"arrayminus\":[0.5]", js);
        Assert.Contains("\"symmetric\":false", js);
    }

    [Fact]
    public void BuildersRejectInconsistentInput()
    {
        Assert.Throws<ArgumentException>(() => WorkshopCharts.RewardAndKl([0, 1], [1], [1, 2]));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.RewardAndKl([0, 1], [1, 2], [1]));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.RewardComponents([0, 1], new Dictionary<string, IReadOnlyList<double>>()));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.RewardComponents([0, 1], new Dictionary<string, IReadOnlyList<double>> { ["a"] = [1.0] }));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.BeforeAfterDistributions("c", [], [1]));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.MeanGainsWithCi([("a", 1, 1.5, 2)]));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.MeanGainsWithCi([("a", double.NaN, 0, 1)]));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.Lines("t", "x", "y", []));
        Assert.Throws<ArgumentException>(() => WorkshopCharts.Lines("t", "x", "y", [new LineSeries("s", [1, 2], [1])]));
    }
}
