using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RlhfKit.NotebookScripts;

/// <summary>One cell of a notebook: <c>markdown</c> or <c>code</c>, its source and (for code) its kernel.</summary>
public sealed record NotebookCell(string Kind, string Source, string? Kernel = null)
{
    public IReadOnlyList<string> Lines => Source.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
}

/// <summary>
/// Turns a lesson notebook into its .NET 10 file-based app (<c>notebooks/NN-name.cs</c>), so the two never drift:
/// markdown cells become comments, code cells are copied in order with these changes: the cell that loads the kit
/// (<c>#r ".../RlhfKit.Workshop.dll"</c>) becomes a <c>#:project</c> directive, <c>#r "nuget: P, V"</c> becomes
/// <c>#:package P@V</c>, notebook formatter registrations (<c>Formatter.…</c>) and the kernel's own namespaces (<c>Microsoft.DotNet.Interactive…</c>) are dropped, <c>using</c> directives move
/// to the top, and a cell's last line, when it is an expression the notebook would display, becomes <c>display(...);</c>
/// (the workshop's <c>ConsoleNotebook.display</c> prints it or saves a chart).
/// </summary>
public static partial class NotebookScript
{
    public const string ProjectReference = "../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj";
    public const string RegenerateCommand = "dotnet run --project tools/NotebookScripts";

    /// <summary>The lessons: <c>NN-*.ipynb</c> in <paramref name="notebooksDir"/>, in order.</summary>
    public static IReadOnlyList<string> Lessons(string notebooksDir) =>
        Directory.GetFiles(notebooksDir, "*.ipynb").Where(f => LessonName().IsMatch(Path.GetFileName(f)))
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();

    /// <summary>The file-based app that belongs to a notebook: same folder and name, <c>.cs</c>.</summary>
    public static string ScriptPath(string notebookPath) => Path.ChangeExtension(notebookPath, ".cs");

