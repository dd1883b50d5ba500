using System.Diagnostics;

namespace RlhfKit.Benchmarks;

/// <summary>Resident memory of this process: the current size and the high-water mark (Linux <c>/proc/self/status</c>
/// VmRSS / VmHWM; elsewhere <see cref="Process.WorkingSet64"/> / <see cref="Process.PeakWorkingSet64"/>).</summary>
public static class ProcessMemory
{
    const string Status = "/proc/self/status";

    /// <summary>Where the figures come from: <c>VmHWM</c> or <c>PeakWorkingSet64</c>.</summary>
    public static string Source => File.Exists(Status) ? "/proc/self/status VmHWM" : "Process.PeakWorkingSet64";

    /// <summary>Peak resident set size in bytes since the process started or since the last successful <see cref="ResetPeak"/>.</summary>
    public static long PeakBytes() => ReadStatus("VmHWM:") ?? Current().PeakWorkingSet64;

    /// <summary>Resident set size in bytes now.</summary>
    public static long CurrentBytes() => ReadStatus("VmRSS:") ?? Current().WorkingSet64;

    /// <summary>Resets the high-water mark to the current resident size (Linux: writing 5 to <c>/proc/self/clear_refs</c>,
    /// kernel 4.0+). Returns false where that is not possible; the peak then covers the whole process lifetime.</summary>
    public static bool ResetPeak()
    {
        try
        {
            if (!File.Exists("/proc/self/clear_refs")) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    static Process Current()
    {
        var p = Process.GetCurrentProcess();
        p.Refresh();
        return p;
    }

    static long? ReadStatus(string key)
    {
        try
        {
            if (!File.Exists(Status)) return null;
            foreach (var line in File.ReadLines(Status))
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024; // kB
                }
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { }
        return null;
    }
}
