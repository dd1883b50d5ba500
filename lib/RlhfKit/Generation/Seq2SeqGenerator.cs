using RlhfKit.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Generation;

/// <summary>Decoding settings, named and defaulted as Hugging Face's <c>GenerationConfig</c>.</summary>
public sealed record GenerationConfig
{
    public int MaxNewTokens { get; init; } = 20;
    /// <summary>Eos is forbidden before this many new tokens (biases PPO's KL estimate; see <see cref="PpoRollout"/>).</summary>
    public int MinNewTokens { get; init; }
    public bool DoSample { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep the k most likely tokens when sampling; 0 disables the filter.</summary>
    public int TopK { get; init; } = 50;
    /// <summary>Keep the smallest set of tokens whose probability reaches p when sampling; 1 disables the filter.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Seed of the sampling generator; null draws from torch's global generator.</summary>
    public long? Seed { get; init; }
    /// <summary>Also return the processed next-token scores of every step (as HF's <c>output_scores</c>).</summary>
    public bool OutputScores { get; init; }

    /// <summary>TRL's advice for PPO rollouts: pure sampling from the model's distribution (no top-k, no top-p,
    /// no minimum length), so the log-probabilities PPO sees are those the tokens were drawn from.</summary>
    public static GenerationConfig PpoRollout(int maxNewTokens = 48, long? seed = null) =>
        new() { DoSample = true, TopK = 0, TopP = 1.0, Temperature = 1.0, MaxNewTokens = maxNewTokens, Seed = seed };

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentException($"MaxNewTokens must be at least 1 (got {MaxNewTokens}).");
        if (MinNewTokens < 0 || MinNewTokens > MaxNewTokens) throw new ArgumentException($"MinNewTokens must lie in [0, MaxNewTokens={MaxNewTokens}] (got {MinNewTokens}).");
        if (Temperature <= 0) throw new ArgumentException($"Temperature must be positive (got {Temperature}); use DoSample=false for greedy decoding.");
        if (TopK < 0) throw new ArgumentException($"TopK must be >= 0 (got {TopK}).");
        if (TopP <= 0 || TopP > 1) throw new ArgumentException($"TopP must lie in (0, 1] (got {TopP}).");
    }

    /// <summary>Settings that make the sampled tokens' log-probabilities differ from the model's, which biases
    /// PPO's KL estimate (it can even turn negative); empty when there are none.</summary>
    public IReadOnlyList<string> KlBiasWarnings()
    {
        var w = new List<string>();
        if (!DoSample) w.Add("greedy decoding picks the mode, not a sample: the KL estimate is biased; use DoSample=true");
        if (DoSample && TopK > 0) w.Add($"top-k={TopK} truncates the distribution the tokens are drawn from: the KL estimate is biased; use TopK=0");
        if (DoSample && TopP < 1) w.Add($"top-p={TopP} truncates the distribution the tokens are drawn from: the KL estimate is biased; use TopP=1");
        if (MinNewTokens > 0) w.Add($"min_new_tokens={MinNewTokens} forbids eos early, so sampled responses are not drawn from the model: the KL estimate can turn negative");
        if (DoSample && Temperature != 1.0) w.Add($"temperature={Temperature} changes the sampling distribution: the KL estimate is biased");
        return w;
    }
}

/// <summary>Generated sequences and what PPO needs about them. Owns its tensors.</summary>
public sealed class GenerationOutput : IDisposable
{
    /// <summary>[B, 1 + n]: the decoder start token, then the new tokens; pad after a row's eos.</summary>
    public required Tensor Sequences { get; init; }
    /// <summary>[B, n]: log-probability of each chosen token under the model's unprocessed distribution; 0 after eos.</summary>
    public required Tensor TokenLogprobs { get; init; }
    /// <summary>[B, n]: 1 for generated tokens up to and including eos, 0 for padding after it.</summary>
    public required Tensor ResponseMask { get; init; }
    /// <summary>Per step [B, vocab] processed scores, when <see cref="GenerationConfig.OutputScores"/> is set.</summary>
    public IReadOnlyList<Tensor>? Scores { get; init; }

    /// <summary>The new tokens of each row, without the start token and without padding (eos kept).</summary>
    public IReadOnlyList<long[]> ResponseIds()
    {
        using var scope = NewDisposeScope();
        var seq = Sequences.cpu().data<long>().ToArray();
        var mask = ResponseMask.cpu().data<long>().ToArray();
        long width = Sequences.shape[1], n = ResponseMask.shape[1];
        var rows = new List<long[]>();
        for (long b = 0; b < Sequences.shape[0]; b++)
        {
            var row = new List<long>();
            for (long t = 0; t < n; t++) if (mask[b * n + t] == 1) row.Add(seq[b * width + 1 + t]);
            rows.Add(row.ToArray());
        }
        return rows;
    }

    public void Dispose()
    {
        Sequences.Dispose(); TokenLogprobs.Dispose(); ResponseMask.Dispose();
        foreach (var s in Scores ?? []) s.Dispose();
    }
}

