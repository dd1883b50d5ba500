using Xunit.Abstractions;
namespace RlhfKit.Tests.Notebooks;

/// <summary>Each lesson's file-based app (<c>dotnet run notebooks/NN-name.cs</c>) builds against the kit's project and runs
/// to the end on the offline profile; its charts land as HTML files in the runs folder.</summary>
[Collection(LessonAppCollection.Name)]
public sealed class FileBasedAppTests(NotebookHarness harness, ITestOutputHelper log)
{
    public static TheoryData<string> Lessons => new(NotebookHarness.LessonNames());

    static readonly Dictionary<string, string> Expected = new()
    {
        ["00-environment"] = "Everything is in place",
        ["01-reward-classifiers"] = "LABEL_1",
        ["02-policy-and-data"] = "kit rollout (PPO)",
        ["03-ppo-training"] = $"step {NotebookHarness.AppSteps}/{NotebookHarness.AppSteps}",
        ["04-evaluation"] = "acceptability",
        ["05-preferences"] = "win_rate",
    };

    [Theory]
    [MemberData(nameof(Lessons))]
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
        var run = harness.App("05-preferences"); // the last lesson: every app has run
        Assert.Equal(0, run.ExitCode);
        var charts = Directory.GetFiles(Path.Combine(harness.AppRuns, "charts"), "*.html").Select(Path.GetFileName).Order().ToList();
        // 00: 1 chart; 03: the live chart, the components and one summary token by token; 04: reward/KL, gains, before/after,
        // changed words, gains by method, then the run without a KL penalty: reward and KL per step, gains with fluency;
        // 05: win rates, gains by method.
        Assert.Equal(["00-environment-01.html", "03-ppo-training-01.html", "03-ppo-training-02.html", "03-ppo-training-03.html",
                      "04-evaluation-01.html", "04-evaluation-02.html", "04-evaluation-03.html", "04-evaluation-04.html", "04-evaluation-05.html",
                      "04-evaluation-06.html", "04-evaluation-07.html", "04-evaluation-08.html",
                      "05-preferences-01.html", "05-preferences-02.html"], charts);
    }
}
