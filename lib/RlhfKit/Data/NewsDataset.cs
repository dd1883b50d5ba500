using RlhfKit.Common;
using System.Collections;
using RlhfKit.Tokenization;

namespace RlhfKit.Data;

/// <summary>
/// An immutable list of <see cref="NewsArticle"/>s with the few dataset operations the workshop uses, named as in
/// Hugging Face <c>datasets</c>: load (<see cref="FromJsonl"/>, <see cref="FromParquet"/>, <see cref="FromHubAsync"/>,
/// <see cref="LoadOffline"/>), filter, take, shuffle, batch, and prompt + tokenize. Every operation returns a new
/// dataset. Shuffling uses SplitMix64 + Fisher–Yates, so a seed gives the same order on every OS and .NET version.
/// </summary>
public sealed partial class NewsDataset : IReadOnlyList<NewsArticle>
{
    /// <summary>The task prefix FLAN-T5 is prompted with (the workshop's <c>"summarize: " + text</c>).</summary>
    public const string PromptPrefix = "summarize: ";

    readonly NewsArticle[] articles;

    NewsDataset(NewsArticle[] articles) => this.articles = articles;

    /// <summary>A dataset of the given articles (copied).</summary>
    public NewsDataset(IEnumerable<NewsArticle> articles)
    {
        ArgumentNullException.ThrowIfNull(articles);
        this.articles = articles.Select((a, i) => a ?? throw new ArgumentNullException(nameof(articles), $"articles[{i}] is null.")).ToArray();
    }

    public int Count => articles.Length;

    public NewsArticle this[int index] => articles[index];

    public IEnumerator<NewsArticle> GetEnumerator() => ((IEnumerable<NewsArticle>)articles).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"NewsDataset({Count} articles)";

    // ---- selection ----

    /// <summary>The articles for which <paramref name="predicate"/> holds, in order (HF <c>Dataset.filter</c>).</summary>
    public NewsDataset Where(Func<NewsArticle, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new NewsDataset(articles.Where(predicate).ToArray());
    }

