namespace RlhfKit.Tests;

/// <summary>A fact that needs Linux (<c>/proc</c>, ELF shared libraries): on other systems it is reported as skipped,
/// with the reason, rather than passing without running.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute(string why)
    {
        if (!OperatingSystem.IsLinux()) Skip = $"needs Linux: {why}";
    }
}

/// <summary>A fact about the CPU build (TorchSharp-cpu): in a CUDA build (its libtorch_cuda next to the tests) it is
/// reported as skipped.</summary>
public sealed class CpuBuildFactAttribute : FactAttribute
{
    public CpuBuildFactAttribute()
    {
        if (Directory.EnumerateFiles(AppContext.BaseDirectory, "libtorch_cuda*", SearchOption.AllDirectories).Any()
            || Directory.EnumerateFiles(AppContext.BaseDirectory, "torch_cuda*.dll", SearchOption.AllDirectories).Any())
            Skip = "a CUDA build: CUDA may be available here";
    }
}
