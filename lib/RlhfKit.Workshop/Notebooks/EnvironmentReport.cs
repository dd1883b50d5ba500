using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using RlhfKit.Alignment;
using RlhfKit.Charts;
using RlhfKit.Data;
using RlhfKit.Hub;
using RlhfKit.Native;
using static TorchSharp.torch;

namespace RlhfKit.Notebooks;

/// <summary>One line of the environment check: what was looked at, what was found, and what to do when it is not right.</summary>
public sealed record EnvironmentCheck(string Item, string Found, bool Ok, string? Fix = null);

/// <summary>Lesson 00's environment check: .NET, the Torch backend and device, CUDA and GPU memory, the Hugging Face
/// cache, the offline models and data, plotly.js and the run folder. Each check says how to fix what it finds missing.</summary>
public sealed class EnvironmentReport : IHtmlView
{
    EnvironmentReport(IReadOnlyList<EnvironmentCheck> checks) => Checks = checks;

    public IReadOnlyList<EnvironmentCheck> Checks { get; }
    public bool AllOk => Checks.All(c => c.Ok);
    public IEnumerable<EnvironmentCheck> Problems => Checks.Where(c => !c.Ok);

    /// <summary>Runs every check for <paramref name="config"/> (its profile and device). Never throws: a failing check is a row.</summary>
    public static EnvironmentReport Collect(AlignmentConfig config)
    {
        var checks = new List<EnvironmentCheck>();
        void Check(string item, Func<EnvironmentCheck> check)
        {
            try { checks.Add(check()); }
            catch (Exception e) { checks.Add(new EnvironmentCheck(item, $"{e.GetType().Name}: {e.Message}", false, "See environment.md.")); }
        }

        Check(".NET", () => new(".NET", $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} " +
            $"({RuntimeInformation.OSArchitecture}, {Environment.ProcessorCount} cores)", Environment.Version.Major >= 10, "Install the .NET 10 SDK (environment.md)."));
        Check("kit folder", () => new("kit folder", KitRoot.Find(), true));
        Check("TorchSharp", () =>
        {
            TorchRuntime.EnsureLoaded();
            var asm = typeof(TorchSharp.torch).Assembly;
            var version = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? asm.GetName().Version?.ToString();
            using var sum = ones(2).sum(); // the first call loads LibTorch
            return new("TorchSharp", $"{version?.Split('+')[0]}, LibTorch {__version__}, a tensor sum = {sum.item<float>()}", sum.item<float>() == 2f);
        });
        Check("Torch backend", () =>
        {
            var backend = Backend();
            return new("Torch backend", $"{backend} (natives: {NativeFolder() ?? "resolved by TorchSharp"})", true,
                backend == "cpu" ? "For a GPU: build with -p:TorchBackend=cuda-linux or cuda-windows (environment.md)." : null);
        });
        Check("CUDA", () =>
        {
            var available = cuda.is_available();
            var count = available ? cuda.device_count() : 0;
            var gpus = NvidiaSmi();
            var found = available ? $"available, {count} device(s)" : "not available";
            if (gpus is not null) found += $"; {gpus}";
            var needed = config.Device.StartsWith("cuda", StringComparison.Ordinal);
            return new("CUDA", found, available || !needed,
                needed && !available ? $"The notebook asks for '{config.Device}': use device = \"cpu\", or build the kit with a CUDA backend and rerun scripts/setup.sh (environment.md)." : null);
        });
        Check("device", () =>
        {
            var device = ProfileLoader.Device(config.Device);
            using var t = ones(2, device: device);
            return new("device", $"{config.Device}: a tensor lives on {t.device}", true);
        });
        Check("Hugging Face cache", () =>
        {
            var hub = HubOptions.FromEnvironment();
            var found = $"{hub.CacheDir} ({(Directory.Exists(hub.CacheDir) ? "exists" : "not created yet")}); " +
                        $"{(hub.Offline ? "HF_HUB_OFFLINE=1: cached files only" : "online")}; token {(hub.Token is null ? "not set" : "set")}; endpoint {hub.Endpoint}";
            return new("Hugging Face cache", found, true);
        });
        Check("profile models", () =>
        {
            var models = new[] { config.Policy }.Concat(config.Rewards.Select(r => r.Model)).ToList();
            if (config.Profile == "offline")
            {
                var dir = OfflineAssets.DefaultDirectory();
                var ready = OfflineAssets.IsPrepared(dir);
                return new("offline models", $"{dir}: {(ready ? "policy, tone and acceptability present" : "not built yet")}", ready,
                    ready ? null : "Run 'dotnet run --project lib/RlhfKit.Cli -c Release -- prepare' (4-5 minutes), or just go on: lessons 01 and 03 build them on first use.");
            }
            var cache = HubOptions.FromEnvironment().CacheDir;
            var missing = models.Where(m => !Directory.Exists(Path.Combine(cache, "models--" + m.Replace("/", "--", StringComparison.Ordinal)))).ToList();
            return new($"{config.Profile} models", missing.Count == 0 ? $"cached: {string.Join(", ", models)}" : $"not cached: {string.Join(", ", missing)}",
                missing.Count == 0, $"With network: 'dotnet run --project lib/RlhfKit.Cli -c Release -- download --profile {config.Profile}' (they also download on first use).");
        });
        Check("articles", () =>
        {
            if (config.Data != "offline") return new("articles", $"Hub dataset {config.Data} (downloaded on first use)", true);
            var train = NewsDataset.LoadOffline("train");
            var test = NewsDataset.LoadOffline("test");
            return new("articles", $"{OfflineAssets.DataDirectory()}: {train.Count} training and {test.Count} test articles", train.Count > 0 && test.Count > 0);
        });
        Check("plotly.js", () =>
        {
            var path = PlotlyJs.Locate();
            return new("plotly.js", path ?? "not found: charts would load plotly.js from the internet", path is not null,
                path is null ? "Run scripts/setup.sh (needs npm), or set RLHFKIT_PLOTLY_JS to a plotly.js 2.x plotly.min.js." : null);
        });
        Check("run folder", () =>
        {
            var root = Lesson.RunsRoot();
            Directory.CreateDirectory(root);
            var probe = Path.Combine(root, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
            return new("run folder", $"{Lesson.RunFolder(config)} (writable)", true);
        });
        return new EnvironmentReport(checks);
    }

