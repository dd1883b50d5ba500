using RlhfKit.Data;
using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Data;

public sealed class PromptedBatchTests
{
    static readonly Lazy<T5Tokenizer> Tokenizer = new(() => T5Tokenizer.FromFile(Fixtures.PathOf("spiece", "spiece.model")));

    [Fact]
    public void PromptIsTheWorkshopPrefix() =>
        Assert.Equal("summarize: The budget passed.", NewsDataset.Prompt("The budget passed."));

    [Fact]
    public void TokenizeShortArticleIsThePlainEncodingWithEos()
    {
        var tok = Tokenizer.Value;
        var ds = new NewsDataset([new NewsArticle("a", "The council approved the budget."), new NewsArticle("b", "Rain.")]);

        var batch = ds.Tokenize(tok);

        Assert.Equal(2, batch.Count);
        Assert.Equal(["summarize: The council approved the budget.", "summarize: Rain."], batch.Prompts);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(tok.Encode(batch.Prompts[i]).Select(x => (long)x), batch.QueryIds[i]);
            Assert.Equal(tok.EosTokenId, batch.QueryIds[i][^1]);
        }
        Assert.Same(ds[1], batch.Articles[1]);
    }

    [Fact]
    public void TokenizeLongArticleTruncatesToMaxLengthKeepingEos()
    {
        var tok = Tokenizer.Value;
        var text = string.Join(" ", Enumerable.Repeat("The quick brown fox jumps over the lazy dog.", 100));
        var full = tok.Encode(NewsDataset.Prompt(text)).Select(x => (long)x).ToArray();
        Assert.True(full.Length > 600, $"{full.Length} tokens");

        var ids = PromptedBatch.Create([new NewsArticle("long", text)], tok, maxLength: 16).QueryIds[0];

        Assert.Equal(16, ids.Length);
        Assert.Equal(tok.EosTokenId, ids[^1]);
        Assert.Equal(full[..15], ids[..15]);                  // the prompt's head is kept, the tail cut
        Assert.Equal(1, ids.Count(x => x == tok.EosTokenId));
        var atDefault = PromptedBatch.Create([new NewsArticle("long", text)], tok).QueryIds[0];
        Assert.Equal(512, atDefault.Length);
        Assert.Equal(tok.EosTokenId, atDefault[^1]);
    }

    [Fact]
    public void TokenizeMaxLengthWithoutRoomForTextIsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PromptedBatch.Create([new NewsArticle("a", "x")], Tokenizer.Value, maxLength: 1));
}
