using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace RlhfKit;

/// <summary>
/// Finds what writers that died left behind. Every temporary name the kit writes carries the writer's process id
/// (<see cref="AtomicFile"/>'s <c>.{name}.{pid}.{guid}.tmp</c>, a checkpoint's <c>.step-N.{pid}.tmp</c> folder), so the
/// next start can tell the debris of a killed process from a file another live process is still writing.
/// </summary>
public static partial class DeadWriters
{
    /// <summary>True when a process with id <paramref name="pid"/> runs on this machine (this process included).</summary>
    public static bool IsRunning(int pid)
    {
        if (pid <= 0) return false;
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }          // no such process
        catch (InvalidOperationException) { return false; }  // it exited while we looked
    }

    [GeneratedRegex(@"^\..+\.(\d{1,10})\.[0-9a-f]{32}\.tmp$")] private static partial Regex AtomicTempRegex();

    /// <summary>The writer's process id in an <see cref="AtomicFile"/> temporary name, or null for any other name.</summary>
    public static int? WriterOf(string fileName) =>
        AtomicTempRegex().Match(fileName) is { Success: true } m && int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;

    /// <summary>True when a temporary written by <paramref name="pid"/> is debris: its writer no longer runs, or it is
    /// this process and <paramref name="includeOwn"/> says this process has nothing in flight there (it just took the
    /// folder's lock; a container restarted under the same pid looks like this).</summary>
    public static bool IsOrphan(int pid, bool includeOwn) => pid == Environment.ProcessId ? includeOwn : !IsRunning(pid);

    /// <summary>Removes the <see cref="AtomicFile"/> temporaries in <paramref name="folder"/> (not below it) whose writer
    /// is dead, and returns their paths. Files of live writers stay; a file that cannot be removed is left alone.</summary>
    public static IReadOnlyList<string> RemoveTempFiles(string folder, bool includeOwn = false)
    {
        if (!Directory.Exists(folder)) return [];
        var removed = new List<string>();
        foreach (var path in Directory.EnumerateFiles(folder, ".*.tmp"))
        {
            if (WriterOf(Path.GetFileName(path)) is not { } pid || !IsOrphan(pid, includeOwn)) continue;
            try { File.Delete(path); removed.Add(path); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }
}
