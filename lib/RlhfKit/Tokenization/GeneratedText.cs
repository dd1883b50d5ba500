namespace RlhfKit.Tokenization;

/// <summary>The one path from generated token ids to text, used by training, evaluation, the command line and the
/// lessons, so the reward classifiers read exactly the text a user sees.</summary>
public static class GeneratedText
{
    /// <summary>
    /// Decodes each row with special tokens skipped (transformers' <c>batch_decode(..., skip_special_tokens=True)</c>).
    /// Ids outside the tokenizer's vocabulary decode to nothing, as the fast tokenizers do: FLAN-T5's output layer has
    /// 32,128 rows for a 32,100-id tokenizer, so pure sampling can draw ids no tokenizer knows.
    /// </summary>
    public static List<string> Decode(this IHfTokenizer tokenizer, IReadOnlyList<long[]> rows)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(rows);
        var vocab = tokenizer.VocabSize;
        return rows.Select(ids => tokenizer.Decode(ids.Where(t => t >= 0 && t < vocab).Select(t => (int)t), skipSpecialTokens: true)).ToList();
    }
}
