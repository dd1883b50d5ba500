using System.Reflection;
using System.Text.Json;
using RlhfKit.Alignment;

namespace RlhfKit.Preferences;

/// <summary>One answer to "which summary do you prefer?": <c>a</c>, <c>b</c> or <c>skip</c>, and where it came from
/// (<c>you</c>, or the recorded answers file).</summary>
public sealed record HumanAnswer(SampledPair Question, string Preferred, string Source);

/// <summary>What <see cref="HumanFeedback.AskAsync"/> collected: every answer, and the preference pairs they give.</summary>
public sealed record HumanFeedbackResult(IReadOnlyList<HumanAnswer> Answers, IReadOnlyList<PreferencePair> Pairs)
{
    public override string ToString() =>
        $"{Pairs.Count} preference pairs from {Answers.Count} questions ({Answers.Count(a => a.Preferred == "skip")} skipped); answers from {string.Join(", ", Answers.Select(a => a.Source).Distinct())}";
}

/// <summary>
/// Preferences from a person: for each article, two summaries side by side and the question which one is better. In a
/// notebook opened in VS Code (or Jupyter) with the .NET Interactive kernel the question is asked with the kernel's input
/// box (<c>Microsoft.DotNet.Interactive.Kernel.GetInputAsync</c>, found at run time as <see cref="Notebooks.Notebook"/>
/// finds the formatter). Where no one can answer (dotnet-repl run headless, a file-based app, CI) the answers come from
/// a recorded answers file instead: JSON Lines of <c>{"id": "&lt;article id&gt;", "preferred": "a" | "b" | "skip"}</c>.
/// </summary>
public static class HumanFeedback
{
    /// <summary>A recorded answers file to use instead of asking (the tests and CI set it).</summary>
    public const string AnswersVariable = "RLHFKIT_NOTEBOOK_ANSWERS";

    /// <summary>The answers the kit ships for lesson 05's questions: <c>data/preferences/recorded-answers.jsonl</c>.</summary>
    public static string ShippedAnswers() => Path.Combine(OfflineAssets.DataDirectory(), "preferences", "recorded-answers.jsonl");

    /// <summary>True inside a .NET Interactive kernel that a front end drives (VS Code's Polyglot Notebooks or Jupyter),
    /// where <c>Kernel.GetInputAsync</c> shows an input box. False in dotnet-repl, file-based apps and tests.</summary>
    public static bool CanAsk => Assembly.GetEntryAssembly()?.GetName().Name == "Microsoft.DotNet.Interactive.App" && FindGetInput() is not null;

    /// <summary>
    /// Asks which summary of each pair is better and returns the answers and the pairs they give (<c>a</c>: A is
    /// chosen; <c>b</c>: B; <c>skip</c> or an empty answer: no pair). Identical samples are not asked. Answers come from,
    /// in this order: <paramref name="recordedAnswers"/> when given; the file named by <see cref="AnswersVariable"/>; the
    /// person at the notebook when <see cref="CanAsk"/>; else <see cref="ShippedAnswers"/>.
    /// </summary>
    public static async Task<HumanFeedbackResult> AskAsync(IReadOnlyList<SampledPair> questions, string? recordedAnswers = null, TextWriter? show = null)
    {
        ArgumentNullException.ThrowIfNull(questions);
        var asked = questions.Where(q => !q.Identical).ToList();
        var file = recordedAnswers ?? (Environment.GetEnvironmentVariable(AnswersVariable) is { Length: > 0 } v ? v : null);
        var answers = new List<HumanAnswer>();
        if (file is null && CanAsk)
        {
            var output = show ?? Console.Out;
            for (int i = 0; i < asked.Count; i++)
            {
                var q = asked[i];
                output.WriteLine($"[{i + 1}/{asked.Count}] {q.ArticleId}\n{q.Article}\n\n  A: {q.A}\n  B: {q.B}\n");
                var reply = await AskOnceAsync($"{q.ArticleId}: which summary is better, a or b? (empty: skip)");
                answers.Add(new HumanAnswer(q, Parse(reply, "your answer", q.ArticleId), "you"));
            }
        }
        else
        {
            var path = file ?? ShippedAnswers();
            var recorded = ReadAnswers(path);
            foreach (var q in asked)
            {
                if (!recorded.TryGetValue(q.ArticleId, out var preferred))
                    throw new InvalidDataException($"{path}: no answer for article \"{q.ArticleId}\" (recorded answers are {{\"id\": ..., \"preferred\": \"a\" | \"b\" | \"skip\"}} lines; it has {recorded.Count} ids).");
                answers.Add(new HumanAnswer(q, preferred, Path.GetFileName(path)));
            }
        }
        var pairs = answers.Select(a => a.Preferred switch
        {
            "a" => new PreferencePair(a.Question.Prompt, a.Question.A, a.Question.B),
            "b" => new PreferencePair(a.Question.Prompt, a.Question.B, a.Question.A),
            _ => null,
        }).OfType<PreferencePair>().ToList();
        return new HumanFeedbackResult(answers, pairs);
    }