    public static IReadOnlyList<NotebookCell> ReadCells(string notebookPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(notebookPath));
        var cells = new List<NotebookCell>();
        foreach (var cell in doc.RootElement.GetProperty("cells").EnumerateArray())
        {
            var source = cell.GetProperty("source");
            var text = source.ValueKind == JsonValueKind.Array ? string.Concat(source.EnumerateArray().Select(s => s.GetString())) : source.GetString() ?? "";
            string? kernel = null;
            if (cell.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("polyglot_notebook", out var pn) && pn.TryGetProperty("kernelName", out var k))
                kernel = k.GetString();
            cells.Add(new NotebookCell(cell.GetProperty("cell_type").GetString() ?? "", text, kernel));
        }
        return cells;
    }

    /// <summary>The file-based app's text for the notebook at <paramref name="notebookPath"/>.</summary>
    public static string Generate(string notebookPath) => Generate(ReadCells(notebookPath), Path.GetFileName(notebookPath));

    public static string Generate(IReadOnlyList<NotebookCell> cells, string notebookName)
    {
        var packages = new List<string>();
        var usings = new List<string>();
        var body = new StringBuilder();
        bool kitLoaded = false;
        foreach (var cell in cells)
        {
            body.Append('\n');
            if (cell.Kind == "markdown")
            {
                foreach (var line in cell.Lines) body.Append(line.Length == 0 ? "//" : "// " + line).Append('\n');
                continue;
            }
            if (cell.Kind != "code") continue;
            if (cell.Kernel is not null and not "csharp")
                throw new NotSupportedException($"{notebookName}: a {cell.Kernel} cell cannot go into a C# file-based app.");
            var code = new List<string>();
            foreach (var line in cell.Lines)
            {
                var trimmed = line.Trim();
                if (KitReference().IsMatch(trimmed))
                {
                    kitLoaded = true;
                    code.Add($"// The notebook loads the kit with {trimmed}; here the #:project line at the top does.");
                    continue;
                }
                if (NuGetReference().Match(trimmed) is { Success: true } nuget)
                {
                    packages.Add($"#:package {nuget.Groups["id"].Value}@{nuget.Groups["version"].Value}");
                    continue;
                }
                if (trimmed.StartsWith("#!", StringComparison.Ordinal) || trimmed.StartsWith("#r ", StringComparison.Ordinal))
                    throw new NotSupportedException($"{notebookName}: '{trimmed}' has no file-based app equivalent.");
                if (trimmed.StartsWith("Formatter.", StringComparison.Ordinal)) continue;
                if (UsingDirectives().IsMatch(trimmed))
                {
                    foreach (Match u in UsingDirective().Matches(trimmed))
                        if (KeepUsing(u.Value.Trim()) && !usings.Contains(u.Value.Trim())) usings.Add(u.Value.Trim());
                    continue;
                }
                code.Add(line.TrimEnd());
            }
            while (code.Count > 0 && code[^1].Length == 0) code.RemoveAt(code.Count - 1);
            if (LastStatementStart(code) is int start && IsDisplayedExpression(code[^1]))
            {
                var first = code[start];
                var indent = first[..(first.Length - first.TrimStart().Length)];
                code[start] = $"{indent}display({first.TrimStart()}";
                code[^1] += ");";
            }
            foreach (var line in code) body.Append(line).Append('\n');
        }
        if (!kitLoaded) throw new InvalidDataException($"{notebookName}: no cell loads the kit with #r \".../artifacts/kit/RlhfKit.Workshop.dll\".");

        var sb = new StringBuilder();
        sb.Append("#!/usr/bin/env dotnet\n");
        sb.Append("#:project ").Append(ProjectReference).Append('\n');
        foreach (var p in packages.Distinct()) sb.Append(p).Append('\n');
        sb.Append("#:property TreatWarningsAsErrors=false\n#:property PublishAot=false\n");
        sb.Append("// GENERATED from ").Append(notebookName).Append(" (the notebook is the source): edit the notebook, then run\n");
        sb.Append("//   ").Append(RegenerateCommand).Append('\n');
        sb.Append("// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/").Append(Path.ChangeExtension(notebookName, ".cs")).Append('\n');
        foreach (var u in usings) sb.Append(u).Append('\n');
        sb.Append("using static RlhfKit.Notebooks.ConsoleNotebook;\n");
        sb.Append(body);
        return sb.ToString();
    }

    /// <summary>Regenerates every lesson's app; returns the files whose text changed.</summary>
    public static IReadOnlyList<string> WriteAll(string notebooksDir)
    {
        var changed = new List<string>();
        foreach (var notebook in Lessons(notebooksDir))
        {
            var path = ScriptPath(notebook);
            var text = Generate(notebook);
            if (File.Exists(path) && File.ReadAllText(path) == text) continue;
            File.WriteAllText(path, text);
            changed.Add(path);
        }
        return changed;
    }

    /// <summary>The SDK's implicit usings of a console app (a repeat would warn), and the kernel's own namespaces, stay out.</summary>
    static bool KeepUsing(string directive) =>
        !directive.Contains("Microsoft.DotNet.Interactive", StringComparison.Ordinal) && !ImplicitUsings.Contains(directive);

    static readonly HashSet<string> ImplicitUsings =
    [
        "using System;", "using System.IO;", "using System.Linq;", "using System.Collections.Generic;", "using System.Net.Http;",
        "using System.Threading;", "using System.Threading.Tasks;",
    ];

    /// <summary>The line where a cell's last statement starts: after the last line that closes a statement at bracket
    /// depth 0 (ends with <c>;</c> or <c>}</c>) or is a comment. Null when the cell has no code.</summary>
    static int? LastStatementStart(IReadOnlyList<string> code)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < code.Count; i++)
        {
            var t = code[i].Trim();
            depth += BracketBalance(t);
            if (!t.StartsWith("//", StringComparison.Ordinal)) t = WithoutComment(t).Trim();
            if (depth == 0 && (t.Length == 0 || t.StartsWith("//", StringComparison.Ordinal) || t.EndsWith(';') || t.EndsWith('}')))
                start = i + 1;
        }
        return start < code.Count ? start : null;
    }

    /// <summary>The line without a trailing <c>//</c> comment (one outside string and character literals).</summary>
    static string WithoutComment(string line)
    {
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '/' && i + 1 < line.Length && line[i + 1] == '/') return line[..i];
            if (c is '"' or '\'')
            {
                bool verbatim = i > 0 && line[i - 1] == '@' || i > 1 && line[i - 2] == '@';
                for (i++; i < line.Length && line[i] != c; i++)
                    if (line[i] == '\\' && !verbatim) i++;
            }
        }
        return line;
    }

    /// <summary>Opening minus closing brackets of a line, outside string and character literals and comments.</summary>
    static int BracketBalance(string line)
    {
        int balance = 0;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '/' && i + 1 < line.Length && line[i + 1] == '/') break;
            if (c is '"' or '\'')
            {
                bool verbatim = i > 0 && line[i - 1] == '@' || i > 1 && line[i - 2] == '@';
                for (i++; i < line.Length && line[i] != c; i++)
                    if (line[i] == '\\' && !verbatim) i++;
                continue;
            }
            if (c is '(' or '[' or '{') balance++;
            else if (c is ')' or ']' or '}') balance--;
        }
        return balance;
    }

    /// <summary>A last line the notebook shows as the cell's value: an expression without a closing semicolon.</summary>
    static bool IsDisplayedExpression(string line)
    {
        var t = WithoutComment(line).Trim();
        if (t.Length == 0 || t.StartsWith("//", StringComparison.Ordinal) || t.StartsWith('#')) return false;
        return !(t.EndsWith(';') || t.EndsWith('}') || t.EndsWith('{') || t.EndsWith(',') || t.EndsWith("=>", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\d\d-[\w-]+\.ipynb$")]
    private static partial Regex LessonName();

    [GeneratedRegex(@"^#r\s+""[^""]*artifacts/kit/RlhfKit\.Workshop\.dll""$")]
    private static partial Regex KitReference();

    [GeneratedRegex(@"^#r\s+""nuget:\s*(?<id>[\w.\-]+)\s*,\s*(?<version>[\w.\-*]+)\s*""$")]
    private static partial Regex NuGetReference();

    [GeneratedRegex(@"^(using\s+(static\s+)?[\w.]+(\s*=\s*[\w.<>, ]+)?\s*;\s*)+$")]
    private static partial Regex UsingDirectives();

    [GeneratedRegex(@"using\s+(static\s+)?[\w.]+(\s*=\s*[\w.<>, ]+)?\s*;")]
    private static partial Regex UsingDirective();
}
