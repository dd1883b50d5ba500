using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace RlhfKit.Tokenization;

/// <summary>
/// RoBERTa's byte-level BPE (HF <c>RobertaTokenizer</c>, <c>add_prefix_space=False</c>) from <c>vocab.json</c> and
/// <c>merges.txt</c>: <c>&lt;s&gt; … &lt;/s&gt;</c>, pad 1 in the usual vocabulary. A leading space is part of the next
/// word (<c>Ġ</c>). <c>ModelMaxLength</c> (512) counts the special tokens (RoBERTa has 514 positions, offset 2).
/// </summary>
public sealed class RobertaTokenizer : PreTrainedTokenizer
{
    readonly BpeTokenizer _bpe;
    readonly Dictionary<string, int> _vocab;
    readonly string[] _tokens;
    readonly Dictionary<string, int> _specials;
    readonly HashSet<int> _specialIds;

    RobertaTokenizer(BpeTokenizer bpe, Dictionary<string, int> vocab, Dictionary<string, int> specials)
    {
        _bpe = bpe;
        _vocab = vocab;
        _specials = specials;
        _specialIds = [.. specials.Values];
        _tokens = new string[vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab) _tokens[id] ??= token;
        BosTokenIdValue = specials["<s>"];
        EosTokenId = specials["</s>"];
        PadTokenId = specials["<pad>"];
        UnkTokenId = specials.TryGetValue("<unk>", out var unk) ? unk : -1;
    }

    int BosTokenIdValue { get; }
    public override int PadTokenId { get; }
    public override int EosTokenId { get; }
    public override int? BosTokenId => BosTokenIdValue;
    /// <summary>The <c>&lt;unk&gt;</c> id, or -1 when the vocabulary has none (byte-level BPE never needs it).</summary>
    public override int UnkTokenId { get; }
    /// <summary><c>&lt;mask&gt;</c>'s id, or null when the vocabulary has none.</summary>
    public int? MaskTokenId => _specials.TryGetValue("<mask>", out var id) ? id : null;
    public override int VocabSize => _tokens.Length;
    public override int NumSpecialTokensToAdd => 2;
    protected override IReadOnlyDictionary<string, int> SplitTokens => _specials;
    protected override bool StripsLeft(string specialToken) => specialToken == "<mask>"; // HF: AddedToken("<mask>", lstrip=True)

    /// <summary>Loads HF's <c>vocab.json</c> (token → id) and <c>merges.txt</c> (one "a b" merge a line, optional <c>#version</c> header).</summary>
    public static RobertaTokenizer FromFiles(string vocabJson, string mergesTxt, int modelMaxLength = 512)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelMaxLength);
        var vocabBytes = TokenizerFiles.ReadRequired(vocabJson, "RoBERTa vocabulary (vocab.json)");
        var mergesBytes = TokenizerFiles.ReadRequired(mergesTxt, "RoBERTa merges (merges.txt)");
        var vocabPath = Path.GetFullPath(vocabJson);
        var mergesPath = Path.GetFullPath(mergesTxt);

        Dictionary<string, int> vocab;
        if (!System.Text.Unicode.Utf8.IsValid(vocabBytes)) throw new InvalidDataException($"'{vocabPath}' is not valid UTF-8.");
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(vocabBytes)
                ?? throw new InvalidDataException($"'{vocabPath}' holds null, not a token → id object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{vocabPath}' is not a JSON object of token → id: {e.Message}", e);
        }
        if (vocab.Count == 0) throw new InvalidDataException($"'{vocabPath}' has no tokens.");
        if (vocab.Values.Any(id => id < 0)) throw new InvalidDataException($"'{vocabPath}' has a negative id.");
        if (vocab.Values.Max() >= 2 * vocab.Count + 1024)
            throw new InvalidDataException($"'{vocabPath}' has id {vocab.Values.Max()} for {vocab.Count} tokens; ids must be (nearly) consecutive.");
        foreach (var required in new[] { "<s>", "</s>", "<pad>" })
            if (!vocab.ContainsKey(required)) throw new InvalidDataException($"'{vocabPath}' has no '{required}' token (RoBERTa needs <s>, </s> and <pad>).");

        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(mergesBytes); }
        catch (DecoderFallbackException e) { throw new InvalidDataException($"'{mergesPath}' is not UTF-8 text.", e); }
        var merges = new List<string>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidDataException($"'{mergesPath}' line {i + 1} is not a merge of two tokens separated by one space: '{Shorten(line)}'.");
            merges.Add(line);
        }

        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in new[] { "<s>", "</s>", "<pad>", "<unk>", "<mask>" })
            if (vocab.TryGetValue(s, out var id)) specials[s] = id;

        BpeTokenizer bpe;
        try
        {
            var options = new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                PreTokenizer = RobertaPreTokenizer.Instance,
            };
            if (vocab.ContainsKey("<unk>")) options.UnknownToken = "<unk>";
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (!TokenizerFiles.IsFatal(e))
        {
            throw new InvalidDataException($"RoBERTa tokenizer files '{vocabPath}' / '{mergesPath}' could not be loaded: {e.GetType().Name}: {e.Message}", e);
        }
        return new RobertaTokenizer(bpe, vocab, specials) { ModelMaxLength = modelMaxLength };
    }

    /// <summary>Loads <c>vocab.json</c> and <c>merges.txt</c> from an HF model folder (<c>model_max_length</c> from
    /// tokenizer_config.json when present, else 512).</summary>
    public static RobertaTokenizer FromPretrained(string folder)
    {
        TokenizerFiles.RequireFolder(folder);
        var config = TokenizerFiles.ReadOptionalJson(folder, "tokenizer_config.json");
        return FromFiles(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"), TokenizerFiles.ModelMaxLength(config, 512));
    }

    protected override void EncodePlain(string text, List<int> into) =>
        into.AddRange(_bpe.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true));

    protected override List<int> AddSpecialTokens(List<int> content)
    {
        content.Insert(0, BosTokenIdValue);
        content.Add(EosTokenId);
        return content;
    }

    public override bool IsSpecialToken(int id) => _specialIds.Contains(id);

    public override string IdToToken(int id)
    {
        CheckId(id);
        return _tokens[id] ?? throw new ArgumentOutOfRangeException(nameof(id), id, $"id {id} is not used by the vocabulary.");
    }

    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _vocab.TryGetValue(token, out var id) ? id : null;
    }

    /// <summary>Byte-level decoding; special tokens written out unless <paramref name="skipSpecialTokens"/>. Spaces are
    /// kept as encoded (no HF <c>clean_up_tokenization_spaces</c>).</summary>
    public override string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var output = new StringBuilder();
        var run = new List<int>();
        foreach (var id in ids)
        {
            CheckId(id);
            if (_tokens[id] is null) throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} is not used by the vocabulary.");
            if (!IsSpecialToken(id)) { run.Add(id); continue; }
            Flush();
            if (!skipSpecialTokens) output.Append(_tokens[id]);
        }
        Flush();
        return output.ToString();

        void Flush()
        {
            if (run.Count == 0) return;
            output.Append(_bpe.Decode(run));
            run.Clear();
        }
    }

    static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
