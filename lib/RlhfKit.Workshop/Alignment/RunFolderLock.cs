using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfKit.Alignment;

/// <summary>Another process holds the run folder: <see cref="Exception.Message"/> is one line naming the folder and the
/// holder (process id, host, since when, what it runs).</summary>
public sealed class RunFolderLockedException(string folder, RunFolderLock.Holder? holder, string holderText)
    : IOException($"The run folder {folder} is in use by {holderText}; wait for it to finish or stop it (a notebook kernel holds its run " +
        "until the run is disposed or the kernel restarts), or choose another run folder.")
{
    public string Folder { get; } = folder;
    /// <summary>Who holds it, as it recorded itself (null when it had not written its record yet).</summary>
    public RunFolderLock.Holder? HeldBy { get; } = holder;
    /// <summary>The holder in words: "process 1234 on host h ('rlhf.dll align ...', since ...)".</summary>
    public string HolderText { get; } = holderText;
}

/// <summary>
/// One writer per run folder. <c>align</c> (through <see cref="AlignmentRun.CreateAsync"/>) and an <c>evaluate</c> that
/// writes its report hold <c>.run.lock</c> in the folder for as long as they run; a second process on the same folder
/// gets <see cref="RunFolderLockedException"/> at once. The lock is the operating system's (an exclusive
/// <c>FileShare.None</c> open: <c>flock</c> on Linux and macOS, a sharing lock on Windows), so it dies with its process:
/// a lock left by a killed process is simply free, and the next taker says whose it was (from <c>.run.owner.json</c>,
/// which records the holder's pid, host, start time and command). Where file locks are unavailable
/// (<c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c>), that record still refuses a second process while the recorded one
/// runs on this host.
/// <para>The lock is per process: a second <see cref="Acquire"/> of a folder this process already holds (a notebook
/// cell re-run in the same kernel) shares it, and it is released when the last holder is disposed.</para>
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    /// <summary>A lock holder as <c>.run.owner.json</c> records it.</summary>
    public sealed record Holder(int Pid, string Host, DateTimeOffset Since, string Command, DateTimeOffset? ProcessStart);

    public const string LockFileName = ".run.lock";
    public const string OwnerFileName = ".run.owner.json";

    sealed class Held(FileStream stream) { public FileStream Stream { get; } = stream; public int Count; }
    static readonly Dictionary<string, Held> HeldHere = new(StringComparer.Ordinal);

    readonly string _key;
    bool _disposed;

    RunFolderLock(string folder, bool fresh) { Folder = folder; _key = folder; Fresh = fresh; }

    /// <summary>The run folder (full path).</summary>
    public string Folder { get; }

    /// <summary>True when this call took the lock (rather than sharing one this process already held): nothing of this
    /// process can be in flight in the folder, so temporaries named by this process's id are debris too.</summary>
    public bool Fresh { get; }

    /// <summary>Takes the lock of <paramref name="folder"/> (created if missing), or throws
    /// <see cref="RunFolderLockedException"/> naming the holder. <paramref name="note"/> hears when a lock left by a
    /// process that is gone is taken over.</summary>
    public static RunFolderLock Acquire(string folder, string command, Action<string>? note = null)
    {
        folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(folder);
        lock (HeldHere)
        {
            if (HeldHere.TryGetValue(folder, out var held))
            {
                held.Count++;
                return new RunFolderLock(folder, fresh: false);
            }
            var lockPath = Path.Combine(folder, LockFileName);
            FileStream stream;
            try { stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e is not (DirectoryNotFoundException or PathTooLongException))
            {
                var holder = ReadOwner(folder);
                throw Busy(folder, holder);
            }
            try
            {
                var previous = ReadOwner(folder);
                if (previous is not null && previous.Pid != Environment.ProcessId)
                {
                    // The OS lock was free. Without OS file locks, a recorded holder that still runs here still counts.
                    if (previous.Host == Environment.MachineName && StillRuns(previous))
                        throw Busy(folder, previous);
                    note?.Invoke($"Took over the run-folder lock of {folder}: {Describe(previous)} " +
                        (previous.Host == Environment.MachineName ? "no longer runs" : "on another host does not hold it any more") + " (it did not release it).");
                }
                var self = new Holder(Environment.ProcessId, Environment.MachineName, DateTimeOffset.Now, command, ProcessStart());
                AtomicFile.WriteAllText(Path.Combine(folder, OwnerFileName), JsonSerializer.Serialize(new JsonObject
                {
                    ["pid"] = self.Pid, ["host"] = self.Host, ["since"] = self.Since.ToString("O", CultureInfo.InvariantCulture),
                    ["command"] = self.Command, ["process_start"] = self.ProcessStart?.ToString("O", CultureInfo.InvariantCulture),
                }));
            }
            catch
            {
                stream.Dispose();
                throw;
            }
            HeldHere[folder] = new Held(stream) { Count = 1 };
            return new RunFolderLock(folder, fresh: true);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (HeldHere)
        {
            if (!HeldHere.TryGetValue(_key, out var held) || --held.Count > 0) return;
            HeldHere.Remove(_key);
            // The record goes before the OS lock is released, so nobody reads a finished run as a live holder. The lock
            // file itself stays: deleting it would let two processes lock two different files of one name.
            try { File.Delete(Path.Combine(Folder, OwnerFileName)); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            held.Stream.Dispose();
        }
    }

    static RunFolderLockedException Busy(string folder, Holder? holder) =>
        new(folder, holder, holder is null ? "another process (it has not recorded itself yet)" : Describe(holder));

    static string Describe(Holder h) =>
        $"process {h.Pid} on host {h.Host} ('{h.Command}', since {h.Since.ToLocalTime():yyyy-MM-dd HH:mm:ss})";

    /// <summary>True when the recorded process still runs: the pid exists and, where its start time was recorded, started
    /// then (a pid reused by an unrelated process does not count).</summary>
    static bool StillRuns(Holder h)
    {
        if (!DeadWriters.IsRunning(h.Pid)) return false;
        if (h.ProcessStart is not { } recorded) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(h.Pid);
            return Math.Abs((process.StartTime - recorded.LocalDateTime).TotalSeconds) < 2;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException) { return true; }
    }

    static DateTimeOffset? ProcessStart()
    {
        try { using var p = System.Diagnostics.Process.GetCurrentProcess(); return p.StartTime; }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException) { return null; }
    }

    static Holder? ReadOwner(string folder)
    {
        var path = Path.Combine(folder, OwnerFileName);
        try
        {
            if (!File.Exists(path) || JsonNode.Parse(File.ReadAllText(path)) is not JsonObject o) return null;
            if (o["pid"] is not JsonValue pid || !pid.TryGetValue<int>(out var p)) return null;
            static DateTimeOffset? Time(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) &&
                DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t : null;
            return new Holder(p, o["host"]?.GetValue<string>() ?? "?", Time(o["since"]) ?? DateTimeOffset.MinValue,
                o["command"]?.GetValue<string>() ?? "?", Time(o["process_start"]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException) { return null; }
    }
}
