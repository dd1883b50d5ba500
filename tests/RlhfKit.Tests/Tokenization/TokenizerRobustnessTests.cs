using System.Text.Json;
using RlhfKit.Tokenization;
using TorchSharp;

namespace RlhfKit.Tests.Tokenization;

/// <summary>Bad files, bad arguments, odd text, batches, and AutoTokenizer, across the three tokenizers.</summary>
public class TokenizerRobustnessTests
{
    static string Spiece => Fixtures.PathOf("spiece", "spiece.model");
    static readonly Lazy<T5Tokenizer> T5 = new(() => T5Tokenizer.FromFile(Spiece));

    public static TheoryData<string> Kinds => new() { "t5", "roberta", "bert" };

    static PreTrainedTokenizer Get(string kind) => kind switch
    {
        "t5" => T5.Value,
        "roberta" => TinyRoberta.Create(),
        _ => MiniLmVocab.Tokenizer,
    };

    // ---- files ----

    [Fact]
    public void MissingSpieceModelNamesTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nope-{Guid.NewGuid():N}", "spiece.model");
        var e = Assert.Throws<FileNotFoundException>(() => T5Tokenizer.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FileName);
    }

    [Fact]
    public void EmptySpieceModelIsReported()
    {
        using var folder = new TempFolder();
        var path = folder.Write("spiece.model", []);
        var e = Assert.Throws<InvalidDataException>(() => T5Tokenizer.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Theory]
    [InlineData("text")]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("json")]
    public void CorruptSpieceModelIsReported(string how)
    {
        using var folder = new TempFolder();
        var real = File.ReadAllBytes(Spiece);
        byte[] bytes = how switch
        {
            "text" => "this is not a sentencepiece model\n"u8.ToArray(),
            "truncated" => real[..(real.Length / 2)],
            "garbage" => Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray(),
            _ => "{\"model\": \"t5\"}"u8.ToArray(),
        };
        var path = folder.Write("spiece.model", bytes);
        var e = Assert.Throws<InvalidDataException>(() => T5Tokenizer.FromFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void RobertaFileErrorsNameTheFile()
    {
        using var folder = new TempFolder();
        var (vocab, merges) = TinyRoberta.WriteTo(folder);

        var missing = folder.File("missing.json");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => RobertaTokenizer.FromFiles(missing, merges)).Message);

        var badJson = folder.Write("bad.json", "{\"<s>\": 0, ");
        Assert.Contains(badJson, Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromFiles(badJson, merges)).Message);

        var notMap = folder.Write("list.json", "[1, 2, 3]");
        Assert.Contains(notMap, Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromFiles(notMap, merges)).Message);

        var noSpecials = folder.Write("nospecial.json", "{\"a\": 0, \"b\": 1}");
        var e = Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromFiles(noSpecials, merges));
        Assert.Contains(noSpecials, e.Message);
        Assert.Contains("<s>", e.Message);

        var emptyMerges = folder.Write("empty.txt", "");
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromFiles(vocab, emptyMerges)).Message);

        var badMerges = folder.Write("badmerges.txt", "#version: 0.2\nh e\nthis line has four parts\n");
        e = Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromFiles(vocab, badMerges));
        Assert.Contains(badMerges, e.Message);
        Assert.Contains("line 3", e.Message);
    }

    [Fact]
    public void BertFileErrorsNameTheFile()
    {
        using var folder = new TempFolder();
        var missing = folder.File("vocab.txt");
        Assert.Equal(missing, Assert.Throws<FileNotFoundException>(() => BertTokenizer.FromVocab(missing)).FileName);

        var empty = folder.Write("empty.txt", "\n\n");
        Assert.Contains(empty, Assert.Throws<InvalidDataException>(() => BertTokenizer.FromVocab(empty)).Message);

        var noCls = folder.Write("nocls.txt", "[PAD]\n[UNK]\n[SEP]\nhello\n");
        var e = Assert.Throws<InvalidDataException>(() => BertTokenizer.FromVocab(noCls));
        Assert.Contains(noCls, e.Message);
        Assert.Contains("[CLS]", e.Message);
    }

    // ---- arguments and odd text ----

    [Theory]
    [MemberData(nameof(Kinds))]
    public void NullTextIsRejected(string kind)
    {
        var tok = Get(kind);
        Assert.Throws<ArgumentNullException>(() => tok.Encode(null!));
        var e = Assert.Throws<ArgumentNullException>(() => tok.EncodeBatch(["fine", null!, "also fine"]));
        Assert.Equal("texts", e.ParamName);
        Assert.Contains("texts[1]", e.Message);
        Assert.Throws<ArgumentNullException>(() => tok.EncodeBatch(null!));
        Assert.Throws<ArgumentNullException>(() => tok.Decode(null!));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void OddTextDoesNotCrash(string kind)
    {
        var tok = Get(kind);
        var texts = new[]
        {
            "", " ", "\t\n\r", "\0", "a\u0000b\u0001c\u001fd\u007fe\u0085f", "\u200b\ufeff", "😀😀 🤖 family: 👨‍👩‍👧", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "lone \ud800 high", "lone \udc00 low", "\ud83d", "<extra_id_", "<s", "[MASK", "漢字かなカナ", "ﷺ", new string('x', 5000),
            string.Concat(Enumerable.Repeat("The cat reads a book quickly. ", 3000)),
        };
        foreach (var text in texts)
        {
            var ids = tok.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
            Assert.NotNull(tok.Decode(ids));
            Assert.NotNull(tok.Decode(ids, skipSpecialTokens: false));
            Assert.Equal(tok.NumSpecialTokensToAdd + 5, tok.Encode(text + " and more words here please", maxLength: tok.NumSpecialTokensToAdd + 5).Count);
        }
    }

    [Fact]
    public void T5MapsEmojiToUnknown()
    {
        var ids = T5.Value.Encode("😀");
        Assert.Contains(T5.Value.UnkTokenId, ids);
        Assert.Equal(T5.Value.EosTokenId, ids[^1]);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void DecodeRejectsIdsOutsideTheVocabulary(string kind)
    {
        var tok = Get(kind);
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([5, -100]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([tok.VocabSize]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.IdToToken(-1));
    }

    // ---- batches ----

    [Theory]
    [MemberData(nameof(Kinds))]
    public void BatchShapesPaddingAndMasks(string kind)
    {
        var tok = Get(kind);
        string[] texts = ["The cat reads a book quickly.", "", "Hello world!", "x y z"];
        using var batch = tok.EncodeBatch(texts);
        var singles = texts.Select(t => tok.Encode(t)).ToList();
        var width = singles.Max(s => s.Count);
        Assert.Equal(new long[] { texts.Length, width }, batch.InputIds.shape);
        Assert.Equal(new long[] { texts.Length, width }, batch.AttentionMask.shape);
        Assert.Equal(torch.int64, batch.InputIds.dtype);
        var ids = batch.InputIds.data<long>().ToArray();
        var mask = batch.AttentionMask.data<long>().ToArray();
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(singles[i].Count, batch.Lengths[i]);
            Assert.Equal(singles[i], batch.InputIdsList[i].Take(singles[i].Count));
            for (int j = 0; j < width; j++)
            {
                var real = j < singles[i].Count;
                Assert.Equal(real ? singles[i][j] : tok.PadTokenId, ids[i * width + j]);
                Assert.Equal(real ? 1 : 0, mask[i * width + j]);
                Assert.Equal(real ? 1 : 0, batch.AttentionMaskList[i][j]);
            }
        }
        var decoded = tok.DecodeBatch(batch.InputIds);
        Assert.Equal(texts.Length, decoded.Count);
        Assert.Equal(singles.Select(s => tok.Decode(s)), decoded);
    }

    [Fact]
    public void BatchTruncatesEveryRow()
    {
        using var batch = T5.Value.EncodeBatch(["The cat reads a book quickly.", "a"], maxLength: 4);
        Assert.Equal(new long[] { 2, 4 }, batch.InputIds.shape);
        Assert.Equal(T5.Value.Encode("The cat reads a book quickly.", maxLength: 4), batch.InputIdsList[0]);
        Assert.Equal(new[] { 10, 1, 0, 0 }, batch.InputIdsList[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => T5.Value.EncodeBatch(["a"], maxLength: 0));
    }

    [Fact]
    public void UnpaddedBatchKeepsListsAndRefusesRaggedTensors()
    {
        using var batch = T5.Value.EncodeBatch(["The cat reads a book quickly.", "a"], padding: false);
        Assert.Equal(T5.Value.Encode("a"), batch.InputIdsList[1]);
        Assert.Equal([1, 1], batch.AttentionMaskList[1]);
        var e = Assert.Throws<InvalidOperationException>(() => batch.InputIds);
        Assert.Contains("padding", e.Message);

        using var same = T5.Value.EncodeBatch(["a", "a"], padding: false);
        Assert.Equal(new long[] { 2, 2 }, same.InputIds.shape);
    }

    [Fact]
    public void EmptyBatch()
    {
        using var batch = T5.Value.EncodeBatch([]);
        Assert.Equal(0, batch.BatchSize);
        Assert.Equal(new long[] { 0, 0 }, batch.InputIds.shape);
        Assert.Throws<KeyNotFoundException>(() => batch["labels"]);
    }

    [Fact]
    public void DecodeBatchOfOneDimensionalTensor()
    {
        var ids = T5.Value.Encode("Hello world!");
        using var t = torch.tensor(ids.Select(i => (long)i).ToArray());
        Assert.Equal(["Hello world!"], T5.Value.DecodeBatch(t));
        Assert.Equal(["Hello world!"], T5.Value.DecodeBatch(new[] { ids }));
    }

    // ---- AutoTokenizer ----

    [Fact]
    public void AutoTokenizerChoosesByFiles()
    {
        using (var t5 = new TempFolder())
        {
            File.Copy(Spiece, t5.File("spiece.model"));
            var tok = AutoTokenizer.FromPretrained(t5.Path);
            Assert.IsType<T5Tokenizer>(tok);
            Assert.Equal(T5.Value.Encode("Hello world!"), tok.Encode("Hello world!"));
        }
        using (var roberta = new TempFolder())
        {
            TinyRoberta.WriteTo(roberta);
            Assert.IsType<RobertaTokenizer>(AutoTokenizer.FromPretrained(roberta.Path));
        }
        using (var bert = new TempFolder())
        {
            MiniLmVocab.WriteTo(bert);
            var tok = AutoTokenizer.FromPretrained(bert.Path);
            Assert.IsType<BertTokenizer>(tok);
            Assert.Equal(new[] { 101, 2023, 2003, 2019, 2742, 6251, 102 }, tok.Encode("This is an example sentence"));
        }
    }

    [Fact]
    public void AutoTokenizerReadsConfigs()
    {
        using var folder = new TempFolder();
        File.Copy(Spiece, folder.File("spiece.model"));
        MiniLmVocab.WriteTo(folder);
        folder.Write("config.json", JsonSerializer.Serialize(new { model_type = "bert" }));
        Assert.IsType<BertTokenizer>(AutoTokenizer.FromPretrained(folder.Path));

        folder.Write("config.json", JsonSerializer.Serialize(new { model_type = "t5" }));
        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new { extra_ids = 10, model_max_length = 128 }));
        var t5 = Assert.IsType<T5Tokenizer>(AutoTokenizer.FromPretrained(folder.Path));
        Assert.Equal(10, t5.ExtraIds);
        Assert.Equal(128, t5.ModelMaxLength);
        Assert.Equal(t5.SentencePieceSize + 9, t5.SentinelTokenId(0));

        folder.Write("tokenizer_config.json", JsonSerializer.Serialize(new { tokenizer_class = "BertTokenizerFast", do_lower_case = true, model_max_length = 1e30 }));
        var bert = Assert.IsType<BertTokenizer>(AutoTokenizer.FromPretrained(folder.Path));
        Assert.Equal(512, bert.ModelMaxLength);
    }

    [Fact]
    public void AutoTokenizerErrors()
    {
        using var folder = new TempFolder();
        Assert.Throws<DirectoryNotFoundException>(() => AutoTokenizer.FromPretrained(folder.File("missing")));
        var e = Assert.Throws<FileNotFoundException>(() => AutoTokenizer.FromPretrained(folder.Path));
        Assert.Contains("spiece.model", e.Message);

        // config says T5 but only a BERT vocabulary is there: the missing spiece.model is named.
        MiniLmVocab.WriteTo(folder);
        folder.Write("config.json", JsonSerializer.Serialize(new { model_type = "t5" }));
        e = Assert.Throws<FileNotFoundException>(() => AutoTokenizer.FromPretrained(folder.Path));
        Assert.Equal(folder.File("spiece.model"), e.FileName);

        folder.Write("config.json", "{ not json");
        Assert.Contains("config.json", Assert.Throws<InvalidDataException>(() => AutoTokenizer.FromPretrained(folder.Path)).Message);

        // vocab.json without merges.txt
        using var half = new TempFolder();
        half.Write("vocab.json", JsonSerializer.Serialize(TinyRoberta.Vocab()));
        Assert.Equal(half.File("merges.txt"), Assert.Throws<FileNotFoundException>(() => AutoTokenizer.FromPretrained(half.Path)).FileName);
    }
}
