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
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxLength < tokenizer.NumSpecialTokensToAdd + 1)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"maxLength must leave room for at least one text token besides the {tokenizer.NumSpecialTokensToAdd} special token(s).");
        var kept = new NewsArticle[articles.Count];
        var prompts = new string[articles.Count];
        var ids = new long[articles.Count][];
        for (var i = 0; i < articles.Count; i++)
        {
            kept[i] = articles[i] ?? throw new ArgumentNullException(nameof(articles), $"articles[{i}] is null.");
            prompts[i] = NewsDataset.Prompt(kept[i].Text);
            var encoded = tokenizer.Encode(prompts[i], addSpecialTokens: true, maxLength: maxLength);
            ids[i] = new long[encoded.Count];
            for (var t = 0; t < encoded.Count; t++) ids[i][t] = encoded[t];
        }
        return new PromptedBatch(kept, prompts, ids);
    }
}
