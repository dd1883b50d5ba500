using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RlhfKit.Alignment;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// The tiny run's models laid out as the offline profile's assets (<c>policy</c>, <c>tone</c>, <c>acceptability</c>),
/// so the real command line (<c>dotnet rlhf.dll align --profile offline</c>, with <c>RLHFKIT_ASSETS</c> pointing here)
/// runs in a separate process at a fraction of a second a step.
/// </summary>
public sealed class TinyOfflineAssets : IDisposable
{
    readonly TinyRunAssets _tiny = new();

    public TinyOfflineAssets()
    {
        Directory = System.IO.Directory.CreateDirectory(Path.Combine(_tiny.Root, "offline")).FullName;
        Copy(_tiny.Policy, Path.Combine(Directory, "policy"));
        Copy(_tiny.Reward, Path.Combine(Directory, "tone"));
        Copy(_tiny.Reward, Path.Combine(Directory, "acceptability"));
        Assert.True(OfflineAssets.IsPrepared(Directory));
    }

    /// <summary>The folder <c>RLHFKIT_ASSETS</c> names for the child processes.</summary>
    public string Directory { get; }

    public string NewRunFolder() => _tiny.NewRunFolder();

    static void Copy(string from, string to)
    {
        System.IO.Directory.CreateDirectory(to);
        foreach (var f in System.IO.Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    public void Dispose() => _tiny.Dispose();
}

/// <summary>The kit's command line in a child process (<c>dotnet rlhf.dll ...</c> from the test's own output folder),
/// on <see cref="TinyOfflineAssets"/>. Output is collected as it comes; every wait is bounded.</summary>
public sealed class CliProcess : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();

    CliProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static CliProcess Start(string assets, params string[] args) => Start(assets, null, args);

    /// <summary>As <see cref="Start(string, string[])"/>, with <paramref name="environment"/> set for the child as well.</summary>
    public static CliProcess Start(string assets, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "rlhf.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing: the test project references the CLI project, which puts it there.");
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            WorkingDirectory = KitRoot.Find(), // the offline articles (data/news) are found from here
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["RLHFKIT_ASSETS"] = assets;
        psi.Environment["HF_HUB_OFFLINE"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return new CliProcess(Process.Start(psi) ?? throw new InvalidOperationException("could not start the CLI"));
    }

    /// <summary>Runs to the end (at most <paramref name="seconds"/>; then the process is killed and the test fails).</summary>
    public static (int Code, string Output) Run(string assets, int seconds, params string[] args) => Run(assets, seconds, null, args);

    /// <summary>As <see cref="Run(string, int, string[])"/>, with <paramref name="environment"/> set for the child as well.</summary>
    public static (int Code, string Output) Run(string assets, int seconds, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var p = Start(assets, environment, args);
        return (p.WaitForExit(seconds), p.Output);
    }

    /// <summary>The exit code, waiting at most <paramref name="seconds"/>.</summary>
    public int WaitForExit(int seconds)
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(seconds)))
        {
            Kill();
            Assert.Fail($"rlhf {string.Join(' ', _process.StartInfo.ArgumentList.Skip(1))} did not end within {seconds} s. Output:\n{Output}");
        }
        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    /// <summary>Waits (at most <paramref name="seconds"/>) until <paramref name="condition"/> holds, failing if the process
    /// ends first or the time runs out.</summary>
    public void WaitUntil(Func<bool> condition, int seconds, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (_process.HasExited) Assert.Fail($"the CLI ended (exit {_process.ExitCode}) before {what}. Output:\n{Output}");
            if (clock.Elapsed.TotalSeconds > seconds) Assert.Fail($"{what} did not happen within {seconds} s. Output:\n{Output}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Sends a POSIX signal (TERM, INT) with the system's kill command.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{name} {_process.Id}") { UseShellExecute = false })!;
        kill.WaitForExit(10_000);
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>SIGKILL: no handler runs, as when the machine's OOM killer or <c>kill -9</c> strikes.</summary>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }

    // ---- reading a run folder ----

    /// <summary>The steps of stats.jsonl's complete rows, in file order.</summary>
    public static int[] JsonlSteps(string runFolder)
    {
        var path = Path.Combine(runFolder, "stats.jsonl");
        if (!File.Exists(path)) return [];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var steps = new List<int>();
        while (reader.ReadLine() is { } line)
            if (StatisticsLog.Parse(line) is { } row) steps.Add(row.Step);
        return steps.ToArray();
    }

    /// <summary>The steps of stats.csv's rows, in file order.</summary>
    public static int[] CsvSteps(string runFolder) =>
        File.ReadAllLines(Path.Combine(runFolder, "stats.csv")).Skip(1).Select(l => int.Parse(l.Split(',')[0])).ToArray();

    /// <summary>The step latest.json names, or null before the first checkpoint.</summary>
    public static int? LatestStep(string runFolder)
    {
        var path = Path.Combine(runFolder, "checkpoints", "latest.json");
        try { return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))?["step"]?.GetValue<int>() : null; }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { return null; }
    }
}
