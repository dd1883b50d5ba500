using RlhfKit.Tokenization;

namespace RlhfKit.Benchmarks;

/// <summary>
/// A tokenizer for benchmarks with random-weight models: one token per white-space separated word, RoBERTa's
/// special ids (&lt;s&gt; 0, pad 1, &lt;/s&gt; 2, unk 3). A word <c>w123</c> maps to id 123 (when it lies in the vocabulary,
/// so decoding and re-encoding round-trips); any other word maps to a stable hash of itself. Token counts are what
/// matters for timing, not meaning.
/// </summary>
public sealed class SyntheticWordTokenizer : PreTrainedTokenizer
{
    const int Specials = 4;
    readonly int _vocab;

    public SyntheticWordTokenizer(int vocabSize)
    {
        if (vocabSize <= Specials) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"vocabSize must exceed {Specials}.");
        _vocab = vocabSize;
    }

    public override int PadTokenId => 1;
    public override int EosTokenId => 2;
    public override int? BosTokenId => 0;
    public override int UnkTokenId => 3;
    public override int VocabSize => _vocab;
    public override int NumSpecialTokensToAdd => 2;
    protected override IReadOnlyDictionary<string, int> SplitTokens { get; } = new Dictionary<string, int>();

    protected override void EncodePlain(string text, List<int> into)
    {
        foreach (var word in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)) into.Add(WordId(word));
    }

    int WordId(string word)
    {
        if (word.Length > 1 && word[0] == 'w' && int.TryParse(word.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            && id >= Specials && id < _vocab) return id;
        uint h = 2166136261; // FNV-1a
        foreach (var c in word) h = (h ^ c) * 16777619;
        return Specials + (int)(h % (uint)(_vocab - Specials));
    }

    protected override List<int> AddSpecialTokens(List<int> content) => [0, .. content, 2];

    public override bool IsSpecialToken(int id) => id < Specials;
    public override string IdToToken(int id) => id switch { 0 => "<s>", 1 => "<pad>", 2 => "</s>", 3 => "<unk>", _ => $"w{id}" };
    public override int? TokenToId(string token) => token switch { "<s>" => 0, "<pad>" => 1, "</s>" => 2, "<unk>" => 3, _ => WordId(token) };

    public override string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        string.Join(' ', ids.Where(i => !skipSpecialTokens || !IsSpecialToken(i)).Select(IdToToken));
}
