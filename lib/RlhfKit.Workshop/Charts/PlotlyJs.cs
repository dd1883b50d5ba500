namespace RlhfKit.Charts;

/// <summary>Finds the local plotly.js bundle (<c>plotly.min.js</c> of the npm package <c>plotly.js-dist-min</c>, pinned in
/// <c>tools/plotly/package.json</c> and installed by <c>scripts/setup.sh</c>) so charts render with no internet.</summary>
/// <remarks>Order: the file named by <see cref="EnvVar"/> when it exists; else, walking up from the current directory
/// and then from <see cref="AppContext.BaseDirectory"/>, the first <c>tools/plotly/node_modules/plotly.js-dist-min/plotly.min.js</c>
/// or <c>node_modules/plotly.js-dist-min/plotly.min.js</c>.</remarks>
public static class PlotlyJs
{
    /// <summary>Environment variable that names a plotly.min.js explicitly (overrides the search).</summary>
    public const string EnvVar = "RLHFKIT_PLOTLY_JS";

    /// <summary>Where the file is looked for below each ancestor directory, in order.</summary>
    public static IReadOnlyList<string> RelativeCandidates { get; } =
    [
        Path.Combine("tools", "plotly", "node_modules", "plotly.js-dist-min", "plotly.min.js"),
        Path.Combine("node_modules", "plotly.js-dist-min", "plotly.min.js"),
    ];

    /// <summary>The CDN bundle used only when no local file is found (plotly.js 2.x: XPlot writes string titles, which 3.x drops).</summary>
    public const string CdnUrl = "https://cdn.plot.ly/plotly-2.35.3.min.js";

    /// <summary>The full path of the local plotly.min.js, or null when none is installed (run <c>scripts/setup.sh</c>).</summary>
    public static string? Locate()
    {
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrWhiteSpace(env) && File.Exists(env)) return Path.GetFullPath(env);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var found = SearchUp(start);
            if (found is not null) return found;
        }
        return null;
    }

    /// <summary>Like <see cref="Locate"/>, but throws with set-up instructions when nothing is found.</summary>
    public static string LocateOrThrow() => Locate() ?? throw new FileNotFoundException(
        $"plotly.min.js not found. Run scripts/setup.sh (it runs 'npm ci' in tools/plotly), or set {EnvVar} to a plotly.js 2.x bundle.");

    /// <summary>The first candidate below <paramref name="start"/> or one of its ancestors.</summary>
    public static string? SearchUp(string start)
    {
        DirectoryInfo? dir;
        try { dir = new DirectoryInfo(Path.GetFullPath(start)); }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or NotSupportedException) { return null; }
        for (; dir is not null; dir = dir.Parent)
            foreach (var rel in RelativeCandidates)
            {
                var candidate = Path.Combine(dir.FullName, rel);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    static readonly Lock CacheLock = new();
    static (string Path, DateTime Stamp, long Length, string Text)? cache;

    /// <summary>The bundle's text (cached while the file is unchanged).</summary>
    public static string ReadText(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException("plotly.js bundle not found", path);
        lock (CacheLock)
        {
            if (cache is { } c && c.Path == info.FullName && c.Stamp == info.LastWriteTimeUtc && c.Length == info.Length) return c.Text;
            var text = File.ReadAllText(info.FullName);
            cache = (info.FullName, info.LastWriteTimeUtc, info.Length, text);
            return text;
        }
    }

    /// <summary>The version from the bundle's banner ("plotly.js v2.35.3"), or null.</summary>
    public static string? VersionOf(string bundleText)
    {
        var m = System.Text.RegularExpressions.Regex.Match(bundleText.Length > 512 ? bundleText[..512] : bundleText, @"plotly\.js v(\d+\.\d+\.\d+)");
        return m.Success ? m.Groups[1].Value : null;
    }
}
