using RlhfKit.Alignment;
using RlhfKit.Preferences;

namespace RlhfKit.Tests.Preferences;

public sealed class PreferenceDataTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlhfkit-prefs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static readonly PreferencePair[] Pairs =
    [
        new("summarize: The council met.", "The council met on Monday.", "The shameful council met."),
        new("summarize: A park opened.", "A park opened.", "A stunning park opened!"),
    ];

    string File(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllLines(path, lines);
        return path;
    }

    [Theory]
    [InlineData("pairs.jsonl")]
    [InlineData("pairs.parquet")]
    public void PairsRoundTripThroughJsonlAndParquetWithTrlColumnNames(string name)
    {
        var path = Path.Combine(_dir, name);
        PreferenceData.Write(path, Pairs);
        Assert.Equal(Pairs, PreferenceData.Read(path));
        if (name.EndsWith(".jsonl"))
            Assert.StartsWith("{\"prompt\":\"summarize: The council met.\",\"chosen\":", System.IO.File.ReadAllLines(path)[0]);
    }

    [Fact]
    public void MissingColumnIsNamedWithFileAndLine()
    {
        var path = File("bad.jsonl",
            """{"prompt": "p", "chosen": "a", "rejected": "b"}""",
            """{"prompt": "p", "chosen": "a", "loser": "b"}""");
        var e = Assert.Throws<InvalidDataException>(() => PreferenceData.Read(path));
        Assert.Contains($"{path}:2", e.Message);
        Assert.Contains("missing column \"rejected\"", e.Message);
        Assert.Contains("\"loser\"", e.Message);
    }

    [Fact]
    public void MissingParquetColumnIsNamedWithFile()
    {
        var good = Path.Combine(_dir, "good.parquet");
        PreferenceData.Write(good, Pairs);
        var bytes = System.IO.File.ReadAllBytes(good);
        // A parquet file whose columns are named otherwise: write one with the kit's writer under other names is not
        // possible, so rename the column in the footer bytes ("rejected" -> "rejectez").
        var text = System.Text.Encoding.Latin1.GetString(bytes).Replace("rejected", "rejectez");
        var renamed = Path.Combine(_dir, "renamed.parquet");
        System.IO.File.WriteAllBytes(renamed, System.Text.Encoding.Latin1.GetBytes(text));
        var e = Assert.Throws<InvalidDataException>(() => PreferenceData.Read(renamed));
        Assert.Contains(renamed, e.Message);
        Assert.Contains("missing column \"rejected\"", e.Message);
    }

    [Theory]
    [InlineData("""{"prompt": "p", "chosen": "", "rejected": "b"}""", "\"chosen\" is empty")]
    [InlineData("""{"prompt": "  ", "chosen": "a", "rejected": "b"}""", "\"prompt\" is empty")]
    [InlineData("""{"prompt": "p", "chosen": "a", "rejected": null}""", "\"rejected\" must be a string")]
    [InlineData("""{"prompt": "p", "chosen": "a", "rejected": "a"}""", "the same text")]
    [InlineData("""not json""", "not a JSON object")]
    public void BadRowsAreRefusedNamingFileLineAndProblem(string line, string expected)
    {
        var path = File("bad.jsonl", """{"prompt": "p", "chosen": "a", "rejected": "b"}""", "", line);
        var e = Assert.Throws<InvalidDataException>(() => PreferenceData.Read(path));
        Assert.Contains($"{path}:3", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void DuplicatedPairIsRefusedNamingBothLines()
    {
        var row = """{"prompt": "p", "chosen": "a", "rejected": "b"}""";
        var path = File("dup.jsonl", row, """{"prompt": "p", "chosen": "a", "rejected": "c"}""", row);
        var e = Assert.Throws<InvalidDataException>(() => PreferenceData.Read(path));
        Assert.Contains($"{path}:3: duplicated pair", e.Message);
        Assert.Contains($"{path}:1", e.Message);
    }

    [Fact]
    public void EmptyFileAndMissingFileAreRefused()
    {
        Assert.Contains("no preference pairs", Assert.Throws<InvalidDataException>(() => PreferenceData.Read(File("empty.jsonl", ""))).Message);
        Assert.Throws<FileNotFoundException>(() => PreferenceData.Read(Path.Combine(_dir, "absent.jsonl")));
    }

    [Fact]
    public void WritingRefusesBadPairsBeforeTouchingTheFile()
    {
        var path = Path.Combine(_dir, "out.jsonl");
        Assert.Throws<InvalidDataException>(() => PreferenceData.Write(path, [Pairs[0], Pairs[0]]));
        Assert.False(System.IO.File.Exists(path));
    }

    [Fact]
    public void SplitIsSeededDisjointAndComplete()
    {
        var pairs = Enumerable.Range(0, 20).Select(i => new PreferencePair($"p{i}", "a", "b")).ToList();
        var (train, heldOut) = PreferenceData.Split(pairs, 0.25, seed: 3);
        Assert.Equal(5, heldOut.Count);
        Assert.Equal(pairs.ToHashSet(), train.Concat(heldOut).ToHashSet());
        Assert.Equal(heldOut, PreferenceData.Split(pairs, 0.25, seed: 3).HeldOut);
    }

    [Fact]
    public void ShippedPreferenceSetLoadsAndPrefersTheNeutralSummaryOfEachArticle()
    {
        var data = OfflineAssets.DataDirectory();
        var train = PreferenceData.Read(Path.Combine(data, "preferences", "train.jsonl"));
        var test = PreferenceData.Read(Path.Combine(data, "preferences", "test.jsonl"));
        Assert.Equal(320, train.Count);
        Assert.Equal(92, test.Count);
        Assert.All(train.Concat(test), p => Assert.StartsWith("summarize: ", p.Prompt));
        Assert.Empty(train.Select(p => p.Prompt).Intersect(test.Select(p => p.Prompt)));
    }
}
