using RlhfKit.NotebookScripts;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RlhfKit.Alignment;
using RlhfKit.Notebooks;
using RlhfKit.Tests.Charts;

namespace RlhfKit.Tests.Notebooks;

/// <summary>The result of running one notebook headlessly (dotnet-repl) or one lesson's file-based app (dotnet run).</summary>
public sealed record LessonExecution(string Name, int ExitCode, string Output, string? OutputNotebook, TimeSpan Elapsed)
{
    public override string ToString() => $"{Name}: exit {ExitCode} after {Elapsed.TotalSeconds:F0} s";
}

/// <summary>
/// Runs the lesson notebooks (or their apps: one harness per collection) once per test session, in order (04 evaluates the run 03 trained), on the offline profile
/// with few steps, in a private runs folder. Also publishes the kit to artifacts/kit (what the notebooks' first cell
/// loads), restores the notebook tools and builds the offline models if they are missing.
/// </summary>
public sealed class NotebookHarness : IDisposable
{
    /// <summary>The notebooks and apps run the lessons' cells on a light load, the same for both: a few PPO steps and
    /// evaluation articles take every code path a full run takes.</summary>
    public const string Steps = "2";
    public const string EvalArticles = "6";
    /// <summary>Summaries per evaluation article in the notebooks and apps: 2, not the offline profile's 4. Two already
    /// take the path that averages several samples per article; the lessons' best-of-16 costs 16 generations per sample.</summary>
    public const string EvalSamples = "2";
    public static readonly TimeSpan NotebookTimeout = TimeSpan.FromMinutes(8);

    readonly Dictionary<string, LessonExecution> _notebooks = new();
    readonly Dictionary<string, LessonExecution> _apps = new();
    readonly object _gate = new();
    // One set-up per test run, shared by the notebook and the app collections (which run side by side): publishing
    // the kit while an app builds the same project would race on its obj folder.
    static readonly object SetupGate = new();
    static string? _setupFailure;
    static bool _setUp;

    public NotebookHarness()
    {
        Root = ChartTestKit.RepoRoot;
        Work = Directory.CreateTempSubdirectory("rlhfkit-notebooks-").FullName;
    }

    public string Root { get; }
    public string NotebooksDir => Path.Combine(Root, "notebooks");
    /// <summary>Holds the output notebooks and the runs folders (RLHFKIT_RUNS) of notebooks and apps, kept apart.</summary>
    public string Work { get; }
    public string NotebookRuns => Path.Combine(Work, "runs-notebooks");
    public string AppRuns => Path.Combine(Work, "runs-apps");

    public static IReadOnlyList<string> LessonNames() =>
        NotebookScript.Lessons(Path.Combine(ChartTestKit.RepoRoot, "notebooks")).Select(Path.GetFileNameWithoutExtension).ToList()!;

    /// <summary>Runs <paramref name="name"/> (and the lessons before it, once each) and returns its execution.</summary>
    public LessonExecution Notebook(string name) => Run(name, _notebooks, RunNotebook);

    /// <summary>Runs the file-based app of <paramref name="name"/> (and the apps before it, once each).</summary>
    public LessonExecution App(string name) => Run(name, _apps, RunApp);

    /// <summary>Builds the file-based app of <paramref name="name"/> against the kit's project without running it.</summary>
    public LessonExecution BuildApp(string name)
    {
        lock (_gate)
        {
            SetUp();
            return Exec("dotnet", ["build", "-c", "Release", Path.Combine("notebooks", name + ".cs")], Root, NotebookTimeout) with { Name = name };
        }
    }

    LessonExecution Run(string name, Dictionary<string, LessonExecution> done, Func<string, LessonExecution> run)
    {
        lock (_gate)
        {
            SetUp();
            foreach (var lesson in LessonNames().TakeWhile(l => string.CompareOrdinal(l, name) <= 0))
                if (!done.ContainsKey(lesson)) done[lesson] = run(lesson);
            return done[name];
        }
    }

    void SetUp()
    {
        lock (SetupGate)
        {
            if (_setupFailure is not null) throw new InvalidOperationException(_setupFailure);
            if (_setUp) return;
            try
            {
                var assets = Path.Combine(Root, "assets", "offline");
                if (!OfflineAssets.IsPrepared(assets)) OfflineAssets.Prepare(assets);
                Require(Exec("dotnet", ["tool", "restore"], Root, TimeSpan.FromMinutes(5)), "dotnet tool restore");
                // The notebooks load the published kit; publishing again is quick when nothing changed and keeps it current.
                Require(Exec("dotnet", ["publish", "lib/RlhfKit.Workshop", "-c", "Release", "-o", "artifacts/kit"], Root, TimeSpan.FromMinutes(10)), "dotnet publish lib/RlhfKit.Workshop");
                _setUp = true;
            }
            catch (Exception e)
            {
                _setupFailure = $"Setting up the notebook tests failed: {e.Message}";
                throw;
            }
        }
    }

