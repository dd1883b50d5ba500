using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Tokenization;

/// <summary>BertTokenizer on all-MiniLM-L6-v2's vocab.txt (the bert-base-uncased vocabulary).</summary>
public class BertTokenizerTests
{
    static BertTokenizer Tok => MiniLmVocab.Tokenizer;

    [Fact]
    public void ExampleSentenceMatchesHf()
    {
        Assert.Equal(new[] { 101, 2023, 2003, 2019, 2742, 6251, 102 }, Tok.Encode("This is an example sentence"));
        Assert.Equal(new[] { 2023, 2003, 2019, 2742, 6251 }, Tok.Encode("This is an example sentence", addSpecialTokens: false));
    }

    [Fact]
    public void SpecialIds()
    {
        Assert.Equal(101, Tok.ClsTokenId);
        Assert.Equal(102, Tok.SepTokenId);
        Assert.Equal(0, Tok.PadTokenId);
        Assert.Equal(100, Tok.UnkTokenId);
        Assert.Equal(103, Tok.MaskTokenId);
        Assert.Equal(101, Tok.BosTokenId);
        Assert.Equal(102, Tok.EosTokenId);
        Assert.Equal(30522, Tok.VocabSize);
        Assert.Equal("[CLS]", Tok.IdToToken(101));
        Assert.Equal(2023, Tok.TokenToId("this"));
    }

    [Fact]
    public void LowercasesAndStripsAccents()
    {
        var expected = Tok.Encode("this is an example sentence");
        Assert.Equal(expected, Tok.Encode("THIS IS AN EXAMPLE SENTENCE"));
        Assert.Equal(expected, Tok.Encode("Thís ís àn exämple séntence"));
        Assert.Equal(Tok.Encode("cafe"), Tok.Encode("Café"));
    }

    [Fact]
    public void TabsAndLineBreaksAreSpaces()
    {
        Assert.Equal(Tok.Encode("This is an example sentence"), Tok.Encode("This\tis\nan\r\nexample \t sentence"));
        Assert.NotEqual(Tok.Encode("this is"), Tok.Encode("thisis"));
        Assert.Equal(Tok.Encode("this is"), Tok.Encode("this\tis"));
    }

    [Fact]
    public void DecodeJoinsWordPieces()
    {
        Assert.Equal("this is an example sentence", Tok.Decode(Tok.Encode("This is an example sentence")));
        Assert.Equal("[CLS] this is an example sentence [SEP]", Tok.Decode(Tok.Encode("This is an example sentence"), skipSpecialTokens: false));
        Assert.Equal("hello, world! it's tokenization.", Tok.Decode(Tok.Encode("Hello, world! It's tokenization.")));
    }

    [Fact]
    public void TruncationKeepsClsAndSep()
    {
        Assert.Equal(new[] { 101, 2023, 2003, 102 }, Tok.Encode("This is an example sentence", maxLength: 4));
        Assert.Equal(new[] { 101, 102 }, Tok.Encode("This is an example sentence", maxLength: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Encode("x", maxLength: 1));
    }

    [Fact]
    public void SpecialTokensInTextAreKept()
    {
        Assert.Equal(new[] { 101, 2023, 103, 6251, 102 }, Tok.Encode("This [MASK] sentence"));
    }

    [Fact]
    public void BatchPadsWithZero()
    {
        using var batch = Tok.EncodeBatch(["This is an example sentence", "This"]);
        Assert.Equal(new long[] { 2, 7 }, batch.InputIds.shape);
        Assert.Equal(new long[] { 101, 2023, 2003, 2019, 2742, 6251, 102, 101, 2023, 102, 0, 0, 0, 0 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0 }, batch.AttentionMask.data<long>().ToArray());
    }

    [Fact]
    public void CasedModeKeepsCase()
    {
        using var folder = new TempFolder();
        var cased = BertTokenizer.FromVocab(MiniLmVocab.WriteTo(folder), doLowerCase: false);
        Assert.False(cased.DoLowerCase);
        Assert.Equal(new[] { 101, 2023, 102 }, cased.Encode("this"));
        Assert.NotEqual(cased.Encode("this"), cased.Encode("This")); // "This" is not in the uncased vocabulary
    }
}
