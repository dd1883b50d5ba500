using RlhfKit.Tokenization;

namespace RlhfKit.Data;

/// <summary>Articles with their prompts (<see cref="NewsDataset.Prompt"/>) and the prompts' token ids: the queries
/// handed to the policy's generate and to the PPO step.</summary>
public sealed class PromptedBatch
{
    public IReadOnlyList<NewsArticle> Articles { get; }
    /// <summary><c>"summarize: " + text</c> per article.</summary>
    public IReadOnlyList<string> Prompts { get; }
    /// <summary>Token ids of each prompt with the tokenizer's special tokens (T5: a trailing <c>&lt;/s&gt;</c>), at most
    /// the maxLength given; unpadded.</summary>
    public IReadOnlyList<long[]> QueryIds { get; }
    public int Count => Articles.Count;

    PromptedBatch(IReadOnlyList<NewsArticle> articles, IReadOnlyList<string> prompts, IReadOnlyList<long[]> queryIds)
    {
        Articles = articles;
        Prompts = prompts;
        QueryIds = queryIds;
    }

    /// <summary>Prompts each article and encodes the prompt with special tokens, truncated to
    /// <paramref name="maxLength"/> tokens the way HF's <c>truncation=True, max_length=...</c> does: the text is cut and
    /// the special tokens are kept, so a T5 query still ends with eos.</summary>
    public static PromptedBatch Create(IReadOnlyList<NewsArticle> articles, IHfTokenizer tokenizer, int maxLength = 512)
    {
        ArgumentNullException.ThrowIfNull(articles);
        var kept = new NewsArticle[articles.Count];
        for (var i = 0; i < articles.Count; i++)
            kept[i] = articles[i] ?? throw new ArgumentNullException(nameof(articles), $"articles[{i}] is null.");
        var prompts = kept.Select(a => NewsDataset.Prompt(a.Text)).ToArray();
        return new PromptedBatch(kept, prompts, Encode(prompts, tokenizer, maxLength));
    }

    /// <summary>The query ids of articles' texts: <c>"summarize: " + text</c> (<see cref="NewsDataset.Prompt"/>), encoded
    /// as <see cref="Create"/> does. The one prompt path of the kit: the run, the evaluation, the command line and the
    /// lessons all build their queries here.</summary>
    public static IReadOnlyList<long[]> Queries(IEnumerable<string> articleTexts, IHfTokenizer tokenizer, int maxLength = 512)
    {
        ArgumentNullException.ThrowIfNull(articleTexts);
        return Encode(articleTexts.Select(NewsDataset.Prompt).ToList(), tokenizer, maxLength);
    }

    static long[][] Encode(IReadOnlyList<string> prompts, IHfTokenizer tokenizer, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxLength < tokenizer.NumSpecialTokensToAdd + 1)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"maxLength must leave room for at least one text token besides the {tokenizer.NumSpecialTokensToAdd} special token(s).");
        return prompts.Select(p => tokenizer.Encode(p, addSpecialTokens: true, maxLength: maxLength).Select(t => (long)t).ToArray()).ToArray();
    }
}