    /// <summary>cpu or cuda: which LibTorch the loaded TorchSharp came with.</summary>
    public static string Backend()
    {
        var folders = new[] { NativeFolder(), Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) }.OfType<string>();
        var cudaLib = folders.Where(Directory.Exists).Any(d => Directory.EnumerateFiles(d, "*torch_cuda*").Any());
        return cudaLib || cuda.is_available() ? "cuda" : "cpu";
    }

    static string? NativeFolder() => TorchRuntime.NativeDirectory;

    /// <summary>GPU names and memory from nvidia-smi, when it exists.</summary>
    static string? NvidiaSmi()
    {
        try
        {
            var psi = new ProcessStartInfo("nvidia-smi", "--query-gpu=name,memory.total,memory.used --format=csv,noheader")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p is null) return null;
            var text = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(10_000) || p.ExitCode != 0) return null;
            var gpus = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => l.Split(',', StringSplitOptions.TrimEntries)).Where(f => f.Length == 3)
                .Select(f => $"{f[0]}: {f[2]} used of {f[1]}");
            return string.Join("; ", gpus) is { Length: > 0 } s ? s : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException) { return null; }
    }

    public string ToHtml()
    {
        var sb = new StringBuilder("<table style=\"border-collapse: collapse\"><thead><tr><th></th><th style=\"text-align:left\">check</th>" +
                                   "<th style=\"text-align:left\">found</th><th style=\"text-align:left\">what to do</th></tr></thead><tbody>");
        foreach (var c in Checks)
            sb.Append("<tr><td>").Append(c.Ok ? "✅" : "❌").Append("</td><td style=\"padding: 2px 8px; vertical-align: top\"><b>").Append(WebUtility.HtmlEncode(c.Item))
              .Append("</b></td><td style=\"padding: 2px 8px; text-align: left; vertical-align: top\">").Append(WebUtility.HtmlEncode(c.Found))
              .Append("</td><td style=\"padding: 2px 8px; text-align: left; vertical-align: top\">").Append(WebUtility.HtmlEncode(c.Ok ? "" : c.Fix ?? "")).Append("</td></tr>");
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var c in Checks)
        {
            sb.Append(c.Ok ? "[ok] " : "[!!] ").Append(c.Item).Append(": ").Append(c.Found).Append('\n');
            if (!c.Ok && c.Fix is not null) sb.Append("      fix: ").Append(c.Fix).Append('\n');
        }
        return sb.ToString();
    }
}
