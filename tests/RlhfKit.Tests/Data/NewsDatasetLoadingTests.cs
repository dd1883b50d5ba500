using RlhfKit.Data;
using RlhfKit.Tests.Tokenization;

namespace RlhfKit.Tests.Data;

public sealed class NewsDatasetLoadingTests
{
    // ---- JSONL ----

    [Fact]
    public void JsonlReadsCorpusFieldsSkipsBlankLinesDefaultsIds()
    {
        using var dir = new TempFolder();
        var path = dir.Write("train.jsonl",
            "{\"id\": \"n1\", \"text\": \"Markets rallied.\", \"summary\": \"Stocks up.\", \"topic\": \"business\"}\n" +
            "\n" +
            "{\"text\": \"Rain in Paris \\u00e9t\\u00e9.\", \"extra\": [1, 2]}\r\n" +
            "{\"id\": 42, \"text\": \"Numbered.\", \"summary\": null}\n");

        var ds = NewsDataset.FromJsonl(path);

        Assert.Equal(3, ds.Count);
        Assert.Equal(new NewsArticle("n1", "Markets rallied.", "Stocks up.", "business"), ds[0]);
        Assert.Equal(new NewsArticle("train-1", "Rain in Paris été."), ds[1]);
        Assert.Equal(new NewsArticle("42", "Numbered."), ds[2]);
    }