    /// <summary>Reads a recorded answers file: id to <c>a</c>, <c>b</c> or <c>skip</c>, with errors naming the file and
    /// line.</summary>
    public static IReadOnlyDictionary<string, string> ReadAnswers(string path)
    {
        var answers = new Dictionary<string, string>();
        foreach (var (at, root) in JsonLines.Objects(path, "Recorded answers file"))
        {
            string Field(string name) =>
                root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s
                    ? s : throw new InvalidDataException($"{at}: \"{name}\" must be a non-empty string.");
            var id = Field("id");
            var preferred = Parse(Field("preferred"), at, id);
            if (!answers.TryAdd(id, preferred)) throw new InvalidDataException($"{at}: a second answer for article \"{id}\".");
        }
        if (answers.Count == 0) throw new InvalidDataException($"{path} holds no answers.");
        return answers;
    }

    static string Parse(string? reply, string where, string id) => (reply ?? "").Trim().ToLowerInvariant() switch
    {
        "a" or "1" => "a",
        "b" or "2" => "b",
        "" or "skip" or "s" or "-" => "skip",
        var other => throw new InvalidDataException($"{where}: \"{other}\" for article \"{id}\" is not an answer (a, b or skip)."),
    };

    /// <summary>Calls the kernel's <c>Kernel.GetInputAsync(prompt, ...)</c>, its other parameters at their defaults.</summary>
    static async Task<string?> AskOnceAsync(string prompt)
    {
        var method = FindGetInput() ?? throw new InvalidOperationException("No .NET Interactive kernel to ask in.");
        var args = method.GetParameters().Select((p, i) => i == 0 ? prompt : p.HasDefaultValue ? p.DefaultValue : p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null).ToArray();
        var task = (Task<string>)method.Invoke(null, args)!;
        return await task;
    }

    /// <summary><c>Microsoft.DotNet.Interactive.Kernel.GetInputAsync(string prompt, ...)</c> returning <c>Task&lt;string&gt;</c>,
    /// or null outside a kernel.</summary>
    static MethodInfo? FindGetInput() => AppDomain.CurrentDomain.GetAssemblies()
        .Where(a => a.GetName().Name == "Microsoft.DotNet.Interactive")
        .Select(a => a.GetType("Microsoft.DotNet.Interactive.Kernel"))
        .OfType<Type>()
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
        .Where(m => m.Name == "GetInputAsync" && m.ReturnType == typeof(Task<string>) && m.GetParameters() is [var first, ..] && first.ParameterType == typeof(string)
            && m.GetParameters().Skip(1).All(p => p.HasDefaultValue))
        .OrderBy(m => m.GetParameters().Length)
        .FirstOrDefault();
}