    static void Require(LessonExecution e, string what)
    {
        if (e.ExitCode != 0) throw new InvalidOperationException($"'{what}' exited with {e.ExitCode}:\n{Tail(e.Output)}");
    }

    LessonExecution RunNotebook(string name)
    {
        var output = Path.Combine(Work, name + ".out.ipynb");
        // cwd = notebooks/: the first cell's #r "../artifacts/kit/RlhfKit.Workshop.dll" is relative to it, as in VS Code.
        var result = Exec("dotnet", ["repl", "--run", name + ".ipynb", "--exit-after-run", "--output-path", output], NotebooksDir,
            NotebookTimeout, LessonEnvironment(NotebookRuns));
        return result with { Name = name, OutputNotebook = File.Exists(output) ? output : null };
    }

    LessonExecution RunApp(string name) =>
        Exec("dotnet", ["run", "-c", "Release", Path.Combine("notebooks", name + ".cs")], Root, NotebookTimeout, LessonEnvironment(AppRuns)) with { Name = name };

    static Dictionary<string, string> LessonEnvironment(string runs) => new()
    {
        [Lesson.RunsVariable] = runs,
        [Lesson.StepsVariable] = Steps,
        [Lesson.EvalArticlesVariable] = EvalArticles,
        [Lesson.EvalSamplesVariable] = EvalSamples,
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
    };

    /// <summary>Runs a process to completion (killing its tree after <paramref name="timeout"/>), stdout and stderr merged.</summary>
    public static LessonExecution Exec(string file, IEnumerable<string> args, string cwd, TimeSpan timeout, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var output = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(10_000);
            lock (output) output.AppendLine($"[killed after {timeout.TotalMinutes:F0} minutes]");
            return new LessonExecution(string.Join(' ', args), 124, output.ToString(), null, clock.Elapsed);
        }
        process.WaitForExit();
        lock (output) return new LessonExecution(string.Join(' ', args), process.ExitCode, output.ToString(), null, clock.Elapsed);
    }

    public static string Tail(string s, int chars = 6000) => s.Length <= chars ? s : "..." + s[^chars..];

    public void Dispose()
    {
        try { Directory.Delete(Work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class NotebookCollection : ICollectionFixture<NotebookHarness>
{
    public const string Name = "Notebooks";
}

/// <summary>The lessons' file-based apps: their own harness (and runs folder), so that they run beside the notebooks
/// instead of after them; each collection is still one lesson at a time, in order.</summary>
[CollectionDefinition(Name)]
public sealed class LessonAppCollection : ICollectionFixture<NotebookHarness>
{
    public const string Name = "Lesson apps";
}

/// <summary>An executed notebook's cells, read back from the output notebook dotnet-repl writes.</summary>
public sealed record ExecutedCell(int Index, string Source, bool Ran, IReadOnlyList<JsonObject> Outputs)
{
    public static IReadOnlyList<ExecutedCell> ReadCodeCells(string outputNotebook)
    {
        var root = JsonNode.Parse(File.ReadAllText(outputNotebook))!.AsObject();
        var cells = new List<ExecutedCell>();
        var all = root["cells"]!.AsArray();
        for (int i = 0; i < all.Count; i++)
        {
            var cell = all[i]!.AsObject();
            if (cell["cell_type"]?.GetValue<string>() != "code") continue;
            var source = cell["source"] is JsonArray lines ? string.Concat(lines.Select(l => l!.GetValue<string>())) : cell["source"]?.GetValue<string>() ?? "";
            var meta = cell["metadata"] as JsonObject;
            // dotnet-repl stamps every cell it ran with start and end times (and leaves execution_count null);
            // VS Code sets execution_count instead.
            var ran = meta?["dotnet_repl_cellExecutionEndTime"] is not null || cell["execution_count"] is JsonValue;
            var outputs = (cell["outputs"] as JsonArray ?? []).Select(o => o!.AsObject()).ToList();
            cells.Add(new ExecutedCell(i, source, ran, outputs));
        }
        return cells;
    }

    public IEnumerable<string> Texts(string mime) => Outputs.Select(o => o["data"]?[mime]).Where(d => d is not null)
        .Select(d => d is JsonArray a ? string.Concat(a.Select(x => x!.GetValue<string>())) : d!.GetValue<string>());

    public IEnumerable<string> Errors => Outputs.Where(o => o["output_type"]?.GetValue<string>() == "error")
        .Select(o => $"{o["ename"]}: {o["evalue"]}");

    public IEnumerable<string> Stderr => Outputs.Where(o => o["output_type"]?.GetValue<string>() == "stream" && o["name"]?.GetValue<string>() == "stderr")
        .Select(o => o["text"] is JsonArray a ? string.Concat(a.Select(x => x!.GetValue<string>())) : o["text"]?.GetValue<string>() ?? "");
}
