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
