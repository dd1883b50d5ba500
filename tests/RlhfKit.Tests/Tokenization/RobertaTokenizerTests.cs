using RlhfKit.Tokenization;
using TorchSharp;
using static RlhfKit.Tests.Tokenization.TinyRoberta;

namespace RlhfKit.Tests.Tokenization;

/// <summary>RobertaTokenizer on a hand-built byte-level vocabulary whose outputs can be derived by hand.</summary>
public class RobertaTokenizerTests
{
    static readonly RobertaTokenizer Tok = Create();
    static readonly int T = ByteId('t'), Space = ByteIdOf(' '), A = ByteId('a');

    [Fact]
    public void SpecialIdsAndSizes()
    {
        Assert.Equal(Bos, Tok.BosTokenId);
        Assert.Equal(Eos, Tok.EosTokenId);
        Assert.Equal(Pad, Tok.PadTokenId);
        Assert.Equal(Unk, Tok.UnkTokenId);
        Assert.Equal(Mask, Tok.MaskTokenId);
        Assert.Equal(Mask + 1, Tok.VocabSize);
        Assert.Equal(512, Tok.ModelMaxLength);
        Assert.Equal(2, Tok.NumSpecialTokensToAdd);
        Assert.Equal("Ġ", Tok.IdToToken(Space));
        Assert.Equal(GThe, Tok.TokenToId("Ġthe"));
    }

    [Fact]
    public void WrapsInBosAndEos()
    {
        // "the": t h e -> merge (h, e) -> [t, he]; there is no (t, he) merge.
        Assert.Equal([Bos, T, He, Eos], Tok.Encode("the"));
        Assert.Equal([T, He], Tok.Encode("the", addSpecialTokens: false));
    }

    [Fact]
    public void LeadingSpaceBelongsToTheNextWord()
    {
        // " the": Ġ t h e -> (h,e) -> (Ġ,t) -> (Ġt,he) = Ġthe.
        Assert.Equal([Bos, GThe, Eos], Tok.Encode(" the"));
        // No prefix space is added at the start (add_prefix_space = False): "the the" = [t, he, Ġthe].
        Assert.Equal([Bos, T, He, GThe, Eos], Tok.Encode("the the"));
        // " low": Ġ l o w -> (l,o) -> (lo,w); (Ġ, low) is no merge.
        Assert.Equal([Bos, T, He, Space, Low, Eos], Tok.Encode("the low"));
        Assert.Equal([Bos, Low, Eos], Tok.Encode("low"));
        // Two spaces: the first stands alone, the second goes with the word.
        Assert.Equal([Bos, A, Space, GThe, Eos], Tok.Encode("a  the"));
    }

    [Fact]
    public void DecodeIsByteExact()
    {
        foreach (var text in new[] { "the low", " the  the ", "Hello, wörld 😀\tthe\nlow", "", "\u0001\u007f", "漢字" })
        {
            var ids = Tok.Encode(text);
            Assert.Equal(text, Tok.Decode(ids));
            Assert.Equal("<s>" + text + "</s>", Tok.Decode(ids, skipSpecialTokens: false));
        }
        // Non-ASCII goes through its UTF-8 bytes: é = C3 A9.
        Assert.Equal([Bos, ByteIdOf(0xC3), ByteIdOf(0xA9), Eos], Tok.Encode("é"));
        // An emoji (outside the BMP) is its four UTF-8 bytes.
        Assert.Equal(6, Tok.Encode("😀").Count);
    }

    [Fact]
    public void SpecialTokensInTextAreSplitAndMaskEatsTheSpaceBefore()
    {
        Assert.Equal([Bos, T, He, Mask, Eos], Tok.Encode("the <mask>"));
        Assert.Equal([Bos, Bos, T, He, Eos, Eos], Tok.Encode("<s>the</s>"));
        Assert.Equal([Bos, T, He, Pad, GThe, Eos], Tok.Encode("the<pad> the"));
        Assert.Equal("the the", Tok.Decode(Tok.Encode("the<pad> the")));
    }

    [Fact]
    public void TruncationKeepsBothSpecialTokens()
    {
        // content [t, he, Ġthe, Ġthe] is cut to maxLength - 2 = 2 ids.
        Assert.Equal([Bos, T, He, Eos], Tok.Encode("the the the", maxLength: 4));
        Assert.Equal([Bos, Eos], Tok.Encode("the the the", maxLength: 2));
        Assert.Equal([T, He, GThe], Tok.Encode("the the the", addSpecialTokens: false, maxLength: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Encode("the", maxLength: 1));
        // Truncation to the model's limit: 512 ids, specials included.
        var ids = Tok.Encode(string.Concat(Enumerable.Repeat(" the", 2000)), maxLength: Tok.ModelMaxLength);
        Assert.Equal(512, ids.Count);
        Assert.Equal(Bos, ids[0]);
        Assert.Equal(Eos, ids[^1]);
    }

    [Fact]
    public void BatchIsRightPaddedWithPadOne()
    {
        using var batch = Tok.EncodeBatch(["the", "the the the", " the"]);
        Assert.Equal(3, batch.BatchSize);
        Assert.Equal(6, batch.SequenceLength);
        Assert.Equal([4, 6, 3], batch.Lengths);
        Assert.Equal(new long[] { 3, 6 }, batch.InputIds.shape);
        Assert.Equal(torch.int64, batch.InputIds.dtype);
        Assert.Equal(torch.int64, batch.AttentionMask.dtype);
        Assert.Equal(new long[] { Bos, T, He, Eos, Pad, Pad, Bos, T, He, GThe, GThe, Eos, Bos, GThe, Eos, Pad, Pad, Pad },
            batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }, batch.AttentionMask.data<long>().ToArray());
        Assert.Same(batch.InputIds, batch["input_ids"]);
        Assert.Same(batch.AttentionMask, batch["attention_mask"]);
        Assert.Equal(["the", "the the the", " the"], Tok.DecodeBatch(batch.InputIds));
    }
}
