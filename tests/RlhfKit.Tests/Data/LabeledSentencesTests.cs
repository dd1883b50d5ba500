using RlhfKit.Data;

namespace RlhfKit.Tests.Data;

public sealed class LabeledSentencesTests
{
    [Fact]
    public void SourcesLineUpWithTheSentencesAndAreNullWhereALineHasNone()
    {
        var path = Write(
            """{"text": "The park opened.", "label": 1}""",
            "",
            """{"text": "The park park opened.", "label": 0, "source": "The park opened on Monday."}""");
        Assert.Equal([("The park opened.", 1), ("The park park opened.", 0)], LabeledSentences.FromJsonl(path, 2));
        Assert.Equal([null, "The park opened on Monday."], LabeledSentences.SourcesFromJsonl(path));
    }

    [Fact]
    public void ASourceThatIsNotTextIsAnErrorNamingTheFileAndLine()
    {
        var path = Write("""{"text": "A.", "label": 1}""", """{"text": "B b.", "label": 0, "source": 7}""");
        var e = Assert.Throws<InvalidDataException>(() => LabeledSentences.SourcesFromJsonl(path));
        Assert.StartsWith($"{path}:2:", e.Message);
    }

    static string Write(params string[] lines)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("rlhfkit-labelled-").FullName, "train.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }
}
