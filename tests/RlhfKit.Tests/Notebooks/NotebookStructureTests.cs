using RlhfKit.NotebookScripts;
using System.Text.Json.Nodes;
using RlhfKit.Notebooks;
using RlhfKit.Tests.Charts;

namespace RlhfKit.Tests.Notebooks;

/// <summary>The lessons' shape, without running them: order, an opening markdown cell, short code cells, the metadata
/// VS Code writes, one identical kit-loading cell, one settings cell, and no saved outputs.</summary>
public sealed class NotebookStructureTests
{
    public const int MaxCodeCellLines = 12;
    static string NotebooksDir => Path.Combine(ChartTestKit.RepoRoot, "notebooks");

    public static TheoryData<string> Lessons => new(NotebookHarness.LessonNames());

    static JsonObject Load(string lesson) => JsonNode.Parse(File.ReadAllText(Path.Combine(NotebooksDir, lesson + ".ipynb")))!.AsObject();

    [Fact]
    public void TheSixLessonsAreThereInOrder()
    {
        Assert.Equal(["00-environment", "01-reward-classifiers", "02-policy-and-data", "03-ppo-training", "04-evaluation", "05-preferences"], NotebookHarness.LessonNames());
    }

    [Theory]
    [MemberData(nameof(Lessons))]
    public void OpensWithAMarkdownCell(string lesson)
    {
        var cells = NotebookScript.ReadCells(Path.Combine(NotebooksDir, lesson + ".ipynb"));
        Assert.Equal("markdown", cells[0].Kind);
        Assert.StartsWith("# ", cells[0].Source);
    }

    [Theory]
    [MemberData(nameof(Lessons))]
    public void CodeCellsStayShort(string lesson)
    {
        foreach (var cell in NotebookScript.ReadCells(Path.Combine(NotebooksDir, lesson + ".ipynb")).Where(c => c.Kind == "code"))
            Assert.True(cell.Lines.Count <= MaxCodeCellLines, $"{lesson}: a code cell has {cell.Lines.Count} lines (at most {MaxCodeCellLines}):\n{cell.Source}");
    }

    [Theory]
    [MemberData(nameof(Lessons))]
    public void UsesTheMetadataVSCodeWritesAndHasNoOutputs(string lesson)
    {
        var nb = Load(lesson);
        Assert.Equal(".net-csharp", nb["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.Equal(4, nb["nbformat"]!.GetValue<int>());
        foreach (var cell in nb["cells"]!.AsArray().Select(c => c!.AsObject()).Where(c => c["cell_type"]!.GetValue<string>() == "code"))
        {
            Assert.Equal("csharp", cell["metadata"]!["dotnet_interactive"]!["language"]!.GetValue<string>());
            Assert.Equal("csharp", cell["metadata"]!["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
            Assert.Empty(cell["outputs"]!.AsArray());
            Assert.Null(cell["execution_count"]?.GetValue<int?>());
        }
    }

    [Fact]
    public void EveryLessonLoadsTheKitWithTheSameFourLineFirstCell()
    {
        var first = NotebookHarness.LessonNames()
            .Select(l => NotebookScript.ReadCells(Path.Combine(NotebooksDir, l + ".ipynb")).First(c => c.Kind == "code").Source).ToList();
        Assert.Single(first.Distinct());
        Assert.StartsWith("#r \"../artifacts/kit/RlhfKit.Workshop.dll\"", first[0]);
        Assert.EndsWith("Notebook.Start();", first[0].TrimEnd());
        Assert.True(first[0].TrimEnd().Split('\n').Length <= 4, $"the kit cell has more than 4 lines:\n{first[0]}");
    }

    [Theory]
    [MemberData(nameof(Lessons))]
    public void TheSecondCodeCellChoosesProfileAndDevice(string lesson)
    {
        var settings = NotebookScript.ReadCells(Path.Combine(NotebooksDir, lesson + ".ipynb")).Where(c => c.Kind == "code").ElementAt(1).Source;
        Assert.Contains("var profile = \"offline\";", settings);
        Assert.Contains("var device = \"cpu\";", settings);
        Assert.Contains("Lesson.Config(profile, device)", settings);
        // Nothing else names a profile: switching is one edit.
        foreach (var cell in NotebookScript.ReadCells(Path.Combine(NotebooksDir, lesson + ".ipynb")).Where(c => c.Kind == "code" && c.Source != settings))
            Assert.DoesNotContain("Profiles.Get", cell.Source);
    }
}