/// <summary>Batched decoding for encoder-decoder models with the key/value cache: the encoder runs once and each
/// step feeds only the newest token. The only host synchronisation per step is the all-finished check.</summary>
public static class Seq2SeqGenerator
{
    /// <summary>Generates for token-id queries of different lengths (right-padded with the model's pad token, as T5 needs).</summary>
    public static GenerationOutput Generate(ISeq2SeqLM model, IReadOnlyList<long[]> queries, GenerationConfig config, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var (ids, mask) = Batching.PadRight(queries, model.PadTokenId);
        var output = Generate(model, ids.to(device ?? CPU), mask.to(device ?? CPU), config);
        output.Sequences.DetachFromDisposeScope(); output.TokenLogprobs.DetachFromDisposeScope(); output.ResponseMask.DetachFromDisposeScope();
        foreach (var s in output.Scores ?? []) s.DetachFromDisposeScope();
        return output;
    }

    public static GenerationOutput Generate(ISeq2SeqLM model, Tensor inputIds, Tensor? attentionMask, GenerationConfig config)
    {
        config.Validate();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = inputIds.device;
        long batch = inputIds.shape[0];
        var mask = attentionMask ?? ones_like(inputIds);
        var generator = config.DoSample && config.Seed is long seed ? new Generator((ulong)seed, device) : null;

        var encoded = model.Encode(inputIds, mask);
        using var cache = model.NewCache(config.MaxNewTokens); // the decoder sees the start token and all but the last new token
        // Token ids as Scalars held for the whole generation (Common/Scalars).
        using Scalar startId = model.DecoderStartTokenId.ToScalar(), padId = model.PadTokenId.ToScalar(), eosId = model.EosTokenId.ToScalar();
        var next = full(batch, 1, startId, dtype: int64, device: device);
        var tokens = new List<Tensor> { next };
        var logprobs = new List<Tensor>();
        var masks = new List<Tensor>();
        var scores = config.OutputScores ? new List<Tensor>() : null;
        var unfinished = ones(batch, dtype: int64, device: device);

        for (int step = 0; step < config.MaxNewTokens; step++)
        {
            using var stepScope = NewDisposeScope();
            var logits = model.Step(next, encoded, mask, cache).to_type(float32);
            var modelLogprobs = nn.functional.log_softmax(logits, -1);
            var processed = Process(logits, step, model.EosTokenId, config);
            var chosen = config.DoSample
                ? multinomial(nn.functional.softmax(processed, -1), 1, generator: generator).squeeze(1)
                : processed.argmax(-1);
            // Finished rows emit pad and contribute nothing.
            chosen = (chosen * unfinished).Plus(unfinished.OneMinus() * padId);
            logprobs.Add((modelLogprobs.gather(1, chosen.unsqueeze(1)).squeeze(1) * unfinished.to_type(float32)).MoveToOuterDisposeScope());
            masks.Add(unfinished.clone().MoveToOuterDisposeScope());
            scores?.Add(processed.MoveToOuterDisposeScope());
            next = chosen.unsqueeze(1).MoveToOuterDisposeScope();
            tokens.Add(next);
            unfinished.mul_(chosen.ne(eosId).to_type(int64));
            if (unfinished.max().item<long>() == 0) break;
        }

        return new GenerationOutput
        {
            Sequences = cat(tokens, 1).MoveToOuterDisposeScope(),
            TokenLogprobs = stack(logprobs, 1).MoveToOuterDisposeScope(),
            ResponseMask = stack(masks, 1).MoveToOuterDisposeScope(),
            Scores = scores?.Select(s => s.MoveToOuterDisposeScope()).ToList(),
        };
    }

    /// <summary>Hugging Face's processing order: min-length (processor), then temperature, top-k, top-p (warpers, sampling only).</summary>
    public static Tensor Process(Tensor logits, int step, int eosTokenId, GenerationConfig config)
    {
        using var scope = NewDisposeScope();
        var scores = logits.alias();
        if (step < config.MinNewTokens)
        {
            scores = scores.clone();
            scores[.., eosTokenId] = float.NegativeInfinity;
        }
        if (config.DoSample)
        {
            if (config.Temperature != 1.0)
            {
                using var temperature = config.Temperature.ToScalar();
                scores = scores / temperature;
            }
            if (config.TopK > 0 && config.TopK < scores.shape[^1])
            {
                var kth = scores.topk(config.TopK).values[.., ^1..];
                scores = scores.masked_fill(scores < kth, Scalars.NegativeInfinity);
            }
            if (config.TopP < 1.0)
            {
                var (sorted, order) = scores.sort(-1, descending: false);
                var cumulative = nn.functional.softmax(sorted, -1).cumsum(-1);
                using var threshold = (1 - config.TopP).ToScalar();
                var removeSorted = cumulative.le(threshold);
                removeSorted[.., ^1] = false; // always keep the most likely token
                var remove = removeSorted.scatter(1, order, removeSorted);
                scores = scores.masked_fill(remove, Scalars.NegativeInfinity);
            }
        }
        return scores.MoveToOuterDisposeScope();
    }
}
