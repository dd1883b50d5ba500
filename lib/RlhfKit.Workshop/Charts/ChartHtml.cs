using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using XPlot.Plotly;

namespace RlhfKit.Charts;

/// <summary>How a written chart gets plotly.js.</summary>
public enum PlotlySource
{
    /// <summary>The local bundle's text is inside the HTML: renders anywhere, offline (about 4.6 MB per file).</summary>
    Inline,
    /// <summary>A <c>&lt;script src&gt;</c> to the local bundle (relative to the HTML file): small, offline, but only on this machine.</summary>
    LocalFile,
    /// <summary>No local bundle was found: a <c>&lt;script src&gt;</c> to the plotly CDN, which needs internet.</summary>
    Cdn,
}

/// <summary>Offline HTML for XPlot.Plotly charts. XPlot's own <c>GetHtml()</c> loads plotly.js from the CDN (blank without
/// internet) and <c>display(chart)</c> in .NET Interactive shows an object tree; these helpers put the local plotly.js
/// (<see cref="PlotlyJs.Locate"/>) into the page instead.</summary>
public static partial class ChartHtml
{
    /// <summary>Writes <paramref name="chart"/> as a standalone HTML page (atomically). With <paramref name="inlinePlotly"/>
    /// the local plotly.js is embedded; otherwise the page references it by a relative path. Falls back to the CDN only when
    /// no local plotly.js exists (the page then says so in a comment).</summary>
    public static PlotlySource Save(PlotlyChart chart, string path, bool inlinePlotly = true) =>
        Save(chart, path, inlinePlotly, PlotlyJs.Locate());

    /// <summary><see cref="Save(PlotlyChart, string, bool)"/> with an explicit plotly.js bundle
    /// (<paramref name="plotlyJsPath"/> null or missing: the CDN fallback).</summary>
    public static PlotlySource Save(PlotlyChart chart, string path, bool inlinePlotly, string? plotlyJsPath)
    {
        ArgumentNullException.ThrowIfNull(chart);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var html = ToHtml(chart, inlinePlotly, plotlyJsPath, Path.GetDirectoryName(full), out var source);
        AtomicFile.WriteAllText(full, html);
        return source;
    }

    /// <summary>The standalone page as a string; with <paramref name="inlinePlotly"/> false the bundle is referenced by an
    /// absolute file URI (use <see cref="Save(PlotlyChart, string, bool)"/> for a relative one).</summary>
    public static string ToHtml(PlotlyChart chart, bool inlinePlotly = true) =>
        ToHtml(chart, inlinePlotly, PlotlyJs.Locate(), baseDirectory: null, out _);

    /// <summary>An HTML fragment (div + scripts) for a notebook output cell, e.g.
    /// <c>display(HTML(ChartHtml.ToInlineHtml(chart)))</c>. It carries the local plotly.js, evaluated only when the page
    /// has no <c>window.Plotly</c> yet, so it renders offline; without a local bundle it loads the CDN script.</summary>
    public static string ToInlineHtml(PlotlyChart chart) => ToInlineHtml(chart, PlotlyJs.Locate());

