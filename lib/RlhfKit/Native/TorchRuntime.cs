using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RlhfKit.Native;

/// <summary>
/// Makes TorchSharp's native libraries load with no manual step. Runs automatically when the kit's assembly loads;
/// call <see cref="EnsureLoaded"/> first in code that touches <c>torch</c> before any kit type.
/// On Linux it (1) marks libLibTorchSharp's unused <c>GLIBCXX_3.4.32</c> requirement weak in every copy that
/// could be loaded (build output, NuGet package folder), so distributions older than GCC 13 can load it, and
/// (2) loads the package's own libtorch by full path first, so a system libtorch cannot be picked up instead.
/// </summary>
public static class TorchRuntime
{
    /// <summary>Version requirements of libLibTorchSharp that no relocation uses (measured with readelf on 0.107.0).</summary>
    static readonly string[] UnusedVersionRequirements = ["GLIBCXX_3.4.32"];
    static readonly string[] PreloadOrder = ["libgomp", "libc10.so", "libtorch_cpu.so", "libtorch.so", "libLibTorchSharp.so"];
    static readonly object Gate = new();
    static bool _done;

    /// <summary>Where libLibTorchSharp was found and patched, for the environment check.</summary>
    public static string? NativeDirectory { get; private set; }

#pragma warning disable CA2255 // deliberate: native set-up must precede any TorchSharp call made through the kit
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnAssemblyLoad() => EnsureLoaded();

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_done) return;
            _done = true;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return;
            try { PrepareLinux(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                // A read-only install that is already patched still loads; TorchSharp reports the real error otherwise.
                Console.Error.WriteLine($"RlhfKit: could not prepare TorchSharp's native libraries: {e.Message}");
            }
        }
    }

    static void PrepareLinux()
    {
        var copies = CandidateDirectories().Where(d => File.Exists(Path.Combine(d, "libLibTorchSharp.so"))).ToList();
        foreach (var dir in copies)
            foreach (var version in UnusedVersionRequirements)
                ElfVersionPatcher.SetWeak(Path.Combine(dir, "libLibTorchSharp.so"), version, weak: true);

        // Load from the first directory that holds the whole set, by full path, dependencies first.
        var libDir = copies.FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")) || File.Exists(Path.Combine(d, "libtorch_cuda.so")));
        if (libDir is null)
        {
            // NuGet layout: libtorch lives in its own package next to TorchSharp's.
            var torchSharpDir = copies.FirstOrDefault();
            libDir = torchSharpDir is null ? null : LibTorchPackageDirectory();
            if (libDir is null) return;
            PreloadFrom(libDir, PreloadOrder[..^1]);
            NativeLibrary.Load(Path.Combine(torchSharpDir!, "libLibTorchSharp.so"));
            NativeDirectory = torchSharpDir;
            return;
        }
        PreloadFrom(libDir, PreloadOrder);
        NativeDirectory = libDir;
    }

    static void PreloadFrom(string dir, IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            var file = name.EndsWith(".so", StringComparison.Ordinal)
                ? Path.Combine(dir, name)
                : Directory.EnumerateFiles(dir, name + "*.so*").FirstOrDefault();
            if (file is not null && File.Exists(file)) NativeLibrary.Load(file);
        }
    }

    static IEnumerable<string> CandidateDirectories()
    {
        var seen = new HashSet<string>();
        IEnumerable<string> Raw()
        {
            yield return AppContext.BaseDirectory;
            yield return Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
            var torchAssembly = TorchSharpAssemblyLocation();
            if (torchAssembly is not null)
            {
                var dir = Path.GetDirectoryName(torchAssembly)!;
                yield return dir;
                // Portable publish or build output: <dir>/runtimes/linux-x64/native/
                yield return Path.Combine(dir, "runtimes", "linux-x64", "native");
                // NuGet package layout: lib/<tfm>/TorchSharp.dll -> runtimes/linux-x64/native/
                yield return Path.GetFullPath(Path.Combine(dir, "..", "..", "runtimes", "linux-x64", "native"));
            }
            foreach (var version in TorchSharpPackageVersions())
                yield return Path.Combine(NuGetPackagesFolder(), "torchsharp", version, "runtimes", "linux-x64", "native");
        }
        foreach (var d in Raw())
            if (Directory.Exists(d) && seen.Add(Path.GetFullPath(d))) yield return Path.GetFullPath(d);
    }

    static string? TorchSharpAssemblyLocation()
    {
        // Do not load TorchSharp just to find it: look among loaded assemblies, then next to ours.
        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "TorchSharp");
        if (loaded is not null && !string.IsNullOrEmpty(loaded.Location)) return loaded.Location;
        var ours = typeof(TorchRuntime).Assembly.Location;
        if (string.IsNullOrEmpty(ours)) return null;
        var sibling = Path.Combine(Path.GetDirectoryName(ours)!, "TorchSharp.dll");
        return File.Exists(sibling) ? sibling : null;
    }

    static IEnumerable<string> TorchSharpPackageVersions()
    {
        var version = typeof(TorchRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "TorchSharpVersion")?.Value;
        return version is null ? [] : [version];
    }

    static string? LibTorchPackageDirectory()
    {
        var root = NuGetPackagesFolder();
        foreach (var package in new[] { "libtorch-cpu-linux-x64", "libtorch-cuda-12.8-linux-x64" })
        {
            var dir = Path.Combine(root, package);
            if (!Directory.Exists(dir)) continue;
            var native = Directory.EnumerateDirectories(dir).OrderByDescending(d => d, StringComparer.Ordinal)
                .Select(v => Path.Combine(v, "runtimes", "linux-x64", "native"))
                .FirstOrDefault(Directory.Exists);
            if (native is not null) return native;
        }
        return null;
    }

    internal static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
