using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Tokenization;

/// <summary>transformers' <c>clean_up_tokenization</c> (4.36), applied by decode when the tokenizer config's
/// <c>clean_up_tokenization_spaces</c> is true (its default): the decoded summaries are what the reward classifiers read.</summary>
public class CleanUpTokenizationTests
{
    [Theory]
    [InlineData("Hello .", "Hello.")]
    [InlineData("Why ?", "Why?")]
    [InlineData("Stop !", "Stop!")]
    [InlineData("red , green", "red, green")]
    [InlineData("rock ' n roll", "rock'n roll")]
    [InlineData("do n't", "don't")]
    [InlineData("I 'm", "I'm")]
    [InlineData("it 's", "it's")]
    [InlineData("we 've", "we've")]
    [InlineData("they 're", "they're")]
    // In transformers' order: " ." goes first, so " ' s." is then caught by " ' ".
    [InlineData("He said ' s .", "He said's.")]
    // Only a space before the mark is removed; one after it, and marks inside words, stay.
    [InlineData("a. b ,c 'd", "a. b,c 'd")]
    [InlineData("no change here", "no change here")]
    public void EachRuleRewritesOnlyItsPattern(string decoded, string expected) =>
        Assert.Equal(expected, PreTrainedTokenizer.CleanUpTokenization(decoded));

    static string Spiece => Fixtures.PathOf("spiece", "spiece.model");

    [Fact]
    public void T5DecodeCleansUpByDefaultAndNotWhenTheConfigSaysNo()
    {
        var raw = T5Tokenizer.FromFile(Spiece, cleanUpTokenizationSpaces: false);
        var hf = T5Tokenizer.FromFile(Spiece);
        const string text = "the council met , and the vote passed . did it ?";
        var ids = raw.Encode(text, addSpecialTokens: true);
        var plain = raw.Decode(ids);
        Assert.Contains(" ,", plain); // SentencePiece keeps the spaces the text had
        Assert.Equal(PreTrainedTokenizer.CleanUpTokenization(plain), hf.Decode(ids));
        Assert.Equal("the council met, and the vote passed. did it?", hf.Decode(ids));

        // tokenizer_config.json decides, as in transformers; absent means true.
        var folder = Directory.CreateTempSubdirectory("rlhfkit-cleanup-").FullName;
        File.Copy(Spiece, Path.Combine(folder, "spiece.model"));
        Assert.Equal(hf.Decode(ids), T5Tokenizer.FromPretrained(folder).Decode(ids));
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"clean_up_tokenization_spaces\": false, \"extra_ids\": 100}");
        Assert.Equal(plain, T5Tokenizer.FromPretrained(folder).Decode(ids));
    }

    [Fact]
    public void GeneratedIdsPastTheTokenizerDecodeToNothing()
    {
        // FLAN-T5's output layer has 32,128 rows for 32,100 tokenizer ids: sampling can draw ids no tokenizer knows.
        var tok = T5Tokenizer.FromFile(Spiece);
        var known = tok.Encode("the vote passed", addSpecialTokens: false).Select(i => (long)i).ToArray();
        long[] withUnknown = [known[0], tok.VocabSize + 3, .. known[1..], tok.VocabSize + 27, tok.EosTokenId];
        Assert.ThrowsAny<ArgumentException>(() => tok.Decode(withUnknown.Select(i => (int)i)));  // the tokenizer alone refuses them
        Assert.Equal(["the vote passed"], tok.Decode([withUnknown]));                                // the one decode path drops them
    }
}
