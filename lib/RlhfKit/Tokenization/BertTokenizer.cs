using System.Text;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;
using MlBertOptions = Microsoft.ML.Tokenizers.BertOptions;

namespace RlhfKit.Tokenization;

/// <summary>
/// BERT's WordPiece tokenizer (HF <c>BertTokenizer</c>) from <c>vocab.txt</c> (one token a line, id = line number):
/// <c>[CLS] … [SEP]</c>, pad <c>[PAD]</c>. Uncased models lowercase and strip accents. BERT has no BOS/EOS in HF;
/// here <see cref="BosTokenId"/> is <c>[CLS]</c> and <see cref="EosTokenId"/> is <c>[SEP]</c>, the tokens that
/// open and close every sequence.
/// </summary>
public sealed class BertTokenizer : PreTrainedTokenizer
{
    readonly MlBertTokenizer _wordPiece;
    readonly string[] _tokens;
    readonly Dictionary<string, int> _vocab;
    readonly Dictionary<string, int> _specials;
    readonly HashSet<int> _specialIds;

    BertTokenizer(MlBertTokenizer wordPiece, string[] tokens, Dictionary<string, int> vocab, Dictionary<string, int> specials, bool doLowerCase)
    {
        _wordPiece = wordPiece;
        _tokens = tokens;
        _vocab = vocab;
        _specials = specials;
        _specialIds = [.. specials.Values];
        DoLowerCase = doLowerCase;
        ClsTokenId = specials["[CLS]"];
        SepTokenId = specials["[SEP]"];
        PadTokenId = specials["[PAD]"];
        UnkTokenId = specials["[UNK]"];
    }

    public int ClsTokenId { get; }
    public int SepTokenId { get; }
    public int? MaskTokenId => _specials.TryGetValue("[MASK]", out var id) ? id : null;
    public bool DoLowerCase { get; }
    public override int PadTokenId { get; }
    public override int EosTokenId => SepTokenId;
    public override int? BosTokenId => ClsTokenId;
    public override int UnkTokenId { get; }
    public override int VocabSize => _tokens.Length;
    public override int NumSpecialTokensToAdd => 2;
    protected override IReadOnlyDictionary<string, int> SplitTokens => _specials;

    /// <summary>Loads <c>vocab.txt</c>. <paramref name="doLowerCase"/> (uncased models) also strips accents, as HF does by default.</summary>
    public static BertTokenizer FromVocab(string vocabTxt, bool doLowerCase = true, int modelMaxLength = 512, bool cleanUpTokenizationSpaces = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelMaxLength);
        var bytes = TokenizerFiles.ReadRequired(vocabTxt, "BERT vocabulary (vocab.txt)");
        var path = Path.GetFullPath(vocabTxt);
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException e) { throw new InvalidDataException($"'{path}' is not UTF-8 text.", e); }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1); // final newline
        var tokens = lines.ToArray();
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) vocab.TryAdd(tokens[i], i);

        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in new[] { "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]" })
        {
            if (vocab.TryGetValue(s, out var id)) specials[s] = id;
            else if (s != "[MASK]") throw new InvalidDataException($"'{path}' has no '{s}' line (a BERT vocabulary needs [CLS], [SEP], [PAD] and [UNK]).");
        }

        MlBertTokenizer wordPiece;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            wordPiece = MlBertTokenizer.Create(stream, new MlBertOptions
            {
                LowerCaseBeforeTokenization = doLowerCase,
                RemoveNonSpacingMarks = doLowerCase,
                ApplyBasicTokenization = true,
                IndividuallyTokenizeCjk = true,
            });
        }
        catch (Exception e) when (!TokenizerFiles.IsFatal(e))
        {
            throw new InvalidDataException($"BERT vocabulary '{path}' could not be loaded: {e.GetType().Name}: {e.Message}", e);
        }
        return new BertTokenizer(wordPiece, tokens, vocab, specials, doLowerCase) { ModelMaxLength = modelMaxLength, CleanUpTokenizationSpaces = cleanUpTokenizationSpaces };
    }

    /// <summary>Loads <c>vocab.txt</c> from an HF model folder; <c>do_lower_case</c> and <c>model_max_length</c> come from
    /// tokenizer_config.json when present (defaults true and 512).</summary>
    public static BertTokenizer FromPretrained(string folder)
    {
        TokenizerFiles.RequireFolder(folder);
        var config = TokenizerFiles.ReadOptionalJson(folder, "tokenizer_config.json");
        var lower = TokenizerFiles.Bool(config, "do_lower_case") ?? true;
        return FromVocab(Path.Combine(folder, "vocab.txt"), lower, TokenizerFiles.ModelMaxLength(config, 512),
            TokenizerFiles.Bool(config, "clean_up_tokenization_spaces") ?? true);
    }

    protected override void EncodePlain(string text, List<int> into)
    {
        // Microsoft.ML.Tokenizers deletes tab and line breaks instead of treating them as white space (HF does the latter).
        var cleaned = text.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
        if (string.IsNullOrWhiteSpace(cleaned)) return;
        into.AddRange(_wordPiece.EncodeToIds(cleaned, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true));
    }

    protected override List<int> AddSpecialTokens(List<int> content)
    {
        content.Insert(0, ClsTokenId);
        content.Add(SepTokenId);
        return content;
    }

    public override bool IsSpecialToken(int id) => _specialIds.Contains(id);

    public override string IdToToken(int id)
    {
        CheckId(id);
        return _tokens[id];
    }

    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _vocab.TryGetValue(token, out var id) ? id : null;
    }

    /// <summary>HF's WordPiece decoding: tokens joined by spaces, <c>##</c> continuations glued on, then (with
    /// <see cref="PreTrainedTokenizer.CleanUpTokenizationSpaces"/>) HF's <c>clean_up_tokenization</c>.</summary>
    public override string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (var id in ids)
        {
            CheckId(id);
            if (skipSpecialTokens && IsSpecialToken(id)) continue;
            tokens.Add(_tokens[id]);
        }
        var text = string.Join(' ', tokens).Replace(" ##", "").Trim();
        return CleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }
}
