using System.Text.Json;
using RlhfKit.Charts;

namespace RlhfKit.Tests.Charts;

/// <summary>Shared helpers of the chart tests: sample data, temp dirs, the repo root, the pinned plotly.js version.</summary>
public static class ChartTestKit
{
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Workshop.sln"))) return dir.FullName;
            throw new InvalidOperationException("Workshop.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static string PackageJsonPath => Path.Combine(RepoRoot, "tools", "plotly", "package.json");

    /// <summary>The plotly.js-dist-min version pinned in tools/plotly/package.json.</summary>
    public static string PinnedPlotlyVersion
    {
        get
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(PackageJsonPath));
            return doc.RootElement.GetProperty("dependencies").GetProperty("plotly.js-dist-min").GetString()!;
        }
    }

    /// <summary>The local bundle, or a failure that says how to install it.</summary>
    public static string Bundle => PlotlyJs.Locate() ?? throw new InvalidOperationException(
        "plotly.min.js is not installed: run scripts/setup.sh (or 'npm ci' in tools/plotly).");

    public static DirectoryInfo TempDir() => Directory.CreateTempSubdirectory("rlhfkit-charts-");

    public static double[] Steps(int n) => Enumerable.Range(0, n).Select(i => (double)i).ToArray();

    public static double[] Wave(int n, double scale, double phase) =>
        Enumerable.Range(0, n).Select(i => scale * Math.Sin(i / 3.0 + phase) + i * 0.05).ToArray();

    public static double[] Samples(int n, double mean, double spread, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => mean + spread * (rng.NextDouble() + rng.NextDouble() - 1)).ToArray();
    }
}
