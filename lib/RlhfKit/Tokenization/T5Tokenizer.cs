using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace RlhfKit.Tokenization;

/// <summary>
/// T5 / FLAN-T5's tokenizer (HF <c>T5Tokenizer</c>, <c>legacy=True</c>): a SentencePiece model (<c>spiece.model</c>),
/// no BOS, <c>&lt;/s&gt;</c> appended, pad 0, and <c>extraIds</c> sentinels <c>&lt;extra_id_N&gt;</c> appended after the
/// SentencePiece vocabulary in reverse order (<c>&lt;extra_id_0&gt;</c> is the last id).
/// Special tokens written in the text (<c>&lt;extra_id_3&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>) become
/// their ids, as in HF, unless the tokenizer was made with <c>splitSpecialTokens: true</c> (HF <c>split_special_tokens</c>),
/// which gives the raw SentencePiece ids.
/// </summary>
public sealed class T5Tokenizer : PreTrainedTokenizer
{
    const char SpaceSymbol = '\u2581'; // ▁

    readonly SentencePieceTokenizer _sp;
    readonly SentencePieceModelFile _model;
    readonly Dictionary<string, int> _splitTokens;
    readonly HashSet<int> _specialIds;
    readonly Dictionary<string, int> _pieceIds;

    T5Tokenizer(SentencePieceTokenizer sp, SentencePieceModelFile model, int extraIds, bool splitSpecialTokens, int pad, int eos, int unk)
    {
        _sp = sp;
        _model = model;
        ExtraIds = extraIds;
        SplitSpecialTokens = splitSpecialTokens;
        PadTokenId = pad;
        EosTokenId = eos;
        UnkTokenId = unk;
        _pieceIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < model.Pieces.Count; i++) _pieceIds.TryAdd(model.Pieces[i], i);
        _specialIds = [pad, eos, unk];
        for (int n = 0; n < extraIds; n++) _specialIds.Add(SentinelTokenId(n));
        _splitTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!splitSpecialTokens)
        {
            foreach (var id in _specialIds) _splitTokens[IdToToken(id)] = id;
        }
    }

    public override int PadTokenId { get; }
    public override int EosTokenId { get; }
    public override int? BosTokenId => null;
    public override int UnkTokenId { get; }
    /// <summary>SentencePiece pieces plus the sentinels (HF <c>len(tokenizer)</c>).</summary>
    public override int VocabSize => _model.Pieces.Count + ExtraIds;
    public override int NumSpecialTokensToAdd => 1;
    /// <summary>The number of <c>&lt;extra_id_N&gt;</c> sentinels.</summary>
    public int ExtraIds { get; }
    /// <summary>The number of SentencePiece pieces (ids below this come from spiece.model).</summary>
    public int SentencePieceSize => _model.Pieces.Count;
    /// <summary>When true, special tokens written in the text are tokenized as plain text (raw SentencePiece).</summary>
    public bool SplitSpecialTokens { get; }

    protected override IReadOnlyDictionary<string, int> SplitTokens => _splitTokens;

    /// <summary>The most <c>extra_ids</c> sentinels accepted (T5 uses 100); more is a damaged tokenizer_config.json.</summary>
    public const int MaxExtraIds = 100_000;

    /// <summary>Loads <c>spiece.model</c>. <paramref name="extraIds"/> sentinels are appended after its pieces.</summary>
    public static T5Tokenizer FromFile(string spieceModelPath, int extraIds = 100, bool splitSpecialTokens = false, int modelMaxLength = 512,
        bool cleanUpTokenizationSpaces = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(extraIds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(extraIds, MaxExtraIds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelMaxLength);
        var bytes = TokenizerFiles.ReadRequired(spieceModelPath, "SentencePiece model");
        var full = Path.GetFullPath(spieceModelPath);
        var model = SentencePieceModelFile.Parse(bytes, full);
        int Check(int id, string name, string piece)
        {
            if (id < 0 || id >= model.Pieces.Count)
            {
                // Fall back to the piece text, as HF looks tokens up by name.
                var byName = model.Pieces.ToList().IndexOf(piece);
                if (byName >= 0) return byName;
                throw new InvalidDataException($"SentencePiece model '{full}' has no {name} token (trainer_spec id {id}, no '{piece}' piece); T5 needs one.");
            }
            return id;
        }
        var eos = Check(model.EosId, "end-of-sequence", "</s>");
        var pad = Check(model.PadId, "padding", "<pad>");
        var unk = Check(model.UnkId, "unknown", "<unk>");

        // Microsoft.ML.Tokenizers 2.0.1 indexes the pieces with bos_id even when BOS is off; T5 has bos_id = -1. Point it at an
        // existing piece (EOS): the tokenizer is created with addBeginningOfSentence = false, so that id is never emitted.
        var loadBytes = model.BosId >= 0 && model.BosId < model.Pieces.Count ? bytes : model.WithBosId(eos);
        SentencePieceTokenizer sp;
        try
        {
            using var stream = new MemoryStream(loadBytes, writable: false);
            sp = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (!TokenizerFiles.IsFatal(e))
        {
            throw new InvalidDataException($"SentencePiece model '{full}' could not be loaded: {e.GetType().Name}: {e.Message}", e);
        }
        return new T5Tokenizer(sp, model, extraIds, splitSpecialTokens, pad, eos, unk) { ModelMaxLength = modelMaxLength, CleanUpTokenizationSpaces = cleanUpTokenizationSpaces };
    }

    /// <summary>Loads <c>spiece.model</c> from an HF model folder, with <c>extra_ids</c> and <c>model_max_length</c> from
    /// <c>tokenizer_config.json</c> when present (defaults 100 and 512).</summary>
    public static T5Tokenizer FromPretrained(string folder)
    {
        TokenizerFiles.RequireFolder(folder);
        var config = TokenizerFiles.ReadOptionalJson(folder, "tokenizer_config.json");
        var extraIds = TokenizerFiles.Int(config, "extra_ids") ?? 100;
        if (extraIds is < 0 or > MaxExtraIds)
            throw new InvalidDataException(
                $"'{Path.GetFullPath(Path.Combine(folder, "tokenizer_config.json"))}': extra_ids {extraIds} is not a sentinel count (0 to {MaxExtraIds}; T5 uses 100).");
        return FromFile(Path.Combine(folder, "spiece.model"), extraIds, modelMaxLength: TokenizerFiles.ModelMaxLength(config, 512),
            cleanUpTokenizationSpaces: TokenizerFiles.Bool(config, "clean_up_tokenization_spaces") ?? true);
    }

    /// <summary>The id of <c>&lt;extra_id_<paramref name="n"/>&gt;</c> (HF: <c>len(sp) + extra_ids - 1 - n</c>).</summary>
    public int SentinelTokenId(int n)
    {
        if ((uint)n >= (uint)ExtraIds) throw new ArgumentOutOfRangeException(nameof(n), n, $"this tokenizer has {ExtraIds} sentinels.");
        return _model.Pieces.Count + ExtraIds - 1 - n;
    }

    protected override void EncodePlain(string text, List<int> into)
    {
        var normalized = NmtNormalize(text);
        if (normalized.Length == 0) return;
        var ids = _sp.EncodeToIds(normalized, addBeginningOfSentence: false, addEndOfSentence: false,
            considerPreTokenization: true, considerNormalization: true);
        // SentencePiece merges a run of unknown characters ("漢字", "öß") into one <unk>; Microsoft.ML.Tokenizers gives one per character.
        for (int i = 0; i < ids.Count; i++)
            if (ids[i] != UnkTokenId || i == 0 || ids[i - 1] != UnkTokenId) into.Add(ids[i]);
    }

    protected override List<int> AddSpecialTokens(List<int> content)
    {
        content.Add(EosTokenId);
        return content;
    }

    public override bool IsSpecialToken(int id) => _specialIds.Contains(id);

    public override string IdToToken(int id)
    {
        CheckId(id);
        return id < _model.Pieces.Count ? _model.Pieces[id] : $"<extra_id_{_model.Pieces.Count + ExtraIds - 1 - id}>";
    }

    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_pieceIds.TryGetValue(token, out var id)) return id;
        if (token.StartsWith("<extra_id_", StringComparison.Ordinal) && token.EndsWith('>') &&
            int.TryParse(token.AsSpan(10, token.Length - 11), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n < ExtraIds)
            return SentinelTokenId(n);
        return null;
    }

    /// <summary>HF <c>T5Tokenizer.decode</c> (legacy): SentencePiece text for ordinary pieces, special tokens written out
    /// (or dropped with <paramref name="skipSpecialTokens"/>, which also drops <c>&lt;unk&gt;</c>), trimmed, then (with
    /// <see cref="PreTrainedTokenizer.CleanUpTokenizationSpaces"/>, on unless tokenizer_config.json turns it off)
    /// transformers' <see cref="PreTrainedTokenizer.CleanUpTokenization"/>.</summary>
    public override string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<(string Piece, bool Special)>();
        foreach (var id in ids)
        {
            CheckId(id);
            var special = IsSpecialToken(id);
            if (special && skipSpecialTokens) continue;
            tokens.Add((IdToToken(id), special));
        }
        if (tokens.Count == 0) return "";
        if (!tokens[0].Special && tokens[0].Piece.Length > 0 && tokens[0].Piece[0] == SpaceSymbol) tokens[0] = (tokens[0].Piece[1..], false);

        var output = new StringBuilder();
        var pending = new List<string>();
        var previousSpecial = false;
        foreach (var (piece, special) in tokens)
        {
            if (special)
            {
                if (!previousSpecial) output.Append(' ');
                output.Append(DecodePieces(pending)).Append(piece);
                pending.Clear();
                previousSpecial = true;
            }
            else
            {
                pending.Add(piece);
                previousSpecial = false;
            }
        }
        output.Append(DecodePieces(pending));
        var text = output.ToString().Trim();
        return CleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }

    /// <summary>SentencePiece's decoding of ordinary pieces: ▁ becomes a space, the first piece's leading ▁ (the dummy prefix) is dropped.</summary>
    static string DecodePieces(List<string> pieces)
    {
        if (pieces.Count == 0) return "";
        var text = string.Concat(pieces);
        if (text.Length > 0 && text[0] == SpaceSymbol) text = text[1..];
        return text.Replace(SpaceSymbol, ' ');
    }

    /// <summary>
    /// The <c>nmt_nfkc</c> rule set that T5's spiece.model was trained with, applied before Microsoft.ML.Tokenizers (whose
    /// normalizer does not apply the model's precompiled character map): control characters removed, tab / line breaks /
    /// zero-width and other odd spaces made spaces, then Unicode NFKC. Collapsing runs of spaces and trimming is left to
    /// the SentencePiece normalizer.
    /// </summary>
    internal static string NmtNormalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\t' or '\n' or '\r' or '\f' or '\u1680' or '\u2028' or '\u2029' or SpaceSymbol or '\uFEFF' or '\uFFFD':
                case >= '\u200B' and <= '\u200F':
                    sb.Append(' ');
                    break;
                case <= '\u001F' or '\u007F' or '\u008F' or '\u009F':
                    break; // other C0 controls (and NUL) are removed
                default:
                    sb.Append(c);
                    break;
            }
        }
        var s = sb.ToString();
        try { return s.IsNormalized(NormalizationForm.FormKC) ? s : s.Normalize(NormalizationForm.FormKC); }
        catch (ArgumentException) { return s; } // not reachable after Sanitize; never fail on odd input
    }
}