    /// <summary><see cref="ToInlineHtml(PlotlyChart)"/> with an explicit bundle (null or missing: the CDN fallback).</summary>
    public static string ToInlineHtml(PlotlyChart chart, string? plotlyJsPath)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var sb = new StringBuilder();
        sb.Append(Div(chart)).Append('\n');
        if (plotlyJsPath is not null && File.Exists(plotlyJsPath))
        {
            sb.Append("<script type=\"text/javascript\">\n");
            AppendGuardedBundle(sb, plotlyJsPath);
            sb.Append("</script>\n<script type=\"text/javascript\">\n(function () {\n")
              .Append(PlottingJs(chart)).Append("\n})();\n</script>\n");
        }
        else
        {
            sb.Append("<!-- RlhfKit.Charts: no local plotly.js was found (run scripts/setup.sh or set ").Append(PlotlyJs.EnvVar)
              .Append("); loading it from the CDN, which needs internet. -->\n")
              .Append("<script type=\"text/javascript\">\n(function () {\n  function draw() {\n")
              .Append(PlottingJs(chart))
              .Append("\n  }\n  if (window.Plotly) { draw(); return; }\n")
              .Append("  var s = document.createElement('script');\n  s.src = '").Append(PlotlyJs.CdnUrl).Append("';\n")
              .Append("  s.onload = draw;\n  document.head.appendChild(s);\n})();\n</script>\n");
        }
        return sb.ToString();
    }

    static string ToHtml(PlotlyChart chart, bool inlinePlotly, string? plotlyJsPath, string? baseDirectory, out PlotlySource source)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var local = plotlyJsPath is not null && File.Exists(plotlyJsPath) ? Path.GetFullPath(plotlyJsPath) : null;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\" />\n<title>RlhfKit chart</title>\n");
        if (local is null)
        {
            source = PlotlySource.Cdn;
            sb.Append("<!-- RlhfKit.Charts: no local plotly.js was found (run scripts/setup.sh or set ").Append(PlotlyJs.EnvVar)
              .Append("); falling back to the CDN, so this page needs internet to draw. -->\n")
              .Append("<script src=\"").Append(PlotlyJs.CdnUrl).Append("\"></script>\n");
        }
        else if (inlinePlotly)
        {
            source = PlotlySource.Inline;
            sb.Append("<script type=\"text/javascript\">\n");
            AppendGuardedBundle(sb, local);
            sb.Append("</script>\n");
        }
        else
        {
            source = PlotlySource.LocalFile;
            sb.Append("<!-- RlhfKit.Charts: plotly.js from the local file below (works offline on this machine). -->\n")
              .Append("<script src=\"").Append(WebUtility.HtmlEncode(ScriptReference(local, baseDirectory))).Append("\"></script>\n");
        }
        sb.Append("</head>\n<body>\n").Append(Div(chart)).Append('\n')
          .Append("<script type=\"text/javascript\">\n(function () {\n").Append(PlottingJs(chart)).Append("\n})();\n</script>\n")
          .Append("</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>The bundle inside a function that hides AMD/CommonJS globals (notebook pages may have RequireJS, and the
    /// UMD header would then register a module instead of setting <c>window.Plotly</c>); skipped when Plotly is loaded.</summary>
    static void AppendGuardedBundle(StringBuilder sb, string path)
    {
        var text = PlotlyJs.ReadText(path);
        var version = PlotlyJs.VersionOf(text) ?? "unknown version";
        sb.Append("// plotly.js ").Append(version).Append(", inlined by RlhfKit.Charts so the chart renders without internet.\n")
          .Append("if (!window.Plotly) { (function (define, module, exports) {\n")
          .Append(EscapeForScriptElement(text))
          .Append("\n}).call(window); }\n");
    }

    static string Div(PlotlyChart chart) =>
        $"<div id=\"{WebUtility.HtmlEncode(chart.Id)}\" style=\"width: {chart.Width}px; height: {chart.Height}px;\"></div>";

    /// <summary>XPlot's <c>var data = ..; var layout = ..; Plotly.newPlot(..)</c>, safe inside a script element.</summary>
    static string PlottingJs(PlotlyChart chart) => EscapeForScriptElement(chart.GetPlottingJS());

    /// <summary>Text inside &lt;script&gt; must not contain "&lt;/script" or "&lt;!--"; both rewrites mean the same in JS
    /// strings, regular expressions and comments.</summary>
    internal static string EscapeForScriptElement(string js)
    {
        if (js.Contains("</", StringComparison.Ordinal))
            js = ScriptCloseRegex().Replace(js, m => "<\\/" + m.Value[2..]);
        return js.Replace("<!--", "<\\u0021--", StringComparison.Ordinal);
    }

    [GeneratedRegex("</script", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ScriptCloseRegex();

    /// <summary>A URL for <paramref name="file"/> as seen from a page in <paramref name="baseDirectory"/>: relative when
    /// possible, else an absolute file URI.</summary>
    internal static string ScriptReference(string file, string? baseDirectory)
    {
        if (baseDirectory is not null)
        {
            var rel = Path.GetRelativePath(baseDirectory, file);
            if (!Path.IsPathRooted(rel))
                return string.Join('/', rel.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Select(Uri.EscapeDataString));
        }
        return new Uri(file).AbsoluteUri;
    }
}
