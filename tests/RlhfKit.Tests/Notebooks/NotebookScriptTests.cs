using RlhfKit.NotebookScripts;
using RlhfKit.Tests.Charts;

namespace RlhfKit.Tests.Notebooks;

/// <summary>The file-based apps (notebooks/NN-name.cs) are generated from the notebooks and must match them.</summary>
public sealed class NotebookScriptTests
{
    static string NotebooksDir => Path.Combine(ChartTestKit.RepoRoot, "notebooks");

    public static TheoryData<string> Lessons => new(NotebookHarness.LessonNames());

    [Theory]
    [MemberData(nameof(Lessons))]
    public void CommittedScriptsMatchTheirNotebooks(string lesson)
    {
        var notebook = Path.Combine(NotebooksDir, lesson + ".ipynb");
        var script = NotebookScript.ScriptPath(notebook);
        Assert.True(File.Exists(script), $"{script} is missing: run '{NotebookScript.RegenerateCommand}'.");
        Assert.True(NotebookScript.Generate(notebook) == File.ReadAllText(script).ReplaceLineEndings("\n"),
            $"{Path.GetFileName(script)} differs from what {Path.GetFileName(notebook)} generates: run '{NotebookScript.RegenerateCommand}'.");
    }

    static readonly NotebookCell[] Sample =
    [
        new("markdown", "# Title\n\nSome *text*."),
        new("code", "#r \"../artifacts/kit/RlhfKit.Workshop.dll\"\nusing RlhfKit.Alignment; using Microsoft.DotNet.Interactive.Formatting; using System.IO;\nFormatter.Register<int>(i => \"x\", \"text/html\");\nvar a = 1;", "csharp"),
        new("code", "#r \"nuget: Humanizer, 2.14.1\"\nusing Humanizer;\nvar b = a + 1;\nTables.Of(new[]\n{\n    new { b },\n})", "csharp"),
        new("code", "if (a > 0)\n{\n    a++;\n}", "csharp"),
        new("code", "a++; a--;   // two statements (a comment after them)", "csharp"),
        new("code", "var c = a\n    + 2;\n// a comment (with brackets\n$\"{string.Join(\", \", new[] { a, c })}\"", "csharp"),
    ];

    [Fact]
    public void GeneratesDirectivesUsingsCommentsAndDisplayedValues()
    {
        var text = NotebookScript.Generate(Sample, "99-sample.ipynb");
        var lines = text.Split('\n');
        Assert.Equal("#!/usr/bin/env dotnet", lines[0]);
        Assert.Equal("#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj", lines[1]);
        Assert.Contains("#:package Humanizer@2.14.1", lines);
        Assert.Contains("using RlhfKit.Alignment;", lines);
        Assert.Contains("using Humanizer;", lines);
        Assert.Contains("using static RlhfKit.Notebooks.ConsoleNotebook;", lines);
        Assert.DoesNotContain(lines, l => l.Contains("Microsoft.DotNet.Interactive", StringComparison.Ordinal));
        Assert.DoesNotContain("using System.IO;", lines);   // implicit in a console app
        Assert.DoesNotContain(lines, l => l.StartsWith("Formatter.", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("#r", StringComparison.Ordinal));
        Assert.Contains("// # Title", lines);
        Assert.Contains("// Some *text*.", lines);
        // Every using directive comes before the first statement.
        Assert.True(Array.FindLastIndex(lines, l => l.StartsWith("using ", StringComparison.Ordinal)) < Array.IndexOf(lines, "var a = 1;"));
        // A multi-line value is wrapped whole; statements and blocks are left alone.
        Assert.Contains("display(Tables.Of(new[]", text);
        Assert.Contains("    new { b },\n}));", text);
        Assert.Contains("var a = 1;\n", text);
        Assert.Contains("    a++;\n}\n", text);
        Assert.Contains("var c = a\n    + 2;\n", text);
        Assert.Contains("\na++; a--;   // two statements (a comment after them)\n", text); // a trailing comment does not make a value
        Assert.Contains("display($\"{string.Join(\", \", new[] { a, c })}\");", text);
    }

    [Fact]
    public void ANotebookThatDoesNotLoadTheKitIsRefused()
    {
        Assert.Throws<InvalidDataException>(() => NotebookScript.Generate([new NotebookCell("code", "var x = 1;", "csharp")], "x.ipynb"));
    }

    [Fact]
    public void CellsOfOtherLanguagesAreRefused()
    {
        Assert.Throws<NotSupportedException>(() => NotebookScript.Generate([Sample[1], new NotebookCell("code", "1 + 1", "fsharp")], "x.ipynb"));
    }
}
