using System.Text.RegularExpressions;
using Microsoft.Data.Analysis;

namespace RlhfKit.Evaluation;

/// <summary>A word whose frequency changed between two sets of summaries: counts, rates per 1,000 words, and the change
/// of the rate (after − before).</summary>
public sealed record WordChange(string Word, int Before, int After, double BeforePer1000, double AfterPer1000)
{
    public double Change => AfterPer1000 - BeforePer1000;
}

/// <summary>
/// Which words the aligned policy uses more, and which less, than the base policy (the original article's "announced"
/// over "scrapped"): words are lower-cased runs of letters (with inner apostrophes and hyphens), counted over all
/// summaries of each side, and compared per 1,000 words so that a change of length does not count as a change of words.
/// English function words (<see cref="FunctionWords"/>: articles, prepositions, pronouns, auxiliaries) still count in the
/// totals but are not ranked: their rates wobble with length and wording and would crowd out the content words.
/// </summary>
public static partial class ChangedWords
{
    /// <summary>The <paramref name="top"/> biggest rises and the <paramref name="top"/> biggest falls of the rate per 1,000
    /// words, among words seen at least <paramref name="minCount"/> times on one side; rises first (largest first), then
    /// falls (largest first); ties by word. <paramref name="ignore"/> is the set of words left out of the ranking
    /// (default <see cref="FunctionWords"/>; an empty set ranks every word).</summary>
    public static IReadOnlyList<WordChange> Compute(IEnumerable<string> before, IEnumerable<string> after, int top = 10, int minCount = 3,
        IReadOnlySet<string>? ignore = null)
    {
        ignore ??= FunctionWords;
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        var (b, bTotal) = Count(before);
        var (a, aTotal) = Count(after);
        if (bTotal == 0 || aTotal == 0) throw new ArgumentException("Both sides need at least one word.");
        var changes = b.Keys.Union(a.Keys)
            .Select(w => (Word: w, B: b.GetValueOrDefault(w), A: a.GetValueOrDefault(w)))
            .Where(x => Math.Max(x.B, x.A) >= minCount && !ignore.Contains(x.Word))
            .Select(x => new WordChange(x.Word, x.B, x.A, 1000.0 * x.B / bTotal, 1000.0 * x.A / aTotal))
            .Where(c => c.Change != 0)
            .ToList();
        var rises = changes.Where(c => c.Change > 0).OrderByDescending(c => c.Change).ThenBy(c => c.Word, StringComparer.Ordinal).Take(top);
        var falls = changes.Where(c => c.Change < 0).OrderBy(c => c.Change).ThenBy(c => c.Word, StringComparer.Ordinal).Take(top);
        return [.. rises, .. falls];
    }

    /// <summary>English function words: articles, prepositions, conjunctions, pronouns, auxiliaries and common adverbs.</summary>
    public static IReadOnlySet<string> FunctionWords { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "but", "nor", "so", "yet", "if", "than", "that", "this", "these", "those", "which", "who",
        "whom", "whose", "what", "when", "where", "while", "as", "at", "by", "for", "from", "in", "into", "of", "off", "on", "onto",
        "out", "over", "to", "up", "with", "about", "after", "before", "between", "during", "under", "until", "against", "through",
        "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do", "does", "did", "will", "would", "can",
        "could", "shall", "should", "may", "might", "must", "it", "its", "he", "him", "his", "she", "her", "hers", "they", "them",
        "their", "we", "us", "our", "you", "your", "i", "me", "my", "not", "no", "also", "all", "some", "any", "more", "most",
        "very", "just", "only", "then", "there", "here",
    };

    /// <summary>The changes as a table: word, counts, rates per 1,000 words and the change.</summary>
    public static DataFrame ToDataFrame(IReadOnlyList<WordChange> changes) => new(
        new StringDataFrameColumn("word", changes.Select(c => c.Word)),
        new Int32DataFrameColumn("base_count", changes.Select(c => c.Before)),
        new Int32DataFrameColumn("aligned_count", changes.Select(c => c.After)),
        new DoubleDataFrameColumn("base_per_1000_words", changes.Select(c => c.BeforePer1000)),
        new DoubleDataFrameColumn("aligned_per_1000_words", changes.Select(c => c.AfterPer1000)),
        new DoubleDataFrameColumn("change", changes.Select(c => c.Change)));

    static (Dictionary<string, int> Counts, int Total) Count(IEnumerable<string> texts)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        int total = 0;
        foreach (var text in texts)
        {
            ArgumentNullException.ThrowIfNull(text, nameof(texts));
            foreach (Match m in Word().Matches(text.ToLowerInvariant()))
            {
                counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
                total++;
            }
        }
        return (counts, total);
    }

    [GeneratedRegex(@"\p{L}+(?:['’-]\p{L}+)*")]
    private static partial Regex Word();
}
