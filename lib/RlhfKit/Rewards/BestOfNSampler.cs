using RlhfKit.Generation;
using RlhfKit.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Rewards;

/// <summary>One query's best of n: the highest-scoring sample, and every candidate with its score.</summary>
public sealed record BestOfN(string Text, long[] Ids, double Score, IReadOnlyList<string> Candidates, IReadOnlyList<double> CandidateScores);

/// <summary>
/// TRL's <c>BestOfNSampler</c> (<c>trl.extras.best_of_n_sampler</c>), the baseline alignment papers report beside
/// PPO: for each query, sample <see cref="SampleSize"/> responses from the model as it is, score them with the reward,
/// and keep the highest. It needs no training, but pays <c>n</c> generations and <c>n</c> reward evaluations at every
/// use, where a PPO-trained policy pays once, in training.
/// Its KL to the model it samples from has a closed form (Stiennon et al. 2020; Beirami et al. 2024 show it is an
/// upper bound): <c>KL(best-of-n ‖ model) = log n − (n − 1) / n</c> (<see cref="AnalyticKl"/>).
/// </summary>
public sealed class BestOfNSampler
{
    public BestOfNSampler(ISeq2SeqLM model, IHfTokenizer tokenizer, CompositeReward reward, int sampleSize = 4, GenerationConfig? generation = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(reward);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 1);
        Generation = generation ?? GenerationConfig.PpoRollout();
        if (!Generation.DoSample) throw new ArgumentException("Best-of-n needs sampling (DoSample = true): greedy decoding gives n identical candidates.", nameof(generation));
        Generation.Validate();
        Model = model; Tokenizer = tokenizer; Reward = reward; SampleSize = sampleSize; Device = device;
    }

    public ISeq2SeqLM Model { get; }
    public IHfTokenizer Tokenizer { get; }
    public CompositeReward Reward { get; }
    /// <summary>n, the samples drawn per query (TRL's <c>sample_size</c>).</summary>
    public int SampleSize { get; }
    public GenerationConfig Generation { get; }
    public Device? Device { get; }

    /// <summary><c>log n − (n − 1) / n</c> nats: 0 for n = 1, 0.64 for 4, 1.83 for 16.</summary>
    public static double AnalyticKl(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        return Math.Log(n) - (n - 1.0) / n;
    }

    /// <summary>
    /// The best of <see cref="SampleSize"/> samples for every query. Queries go <paramref name="batchSize"/> at a time,
    /// each repeated n times in one generation batch drawn with seed <c>seed + k</c> for batch k, so the result is the
    /// same for the same seed and batch size. Ties go to the first candidate.
    /// </summary>
    public IReadOnlyList<BestOfN> Sample(IReadOnlyList<long[]> queries, long seed, int batchSize = 8)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var results = new List<BestOfN>(queries.Count);
        for (int start = 0, k = 0; start < queries.Count; start += batchSize, k++)
        {
            using var scope = NewDisposeScope();
            var chunk = queries.Skip(start).Take(batchSize).ToList();
            var repeated = chunk.SelectMany(q => Enumerable.Repeat(q, SampleSize)).ToList();
            IReadOnlyList<long[]> ids;
            using (no_grad())
            using (var output = Seq2SeqGenerator.Generate(Model, repeated, Generation with { Seed = seed + k }, Device))
                ids = output.ResponseIds();
            var texts = Tokenizer.Decode(ids);
            var scores = Reward.Score(texts).Total;
            for (int q = 0; q < chunk.Count; q++)
            {
                int best = q * SampleSize;
                for (int c = best + 1; c < (q + 1) * SampleSize; c++) if (scores[c] > scores[best]) best = c;
                var range = Enumerable.Range(q * SampleSize, SampleSize).ToList();
                results.Add(new BestOfN(texts[best], ids[best], scores[best], range.Select(i => texts[i]).ToList(), range.Select(i => (double)scores[i]).ToList()));
            }
        }
        return results;
    }
}
