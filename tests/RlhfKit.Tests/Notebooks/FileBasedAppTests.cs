using Xunit.Abstractions;
namespace RlhfKit.Tests.Notebooks;

/// <summary>
/// Each lesson's file-based app (<c>dotnet run notebooks/NN-name.cs</c>) builds against the kit's project. The apps of
/// the lessons up to the training run (00-03) run to the end on the offline profile (which builds them first), their
/// charts landing as HTML files in the runs folder. The evaluation and preference apps (04, 05) are only built: their
/// cells are the notebooks' (NotebookScriptTests keeps them equal), which NotebookExecutionTests runs headless, and the
/// console host they would exercise (text, tables, charts, the progress bar and the live chart) is the one 00-03
/// exercise. So each lesson's costly cells run once per test run, not twice.
/// </summary>
[Collection(LessonAppCollection.Name)]
public sealed class FileBasedAppTests(NotebookHarness harness, ITestOutputHelper log)
{
    /// <summary>The last lesson whose app runs: the training run, which shows the progress bar and the live chart.</summary>
    public const string LastRunLesson = "03-ppo-training";

    public static TheoryData<string> RunLessons => new(NotebookHarness.LessonNames().Where(l => string.CompareOrdinal(l, LastRunLesson) <= 0));

    /// <summary>The lessons whose apps are built but not run; a run builds its app, so the others need no build check.</summary>
    public static TheoryData<string> BuildOnlyLessons => new(NotebookHarness.LessonNames().Where(l => string.CompareOrdinal(l, LastRunLesson) > 0));

    static readonly Dictionary<string, string> Expected = new()
    {
        ["00-environment"] = "Everything is in place",
        ["01-reward-classifiers"] = "LABEL_1",
        ["02-policy-and-data"] = "kit rollout (PPO)",
        ["03-ppo-training"] = $"step {NotebookHarness.Steps}/{NotebookHarness.Steps}",
    };

    [Theory]
    [MemberData(nameof(BuildOnlyLessons))]
    public void BuildsAgainstTheKitsProject(string lesson)
    {
        var build = harness.BuildApp(lesson);
        log.WriteLine(build.ToString());
        Assert.True(build.ExitCode == 0, $"dotnet build notebooks/{lesson}.cs exited with {build.ExitCode}:\n{NotebookHarness.Tail(build.Output)}");
    }

    [Theory]
    [MemberData(nameof(RunLessons))]
    public void RunsToTheEnd(string lesson)
    {
        var run = harness.App(lesson);
        log.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, $"dotnet run notebooks/{lesson}.cs exited with {run.ExitCode}:\n{NotebookHarness.Tail(run.Output)}");
        Assert.Contains(Expected[lesson], run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void SavesTheChartsANotebookWouldShow()
    {
        var run = harness.App(LastRunLesson); // every app that runs has run
        Assert.Equal(0, run.ExitCode);
        var charts = Directory.GetFiles(Path.Combine(harness.AppRuns, "charts"), "*.html").Select(Path.GetFileName).Order().ToList();
        // 00: 1 chart; 03: the live chart, the components and one summary token by token.
        Assert.Equal(["00-environment-01.html", "03-ppo-training-01.html", "03-ppo-training-02.html", "03-ppo-training-03.html"], charts);
    }
}
