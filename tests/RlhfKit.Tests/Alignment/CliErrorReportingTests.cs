using System.CommandLine;
using RlhfKit.Alignment;
using RlhfKit.Checkpoints;
using RlhfKit.Cli;
using RlhfKit.Hub;

namespace RlhfKit.Tests.Alignment;

/// <summary>
/// How every verb reports failures: an expected error prints one line (plus a one-line hint) and a non-zero exit code,
/// never a stack trace unless asked for; an unexpected one keeps its stack trace and says how to report it. In the
/// offline-assets collection: the commands capture the process's console, so they must not run beside the other
/// command-line tests.
/// </summary>
[Collection(OfflineAssetsCollection.Name)]
public sealed class CliErrorReportingTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rlhfkit-cli-errors-");

    public void Dispose() => _dir.Delete(recursive: true);

    string NewDir(string name) => Directory.CreateDirectory(Path.Combine(_dir.FullName, name)).FullName;

    internal static async Task<(int Code, string Output)> Cli(params string[] args) => await Capture(() => Commands.InvokeAsync(args));

    static async Task<(int Code, string Output)> Capture(Func<Task<int>> run)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var capture = new StringWriter();
        Console.SetOut(capture);
        Console.SetError(capture);
        try { return (await run(), capture.ToString()); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
    }

    /// <summary>Exit code as given, exactly one <c>error:</c> line naming what must be named, at most two lines in all,
    /// and no stack frame.</summary>
    internal static void AssertOneLineError((int Code, string Output) result, int code, params string[] mentions)
    {
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(result.Code == code, $"exit code {result.Code}, expected {code}:\n{result.Output}");
        Assert.DoesNotContain("   at ", result.Output);
        Assert.DoesNotContain("Unhandled exception", result.Output);
        var errors = lines.Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, result.Output);
        Assert.True(lines.Length <= 2, result.Output);
        foreach (var m in mentions) Assert.Contains(m, errors[0]);
    }

    [Theory]
    [InlineData("align", "--profile", "nope")]
    [InlineData("evaluate", "--profile", "nope", "--run", "somewhere")]
    [InlineData("score", "--profile", "nope")]
    [InlineData("generate", "--profile", "nope")]
    [InlineData("download", "--profile", "nope")]
    public async Task EveryVerbReportsAnUnknownProfileOnOneLineWithTheUsageExitCode(params string[] args) =>
        AssertOneLineError(await Cli(args), ExitCodes.Usage, "Unknown profile 'nope'");

    [Theory]
    [InlineData("align", "--max-steps", "many")]
    [InlineData("evaluate")]
    [InlineData("score", "--device")]
    [InlineData("generate", "--articles", "x")]
    [InlineData("download", "--no-such-option")]
    [InlineData("prepare", "--no-such-option")]
    [InlineData("bench", "--threads", "two")]
    [InlineData("no-such-verb")]
    public async Task EveryVerbReportsUnparsableOptionsWithoutHelpOrStackTrace(params string[] args)
    {
        var (code, output) = await Cli(args);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.DoesNotContain("   at ", output);
        Assert.StartsWith("error: ", output);
        Assert.Contains("--help", output);
    }

    /// <summary>The attendee's likeliest mistake on a CPU build: asking for the GPU.</summary>
    [CpuBuildFact]
    public async Task AskingForCudaOnACpuBuildIsAOneLineUsageError() =>
        AssertOneLineError(await Cli("generate", "--device", "cuda", "--policy", NewDir("p")), ExitCodes.Usage, "CUDA is not available");

    [Fact]
    public async Task ValuesThatValidateRefusesAreOneLineUsageErrors()
    {
        AssertOneLineError(await Cli("align", "--dtype", "float64", "--out", Path.Combine(_dir.FullName, "never")), ExitCodes.Usage, "InferenceDType 'float64'");
        AssertOneLineError(await Cli("align", "--update-dtype", "float64", "--out", Path.Combine(_dir.FullName, "never")), ExitCodes.Usage, "UpdateDType 'float64'", "--update-dtype");
        AssertOneLineError(await Cli("align", "--update-dtype", "float16", "--out", Path.Combine(_dir.FullName, "never")), ExitCodes.Usage, "UpdateDType 'float16'", "--update-dtype", "bfloat16");
        AssertOneLineError(await Cli("align", "--eval-articles", "1", "--out", Path.Combine(_dir.FullName, "never")), ExitCodes.Usage, "--eval-articles", "at least 2");
        AssertOneLineError(await Cli("bench", "--dtype", "float16", "--out", Path.Combine(_dir.FullName, "never")), ExitCodes.Usage, "--dtype 'float16'");
        AssertOneLineError(await Cli("evaluate", "--articles", "1", "--run", NewDir("run")), ExitCodes.Usage, "EvalArticles");
        AssertOneLineError(await Cli("align", "--eval-samples", "0", "--out", Path.Combine(_dir.FullName, "never")), ExitCodes.Usage, "--eval-samples", "at least 1");
        AssertOneLineError(await Cli("evaluate", "--eval-samples", "0", "--run", NewDir("run3")), ExitCodes.Usage, "--eval-samples", "at least 1");
        AssertOneLineError(await Cli("generate", "--articles", "0"), ExitCodes.Usage, "--articles");
        AssertOneLineError(await Cli("generate", "--device", "tpu", "--policy", NewDir("p")), ExitCodes.Usage, "Unknown device 'tpu'");
        AssertOneLineError(await Cli("evaluate", "--best-of", "4", "0", "--run", NewDir("run2")), ExitCodes.Usage, "--best-of");
    }

    [Fact]
    public async Task MissingFoldersAndFilesAreOneLineErrorsNamingThePath()
    {
        var run = Path.Combine(_dir.FullName, "no-run");
        AssertOneLineError(await Cli("evaluate", "--assets", NewDir("assets"), "--run", run), ExitCodes.NoInput, run);
        var empty = NewDir("empty-policy");
        AssertOneLineError(await Cli("generate", "--assets", NewDir("assets2"), "--policy", empty, "some text"), ExitCodes.NoInput, "empty-policy");
        AssertOneLineError(await Cli("generate", "--policy", Path.Combine(_dir.FullName, "no", "such", "folder"), "some text"), ExitCodes.NoInput, "no/such/folder");
    }

    [Fact]
    public async Task ATruncatedModelFileIsAOneLineErrorNamingTheFile()
    {
        var policy = NewDir("truncated");
        File.Copy(Fixtures.PathOf("t5-gated", "config.json"), Path.Combine(policy, "config.json"));
        File.Copy(Fixtures.PathOf("spiece", "spiece.model"), Path.Combine(policy, "spiece.model"));
        var bytes = File.ReadAllBytes(Fixtures.PathOf("t5-gated", "model.safetensors"));
        File.WriteAllBytes(Path.Combine(policy, "model.safetensors"), bytes[..(bytes.Length / 2)]);
        AssertOneLineError(await Cli("generate", "--assets", NewDir("assets"), "--policy", policy, "some text"), ExitCodes.BadData, "model.safetensors");
    }

    /// <summary>A command whose action throws <paramref name="error"/>, run through the same handler as the real verbs.</summary>
    static Task<(int Code, string Output)> Throwing(Exception error, params string[] extra)
    {
        var root = new RootCommand("test");
        var verb = new Command("fail");
        verb.SetAction((_, _) => Task.FromException<int>(Rethrown(error)));
        root.Subcommands.Add(verb);
        return Capture(() => Commands.InvokeAsync(root, ["fail", .. extra]));
    }

    /// <summary>The exception after a real throw, so it carries a stack trace.</summary>
    static Exception Rethrown(Exception e)
    {
        try { throw e; }
        catch (Exception thrown) { return thrown; }
    }

    public static TheoryData<string, int, string> ExpectedErrors => new()
    {
        { "hub-not-found", ExitCodes.Hub, "google/nope" },
        { "hub-offline", ExitCodes.Hub, "HF_HUB_OFFLINE" },
        { "disk-full", ExitCodes.IoError, "out of disk space" },
        { "interrupted", ExitCodes.Interrupted, "interrupted" },
        { "mismatch", ExitCodes.BadData, "2 unexpected" },
        { "permission", ExitCodes.NoPermission, "/root/x" },
    };

    static Exception Make(string kind)
    {
        var repo = new RepoRef("google/nope", HubRepoType.Model);
        return kind switch
        {
            "hub-not-found" => new HubNotFoundException(repo, 404, "RepoNotFound", "google/nope: repository not found on the Hub (404)"),
            "hub-offline" => new HubOfflineException(repo, ["config.json"], "google/nope: HF_HUB_OFFLINE=1 and config.json is not cached"),
            "disk-full" => new IOException("No space left on device : '/tmp/x'", 28),
            "interrupted" => new OperationCanceledException(),
            "mismatch" => new CheckpointMismatchException("w.bin", [], ["v_head.summary.weight [1, 64]", "v_head.summary.bias [1]"], [], []),
            "permission" => new UnauthorizedAccessException("Access to the path '/root/x' is denied."),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    [Theory]
    [MemberData(nameof(ExpectedErrors))]
    public async Task HubErrorsFullDisksInterruptionsAndMismatchesAreOneLineErrors(string kind, int code, string mention) =>
        AssertOneLineError(await Throwing(Make(kind)), code, mention);

    [Fact]
    public async Task VerboseOptionOrEnvironmentVariablePrintsTheStackTrace()
    {
        var (code, output) = await Throwing(new InvalidDataException("w.bin: is damaged"), "--verbose");
        Assert.Equal(ExitCodes.BadData, code);
        Assert.Contains("error: w.bin: is damaged", output);
        Assert.Contains("   at ", output);

        Environment.SetEnvironmentVariable(CliErrors.VerboseVariable, "1");
        try
        {
            (code, output) = await Throwing(new InvalidDataException("w.bin: is damaged"));
            Assert.Equal(ExitCodes.BadData, code);
            Assert.Contains("   at ", output);
        }
        finally { Environment.SetEnvironmentVariable(CliErrors.VerboseVariable, null); }
    }

    [Fact]
    public async Task UnexpectedExceptionsKeepTheStackTraceAndSayHowToReport()
    {
        var (code, output) = await Throwing(new NullReferenceException("boom"));
        Assert.Equal(ExitCodes.Internal, code);
        Assert.Contains("unexpected error: System.NullReferenceException: boom", output);
        Assert.Contains("   at ", output);
        Assert.Contains("Please report it", output);
    }
}
