using System.Text;
using TorchSharp;

namespace RlhfKit.Tokenization;

/// <summary>
/// What the kit needs from a Hugging Face style tokenizer: ids with the model's special tokens, truncation that keeps
/// them, decoding, and padded batches as TorchSharp tensors. Implemented by <see cref="T5Tokenizer"/>,
/// <see cref="RobertaTokenizer"/> and <see cref="BertTokenizer"/>; <see cref="AutoTokenizer"/> picks one for a folder.
/// </summary>
public interface IHfTokenizer
{
    /// <summary>The id used to pad batches (right padding).</summary>
    int PadTokenId { get; }
    /// <summary>The end-of-sequence id (T5 <c>&lt;/s&gt;</c>, RoBERTa <c>&lt;/s&gt;</c>; BERT: <c>[SEP]</c>).</summary>
    int EosTokenId { get; }
    /// <summary>The beginning-of-sequence id, or null where the model has none (T5). BERT: <c>[CLS]</c>.</summary>
    int? BosTokenId { get; }
    int UnkTokenId { get; }
    /// <summary>Every id the tokenizer can produce is below this (HF <c>len(tokenizer)</c>).</summary>
    int VocabSize { get; }
    /// <summary>The longest input the model accepts, special tokens included.</summary>
    int ModelMaxLength { get; }
    /// <summary>How many special tokens <see cref="Encode"/> adds to one sequence (T5 1, RoBERTa and BERT 2).</summary>
    int NumSpecialTokensToAdd { get; }

    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, int? maxLength = null);
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);
    BatchEncoding EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null, bool padding = true);
    IReadOnlyList<string> DecodeBatch(torch.Tensor ids, bool skipSpecialTokens = true);
    bool IsSpecialToken(int id);
    string IdToToken(int id);
    int? TokenToId(string token);
}

/// <summary>Shared behaviour: special-token splitting, truncation, batching, argument checks.</summary>
public abstract class PreTrainedTokenizer : IHfTokenizer
{
    public abstract int PadTokenId { get; }
    public abstract int EosTokenId { get; }
    public abstract int? BosTokenId { get; }
    public abstract int UnkTokenId { get; }
    public abstract int VocabSize { get; }
    public int ModelMaxLength { get; init; } = 512;
    public abstract int NumSpecialTokensToAdd { get; }

    /// <summary>Whether <see cref="Decode"/> applies <see cref="CleanUpTokenization"/> (transformers'
    /// <c>clean_up_tokenization_spaces</c>: read from <c>tokenizer_config.json</c>, true when absent as in transformers
    /// 4.36). The decoded summaries are what the reward classifiers read, so this decides the very text Python scores.</summary>
    public bool CleanUpTokenizationSpaces { get; init; } = true;

