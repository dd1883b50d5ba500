using RlhfKit.Preferences;

namespace RlhfKit.Tests.Preferences;

public sealed class HumanFeedbackTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlhfkit-answers-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Answers(params string[] lines)
    {
        var path = Path.Combine(_dir, $"answers-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    static SampledPair Question(string id, string a, string b) => new(id, "article " + id, "summarize: article " + id, a, b);

    [Fact]
    public async Task RecordedAnswersGivePairsWithThePreferredSummaryChosen()
    {
        var questions = new[] { Question("x", "calm", "loud"), Question("y", "short", "long"), Question("z", "same", "same"), Question("w", "one", "two") };
        var file = Answers("""{"id": "x", "preferred": "a"}""", """{"id": "y", "preferred": "B"}""", "", """{"id": "w", "preferred": "skip"}""");
        var result = await HumanFeedback.AskAsync(questions, file);
        // The identical pair "z" is never asked (and needs no answer); "w" is skipped.
        Assert.Equal(["x", "y", "w"], result.Answers.Select(a => a.Question.ArticleId));
        Assert.Equal([new PreferencePair("summarize: article x", "calm", "loud"), new PreferencePair("summarize: article y", "long", "short")], result.Pairs);
        Assert.All(result.Answers, a => Assert.Equal(Path.GetFileName(file), a.Source));
    }

    [Fact]
    public async Task AMissingAnswerNamesTheFileAndTheArticle()
    {
        var file = Answers("""{"id": "x", "preferred": "a"}""");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => HumanFeedback.AskAsync([Question("x", "a1", "b1"), Question("q", "a2", "b2")], file));
        Assert.Contains(file, e.Message);
        Assert.Contains("\"q\"", e.Message);
    }

    [Theory]
    [InlineData("""{"id": "x", "preferred": "maybe"}""", ":1", "\"maybe\"")]
    [InlineData("""{"id": "x"}""", ":1", "\"preferred\"")]
    [InlineData("not json", ":1", "not a JSON object")]
    public void BadLinesNameTheFileLineAndField(string line, string at, string mention)
    {
        var file = Answers(line);
        var e = Assert.Throws<InvalidDataException>(() => HumanFeedback.ReadAnswers(file));
        Assert.Contains(file + at, e.Message);
        Assert.Contains(mention, e.Message);
    }

    [Fact]
    public void ASecondAnswerForOneArticleIsRefused()
    {
        var file = Answers("""{"id": "x", "preferred": "a"}""", """{"id": "x", "preferred": "b"}""");
        Assert.Contains(":2: a second answer for article \"x\"", Assert.Throws<InvalidDataException>(() => HumanFeedback.ReadAnswers(file)).Message);
    }

    [Fact]
    public void NoOneCanBeAskedOutsideANotebookKernel() => Assert.False(HumanFeedback.CanAsk);

    [Fact]
    public void TheShippedAnswersCoverLessonFivesSixQuestions()
    {
        var answers = HumanFeedback.ReadAnswers(HumanFeedback.ShippedAnswers());
        Assert.Equal(Enumerable.Range(1, 6).Select(i => $"news-train-{i:D4}"), answers.Keys.Order());
    }
}
