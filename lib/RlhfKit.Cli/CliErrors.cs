using RlhfKit.Checkpoints;
using RlhfKit.Hub;

namespace RlhfKit.Cli;

/// <summary>The command line's exit codes (after BSD's <c>sysexits.h</c> where one fits).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>An unexpected error: a bug in the kit (the stack trace is printed).</summary>
    public const int Internal = 70;
    /// <summary>Bad options or arguments (unknown option, unknown profile, a value <c>Validate()</c> refuses).</summary>
    public const int Usage = 2;
    /// <summary><c>align</c> stopped before its last step (Ctrl+C, SIGTERM or a KL stop) after writing a checkpoint; run it again to resume.</summary>
    public const int Unfinished = 3;
    /// <summary>The run folder is in use by another process (its lock names the holder).</summary>
    public const int FolderInUse = 4;
    /// <summary>A checkpoint could not be written (the previous one is kept; the message says how much space is needed).</summary>
    public const int CheckpointFailed = 5;
    /// <summary>A file is damaged, truncated, of an unsupported form, or does not fit the model (config vs weights).</summary>
    public const int BadData = 65;
    /// <summary>A file or folder that is needed does not exist.</summary>
    public const int NoInput = 66;
    /// <summary>The Hugging Face Hub refused, could not be reached, or sent bytes that do not match (or offline mode lacks a file).</summary>
    public const int Hub = 69;
    /// <summary>Reading or writing failed (disk full, I/O error).</summary>
    public const int IoError = 74;
    /// <summary>Permission denied on a file or folder.</summary>
    public const int NoPermission = 77;
    /// <summary>Interrupted (Ctrl+C or cancelled) before finishing.</summary>
    public const int Interrupted = 130;
}

/// <summary>
/// How every verb reports a failure, in one place: an expected error (bad or missing files, Hub errors, bad options,
/// out of disk, interrupted) prints one line (<c>error: ...</c>) and a hint, and exits with its code
/// (<see cref="ExitCodes"/>); the exception's full text and stack trace only with <c>--verbose</c> or
/// <c>RLHFKIT_VERBOSE=1</c>. Anything else is a bug: its stack trace is always printed, with how to report it.
/// </summary>
public static class CliErrors
{
    /// <summary>Environment variable that turns on <c>--verbose</c> for every command.</summary>
    public const string VerboseVariable = "RLHFKIT_VERBOSE";

    /// <summary>The longest error line printed without <c>--verbose</c> (long lists such as a checkpoint's missing
    /// tensors are cut there).</summary>
    public const int MaxLineLength = 400;

    public static bool VerboseFromEnvironment() =>
        Environment.GetEnvironmentVariable(VerboseVariable) is { Length: > 0 } v && v != "0" && !v.Equals("false", StringComparison.OrdinalIgnoreCase);

    /// <summary>The exit code and a short description of an expected error, or null for an unexpected one.</summary>
    public static (int Code, string Kind)? Classify(Exception e) => e switch
    {
        OperationCanceledException => (ExitCodes.Interrupted, "interrupted"),
        HubOfflineException => (ExitCodes.Hub, "offline and not cached"),
        HubAuthException => (ExitCodes.Hub, "Hub access refused"),
        HubNotFoundException => (ExitCodes.Hub, "not found on the Hub"),
        HubException => (ExitCodes.Hub, "Hub error"),
        CheckpointMismatchException => (ExitCodes.BadData, "checkpoint does not fit the model"),
        InvalidDataException => (ExitCodes.BadData, "bad file"),
        FileNotFoundException or DirectoryNotFoundException => (ExitCodes.NoInput, "missing file"),
        ArgumentNullException => null, // a caller's bug, never a user's input
        ArgumentException => (ExitCodes.Usage, "bad option"),
        UnauthorizedAccessException => (ExitCodes.NoPermission, "permission denied"),
        IOException io when IsDiskFull(io) => (ExitCodes.IoError, "out of disk space"),
        IOException => (ExitCodes.IoError, "I/O error"),
        _ => null,
    };

    /// <summary>ENOSPC (28) on Linux and macOS, ERROR_DISK_FULL (112) or ERROR_HANDLE_DISK_FULL (39) on Windows.</summary>
    public static bool IsDiskFull(IOException e) =>
        e.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    /// <summary>Writes the report of <paramref name="e"/> to <paramref name="error"/> and returns the exit code.</summary>
    public static int Report(Exception e, bool verbose, TextWriter error)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } a) e = a.InnerExceptions[0];
        var classified = Classify(e);
        if (classified is null)
        {
            error.WriteLine($"unexpected error: {e}");
            error.WriteLine("This is a bug in RlhfKit, not a problem with your files or options. Please report it with the command you ran, " +
                "this whole output and the output of 'dotnet --info'.");
            return ExitCodes.Internal;
        }
        var (code, kind) = classified.Value;
        var message = code == ExitCodes.Interrupted ? "interrupted before finishing" : OneLine(e.Message);
        if (code == ExitCodes.IoError && kind == "out of disk space") message = $"out of disk space: {message}";
        error.WriteLine($"error: {message}");
        if (verbose) error.WriteLine(e.ToString());
        else error.WriteLine($"({kind}; exit code {code}. For the full message and stack trace, run again with --verbose or {VerboseVariable}=1.)");
        return code;
    }

    /// <summary>A message on one line: its lines joined, blanks collapsed, cut at <see cref="MaxLineLength"/>.</summary>
    public static string OneLine(string message)
    {
        var parts = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = string.Join(" ", parts);
        return line.Length <= MaxLineLength ? line : line[..(MaxLineLength - 3)] + "...";
    }
}