    [Fact]
    public void JsonlBadJsonNamesFileAndLine()
    {
        using var dir = new TempFolder();
        var path = dir.Write("bad.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": \"unterminated}\n");
        var e = Assert.Throws<InvalidDataException>(() => NewsDataset.FromJsonl(path));
        Assert.Contains($"{path}:3", e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void JsonlMissingTextNamesFileLineAndKeys()
    {
        using var dir = new TempFolder();
        var path = dir.Write("bad.jsonl", "{\"text\": \"ok\"}\n{\"id\": \"x\", \"body\": \"wrong key\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => NewsDataset.FromJsonl(path));
        Assert.Contains($"{path}:2", e.Message);
        Assert.Contains("no \"text\"", e.Message);
        Assert.Contains("body", e.Message);
    }

    [Theory]
    [InlineData("{\"text\": 5}", "\"text\" must be a string")]
    [InlineData("[\"text\"]", "expected a JSON object")]
    [InlineData("{\"text\": \"t\", \"id\": [1]}", "\"id\" must be a string or a number")]
    [InlineData("{\"text\": \"t\", \"topic\": 3}", "\"topic\" must be a string")]
    public void JsonlWrongTypesAreNamed(string line, string expected)
    {
        using var dir = new TempFolder();
        var path = dir.Write("bad.jsonl", line + "\n");
        var e = Assert.Throws<InvalidDataException>(() => NewsDataset.FromJsonl(path));
        Assert.Contains($"{path}:1", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void JsonlMissingFileIsFileNotFound()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nope-{Guid.NewGuid():N}.jsonl");
        var e = Assert.Throws<FileNotFoundException>(() => NewsDataset.FromJsonl(path));
        Assert.Contains(path, e.Message);
    }

    // ---- parquet ----

    [Fact]
    public void ParquetReadsTextAndIdAcrossRowGroups()
    {
        using var dir = new TempFolder();
        var path = dir.Write("news.parquet", DataTestFiles.Parquet(new Dictionary<string, string?[]>
        {
            ["id"] = ["x0", "x1", null, "x3", "x4"],
            ["text"] = ["zero", "one ünïcode", "two", "three", "four"],
            ["prediction_agent"] = ["bart", "bart", "bart", "bart", "bart"],
        }, rowGroupSize: 2));

        var ds = NewsDataset.FromParquet(path);

        Assert.Equal(["zero", "one ünïcode", "two", "three", "four"], ds.Select(a => a.Text));
        Assert.Equal(["x0", "x1", "news-2", "x3", "x4"], ds.Select(a => a.Id)); // a null id falls back to the row
        Assert.All(ds, a => Assert.Null(a.Summary));
    }

    [Fact]
    public void ParquetOtherTextColumnAndSummaryColumn()
    {
        using var dir = new TempFolder();
        var path = dir.Write("other.parquet", DataTestFiles.Parquet(new Dictionary<string, string?[]>
        {
            ["article"] = ["a", "b"],
            ["highlights"] = ["sa", "sb"],
        }));

        var ds = NewsDataset.FromParquet(path, textColumn: "article", summaryColumn: "highlights");

        Assert.Equal([new NewsArticle("other-0", "a", "sa"), new NewsArticle("other-1", "b", "sb")], ds);
    }

    [Fact]
    public void ParquetMissingColumnNamesFileAndListsColumns()
    {
        using var dir = new TempFolder();
        var path = dir.Write("news.parquet", DataTestFiles.NewsParquet("a", "b"));
        var e = Assert.Throws<InvalidDataException>(() => NewsDataset.FromParquet(path, textColumn: "article"));
        Assert.Contains(path, e.Message);
        Assert.Contains("'article'", e.Message);
        Assert.Contains("text, prediction_agent", e.Message);
    }

    [Fact]
    public void ParquetNullTextNamesRow()
    {
        using var dir = new TempFolder();
        var path = dir.Write("nulls.parquet", DataTestFiles.Parquet(new Dictionary<string, string?[]> { ["text"] = ["a", null] }));
        var e = Assert.Throws<InvalidDataException>(() => NewsDataset.FromParquet(path));
        Assert.Contains("row 1", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ParquetNotParquetIsInvalidData()
    {
        using var dir = new TempFolder();
        var path = dir.Write("fake.parquet", "{\"text\": \"this is JSON, not parquet\"}");
        var e = Assert.Throws<InvalidDataException>(() => NewsDataset.FromParquet(path));
        Assert.Contains(path, e.Message);
    }

    // ---- offline corpus ----

    static string Corpus(TempFolder dir, params string[] splits)
    {
        var news = Path.Combine(dir.Path, "data", "news");
        Directory.CreateDirectory(news);
        foreach (var split in splits)
            File.WriteAllText(Path.Combine(news, split + ".jsonl"),
                $"{{\"id\": \"{split}-a\", \"text\": \"{split} article\", \"summary\": \"s\", \"topic\": \"world\"}}\n");
        return news;
    }

    [Fact]
    public void OfflineDataDirAcceptsSplitFolderOrCheckout()
    {
        using var dir = new TempFolder();
        var news = Corpus(dir, "train", "validation", "test");

        Assert.Equal("validation article", NewsDataset.LoadOffline("validation", news)[0].Text);
        Assert.Equal("test-a", NewsDataset.LoadOffline("test", dir.Path)[0].Id);
    }

    [Fact]
    public void OfflineSearchesUpFromStartFolders()
    {
        using var dir = new TempFolder();
        Corpus(dir, "train");
        var deep = Directory.CreateDirectory(Path.Combine(dir.Path, "bin", "Debug", "net10.0")).FullName;

        var found = NewsDataset.FindOfflineSplit("train", null, _ => null, [Path.GetTempPath(), deep]);

        Assert.Equal(Path.Combine(dir.Path, "data", "news", "train.jsonl"), found);
    }

    [Fact]
    public void OfflineEnvironmentVariableWinsOverSearch()
    {
        using var dir = new TempFolder();
        var news = Corpus(dir, "train");
        string? Env(string name) => name == NewsDataset.DataDirEnvironmentVariable ? news : null;

        Assert.Equal(Path.Combine(news, "train.jsonl"), NewsDataset.FindOfflineSplit("train", null, Env, []));
    }

    [Fact]
    public void OfflineNotFoundListsPlacesAndAvailableSplits()
    {
        using var dir = new TempFolder();
        var news = Corpus(dir, "train", "test");

        var e = Assert.Throws<FileNotFoundException>(() => NewsDataset.LoadOffline("validation", news));
        Assert.Contains("'validation'", e.Message);
        Assert.Contains(Path.Combine(news, "validation.jsonl"), e.Message);
        Assert.Contains("Splits found there: test, train", e.Message);
        Assert.Contains(NewsDataset.DataDirEnvironmentVariable, e.Message);

        using var empty = new TempFolder();
        var e2 = Assert.Throws<FileNotFoundException>(() => NewsDataset.FindOfflineSplit("train", null, _ => null, [empty.Path]));
        Assert.Contains(Path.Combine(empty.Path, "data", "news", "train.jsonl"), e2.Message);
    }

    [Theory]
    [InlineData("../train")]
    [InlineData("a/b")]
    [InlineData("")]
    public void OfflineRejectsPathLikeSplits(string split) =>
        Assert.Throws<ArgumentException>(() => NewsDataset.LoadOffline(split, Path.GetTempPath()));
}
