using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace RlhfKit.Tests.Charts;

/// <summary>What headless Chromium drew for a page: the DOM after its scripts ran, and counts of plotly's SVG pieces.</summary>
public sealed partial record RenderedPage(string Dom, TimeSpan Elapsed)
{
    /// <summary>Drawn traces: plotly gives each one a <c>&lt;g class="trace ..."&gt;</c> (scatter, bars, histograms).</summary>
    public int Traces => TraceRegex().Count(Dom);
    public int ScatterTraces => Regex.Count(Dom, "<g class=\"trace scatter[ \"]");
    public int BarTraces => Regex.Count(Dom, "<g class=\"trace bars\"");
    /// <summary>Data lines drawn: paths through several points ("M..L.."); the legend's samples are single "M5,0h30" strokes.</summary>
    public int LinePaths => Regex.Count(Dom, "<path class=\"js-line\" d=\"M[^\"]*L");
    /// <summary>Bars drawn (each a point with a path).</summary>
    public int BarPoints => Regex.Count(Dom, "<g class=\"point\"><path d=\"M");
    /// <summary>Error bars drawn, each with a vertical path.</summary>
    public int YErrorBars => Regex.Count(Dom, "<path class=\"yerror\" d=\"M");
    public int LegendEntries => Regex.Count(Dom, "<g class=\"traces\"");
    public bool HasMainSvg => Dom.Contains("class=\"main-svg\"", StringComparison.Ordinal);
    public int MainSvgs => Regex.Count(Dom, "<svg class=\"main-svg\"");

    /// <summary>The unformatted text plotly drew for the title / axis titles (class gtitle, xtitle, ytitle, y2title).</summary>
    public string? TextOf(string cssClass)
    {
        var m = Regex.Match(Dom, $"<text class=\"{Regex.Escape(cssClass)}\"[^>]*data-unformatted=\"([^\"]*)\"");
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value) : null;
    }

    public IReadOnlyList<string> LegendTexts() =>
        LegendTextRegex().Matches(Dom).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();

    [GeneratedRegex("<g class=\"trace[ \"]")]
    private static partial Regex TraceRegex();

    [GeneratedRegex("<text class=\"legendtext\"[^>]*data-unformatted=\"([^\"]*)\"")]
    private static partial Regex LegendTextRegex();
}

/// <summary>Runs Debian's <c>chromium</c> headless on a local HTML file and returns the DOM after the page's scripts ran
/// (<c>--dump-dom</c> with a virtual time budget). Bounded: the process tree is killed after <see cref="Timeout"/>.</summary>
public static class HeadlessChromium
{
    public const string EnvVar = "RLHFKIT_CHROMIUM";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    static readonly string[] Names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

    /// <summary>The browser executable: <c>RLHFKIT_CHROMIUM</c>, else the first of chromium, chromium-browser, google-chrome on PATH.</summary>
    public static string? Find()
    {
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrWhiteSpace(env)) return File.Exists(env) ? env : null;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var name in Names)
            foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    public static string Require() => Find() ?? throw new InvalidOperationException(
        "Headless Chromium is needed for the chart rendering tests but was not found (looked for " + string.Join(", ", Names) +
        $" on PATH, or the file named by {EnvVar}). On Debian/Ubuntu: sudo apt-get install -y chromium " +
        "(scripts/setup.sh does this when run as root or with sudo).");

    public static RenderedPage DumpDom(string htmlPath, int virtualTimeBudgetMs = 5000)
    {
        var exe = Require();
        var profile = Directory.CreateTempSubdirectory("rlhfkit-chromium-");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     // Without these, Chromium's background connections are refused by a closed network and slow it down.
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--disable-extensions", "--mute-audio",
                     // Every host name fails to resolve: the page cannot fetch anything (a CDN included), so a drawn chart
                     // proves plotly.js came from the file itself, even on a machine with internet.
                     "--host-resolver-rules=MAP * ~NOTFOUND",
                     $"--user-data-dir={profile.FullName}", $"--virtual-time-budget={virtualTimeBudgetMs}",
                     "--dump-dom", new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri,
                 })
            psi.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        try
        {
            using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                process.WaitForExit(5000);
                throw new TimeoutException($"{exe} did not finish within {Timeout.TotalSeconds} s on {htmlPath}; killed.");
            }
            process.WaitForExit();
            var dom = stdout.Result;
            if (process.ExitCode != 0 || dom.Length == 0)
                throw new InvalidOperationException($"{exe} exited with {process.ExitCode} and {dom.Length} chars of DOM. stderr:\n{Tail(stderr.Result)}");
            return new RenderedPage(dom, clock.Elapsed);
        }
        finally
        {
            try { profile.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static string Tail(string s) => s.Length <= 4000 ? s : s[^4000..];
}