    // transformers PreTrainedTokenizerBase.clean_up_tokenization (4.36)
    /// <summary>transformers' clean-up of simple English tokenization artifacts, its ten rules in its order:
    /// <c>" ." → "."</c>, <c>" ?" → "?"</c>, <c>" !" → "!"</c>, <c>" ," → ","</c>, <c>" ' " → "'"</c>,
    /// <c>" n't" → "n't"</c>, <c>" 'm" → "'m"</c>, <c>" 's" → "'s"</c>, <c>" 've" → "'ve"</c>, <c>" 're" → "'re"</c>.</summary>
    public static string CleanUpTokenization(string text) =>
        text.Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);

    /// <summary>Special tokens (text → id) that are cut out of the input and mapped straight to their id, as HF does.</summary>
    protected abstract IReadOnlyDictionary<string, int> SplitTokens { get; }

    /// <summary>Ids of one piece of plain text (no special tokens inside), without any special tokens added.</summary>
    protected abstract void EncodePlain(string text, List<int> into);

    /// <summary>Adds the model's special tokens around content that already fits.</summary>
    protected abstract List<int> AddSpecialTokens(List<int> content);

    /// <summary>Tokens that absorb the white space before them (RoBERTa's <c>&lt;mask&gt;</c>).</summary>
    protected virtual bool StripsLeft(string specialToken) => false;

    public abstract bool IsSpecialToken(int id);
    public abstract string IdToToken(int id);
    public abstract int? TokenToId(string token);
    public abstract string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>Token ids of <paramref name="text"/>. With <paramref name="maxLength"/> the content is cut so that the
    /// result, special tokens included, has at most that many ids (HF <c>truncation=True, max_length=...</c>).</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeCore(text, addSpecialTokens, maxLength, nameof(maxLength));
    }

    List<int> EncodeCore(string text, bool addSpecialTokens, int? maxLength, string maxLengthName)
    {
        var reserved = addSpecialTokens ? NumSpecialTokensToAdd : 0;
        if (maxLength is int max && max < reserved)
            throw new ArgumentOutOfRangeException(maxLengthName, max,
                $"maxLength must be at least {reserved} (the special tokens {GetType().Name} adds).");
        var content = new List<int>();
        foreach (var (plain, specialId) in Split(Sanitize(text)))
        {
            if (specialId is int id) content.Add(id);
            else if (plain.Length > 0) EncodePlain(plain, content);
        }
        if (maxLength is int m && content.Count > m - reserved) content.RemoveRange(m - reserved, content.Count - (m - reserved));
        return addSpecialTokens ? AddSpecialTokens(content) : content;
    }

    /// <summary>Encodes every text (special tokens added), truncates to <paramref name="maxLength"/> if given, and with
    /// <paramref name="padding"/> right-pads to the longest row with <see cref="PadTokenId"/> (HF <c>padding=True</c>).</summary>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null, bool padding = true)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var rows = new List<int>[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            var text = texts[i] ?? throw new ArgumentNullException(nameof(texts), $"texts[{i}] is null.");
            rows[i] = EncodeCore(text, addSpecialTokens: true, maxLength, nameof(maxLength));
        }
        var lengths = rows.Select(r => r.Count).ToArray();
        var masks = new List<int>[rows.Length];
        var longest = lengths.Length == 0 ? 0 : lengths.Max();
        for (int i = 0; i < rows.Length; i++)
        {
            masks[i] = Enumerable.Repeat(1, rows[i].Count).ToList();
            if (!padding) continue;
            var missing = longest - rows[i].Count;
            rows[i].AddRange(Enumerable.Repeat(PadTokenId, missing));
            masks[i].AddRange(Enumerable.Repeat(0, missing));
        }
        return new BatchEncoding(rows, masks, lengths);
    }

    /// <summary>Decodes each row of a [batch, len] (or [len]) id tensor, e.g. generated sequences.</summary>
    public IReadOnlyList<string> DecodeBatch(torch.Tensor ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.dim() is not (1 or 2)) throw new ArgumentException($"expected a [batch, len] or [len] tensor, got shape [{string.Join(", ", ids.shape)}].", nameof(ids));
        using var rows2 = ids.dim() == 1 ? ids.unsqueeze(0) : ids.alias();
        using var cpu = rows2.to_type(torch.int64).cpu();
        var flat = cpu.data<long>().ToArray();
        var (b, n) = ((int)cpu.shape[0], (int)cpu.shape[1]);
        var result = new string[b];
        for (int i = 0; i < b; i++) result[i] = Decode(flat.Skip(i * n).Take(n).Select(ToId), skipSpecialTokens);
        return result;

        static int ToId(long v) => v is < int.MinValue or > int.MaxValue ? throw new ArgumentOutOfRangeException(nameof(ids), v, "token id out of range.") : (int)v;
    }

    /// <summary>Decodes several id sequences.</summary>
    public IReadOnlyList<string> DecodeBatch(IEnumerable<IEnumerable<int>> sequences, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        return sequences.Select((s, i) => Decode(s ?? throw new ArgumentNullException(nameof(sequences), $"sequences[{i}] is null."), skipSpecialTokens)).ToList();
    }

    /// <summary>Checks an id before decoding it.</summary>
    protected void CheckId(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException("ids", id, $"token id {id} is outside the vocabulary [0, {VocabSize}) (a -100 label or padding mask left in?).");
    }

    /// <summary>Cuts the text at the special tokens (longest match first). Yields (text, null) or ("", id).</summary>
    IEnumerable<(string Text, int? Id)> Split(string text)
    {
        var specials = SplitTokens;
        if (specials.Count == 0 || text.IndexOf('<') < 0 && text.IndexOf('[') < 0)
        {
            yield return (text, null);
            yield break;
        }
        int start = 0, i = 0;
        while (i < text.Length)
        {
            string? hit = null;
            if (text[i] is '<' or '[')
                foreach (var s in specials.Keys)
                    if ((hit is null || s.Length > hit.Length) && string.CompareOrdinal(text, i, s, 0, s.Length) == 0) hit = s;
            if (hit is null) { i++; continue; }
            var before = text[start..i];
            if (StripsLeft(hit)) before = before.TrimEnd();
            if (before.Length > 0) yield return (before, null);
            yield return ("", specials[hit]);
            i += hit.Length;
            start = i;
        }
        if (start < text.Length) yield return (text[start..], null);
    }

    /// <summary>Replaces unpaired UTF-16 surrogates (which no encoder or normalizer accepts) with U+FFFD.</summary>
    internal static string Sanitize(string text)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            var c = text[i];
            bool bad = char.IsHighSurrogate(c) ? i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]) : char.IsLowSurrogate(c);
            if (char.IsHighSurrogate(c) && !bad) { sb?.Append(c).Append(text[i + 1]); i++; continue; }
            if (bad) { sb ??= new StringBuilder(text, 0, i, text.Length); sb.Append('\uFFFD'); }
            else sb?.Append(c);
        }
        return sb?.ToString() ?? text;
    }
}