    /// <summary>The articles whose text has between <paramref name="minChars"/> and <paramref name="maxChars"/>
    /// characters, both inclusive (the workshop tests on 200–450 character articles). Characters are Unicode scalar
    /// values, as Python's <c>len(str)</c> counts them, so the selection matches a Python filter on the same data.</summary>
    public NewsDataset FilterByLength(int minChars, int maxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minChars);
        if (maxChars < minChars) throw new ArgumentOutOfRangeException(nameof(maxChars), maxChars, $"maxChars must be at least minChars ({minChars}).");
        return Where(a => CharCount(a.Text) is var n && n >= minChars && n <= maxChars);
    }

    /// <summary>Length of a text in Unicode scalar values (Python's <c>len</c>): a surrogate pair counts once.</summary>
    public static int CharCount(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var n = text.Length;
        for (var i = 0; i + 1 < text.Length; i++)
            if (char.IsHighSurrogate(text[i]) && char.IsLowSurrogate(text[i + 1])) { n--; i++; }
        return n;
    }

    /// <summary>The first <paramref name="count"/> articles (all of them if there are fewer; HF <c>select(range(n))</c>).</summary>
    public NewsDataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new NewsDataset(articles.Take(count).ToArray());
    }

    /// <summary>The articles in a seeded random order, identical on every platform: Fisher–Yates driven by SplitMix64
    /// seeded with the seed's 32 bits zero-extended, i.e. <c>(ulong)(uint)seed</c> (see <see cref="Permutation"/>).</summary>
    public NewsDataset Shuffle(int seed) => Reorder(Permutation(Count, seed));

    /// <summary>The order <see cref="Shuffle"/> puts <paramref name="count"/> items in: <c>result[k]</c> is the index of
    /// the item that ends up at position k. Start from 0..n-1; for i = n-1 down to 1 swap positions i and j, where
    /// j = r mod (i+1) for the next SplitMix64 output r (outputs below 2^64 mod (i+1) are skipped to avoid bias).</summary>
    public static int[] Permutation(int count, int seed) => SplitMix64.Permutation(count, (uint)seed);

    /// <summary>The SplitMix64 seed of epoch <paramref name="epoch"/> in <see cref="EpochBatches"/>: seed in the low
    /// 32 bits, epoch in the high 32 bits, so every (seed, epoch) pair has its own stream and epoch 0 is
    /// <see cref="Shuffle"/>(seed).</summary>
    static ulong EpochSeed(int seed, int epoch) => (uint)seed | ((ulong)(uint)epoch << 32);

    NewsDataset Reorder(int[] order)
    {
        var result = new NewsArticle[order.Length];
        for (var k = 0; k < order.Length; k++) result[k] = articles[order[k]];
        return new NewsDataset(result);
    }

    // ---- batching ----

    /// <summary>Consecutive batches of <paramref name="batchSize"/> articles in the dataset's order. With
    /// <paramref name="dropLast"/> (the default, as TRL's PPO dataloader) a final short batch is left out.</summary>
    public IEnumerable<IReadOnlyList<NewsArticle>> Batches(int batchSize, bool dropLast = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return BatchesOf(articles, batchSize, dropLast, 0);
    }

    /// <summary>How many batches <see cref="Batches"/> yields.</summary>
    public int BatchCount(int batchSize, bool dropLast = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        return dropLast ? Count / batchSize : (Count + batchSize - 1) / batchSize;
    }

    static IEnumerable<IReadOnlyList<NewsArticle>> BatchesOf(NewsArticle[] source, int batchSize, bool dropLast, int startIndex)
    {
        for (var start = (long)startIndex * batchSize; start < source.Length; start += batchSize)
        {
            var size = (int)Math.Min(batchSize, source.Length - start);
            if (size < batchSize && dropLast) yield break;
            yield return source.AsSpan((int)start, size).ToArray();
        }
    }

    /// <summary>
    /// A data loader: <paramref name="epochs"/> passes over the dataset, each in its own seeded order (epoch e is
    /// shuffled with the stream of (seed, e)), cut into batches (short last batch dropped unless
    /// <paramref name="dropLast"/> is false). Each item carries its epoch and its batch index within the epoch, so a
    /// run that saved the last (Epoch, Index) it finished resumes with <c>startEpoch: Epoch, startIndex: Index + 1</c>
    /// and sees exactly the batches the uninterrupted run would have (an index one past the last batch of an epoch
    /// moves on to the next epoch).
    /// </summary>
    public IEnumerable<(int Epoch, int Index, IReadOnlyList<NewsArticle> Batch)> EpochBatches(int batchSize, int epochs, int seed,
        int startEpoch = 0, int startIndex = 0, bool dropLast = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(epochs);
        if (startEpoch < 0 || startEpoch > epochs)
            throw new ArgumentOutOfRangeException(nameof(startEpoch), startEpoch, $"startEpoch must be in [0, {epochs}].");
        var perEpoch = BatchCount(batchSize, dropLast);
        if (perEpoch == 0 && epochs > 0)
            throw new InvalidOperationException($"The dataset has {Count} articles: not one full batch of {batchSize}. Use a smaller batch size or more data.");
        if (startIndex < 0 || startIndex > perEpoch)
            throw new ArgumentOutOfRangeException(nameof(startIndex), startIndex,
                $"startIndex must be in [0, {perEpoch}] ({perEpoch} batches of {batchSize} per epoch over {Count} articles); " +
                "a larger one means the dataset or batch size differs from the run being resumed.");
        return Iterate();

        IEnumerable<(int, int, IReadOnlyList<NewsArticle>)> Iterate()
        {
            for (var epoch = startEpoch; epoch < epochs; epoch++)
            {
                var order = SplitMix64.Permutation(Count, EpochSeed(seed, epoch));
                var shuffled = Reorder(order).articles;
                var index = epoch == startEpoch ? startIndex : 0;
                foreach (var batch in BatchesOf(shuffled, batchSize, dropLast, index))
                    yield return (epoch, index++, batch);
            }
        }
    }

    // ---- prompting ----

    /// <summary>The policy's input for an article: <c>"summarize: " + text</c>.</summary>
    public static string Prompt(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return PromptPrefix + text;
    }

    /// <summary>Prompts and query token ids of every article (see <see cref="PromptedBatch.Create"/>).</summary>
    public PromptedBatch Tokenize(IHfTokenizer tokenizer, int maxLength = 512) => PromptedBatch.Create(articles, tokenizer, maxLength);
}
