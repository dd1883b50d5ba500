using RlhfKit.Generation;
using RlhfKit.Models;
using static TorchSharp.torch;

namespace RlhfKit.Benchmarks;

/// <summary>
/// BENCHMARK BASELINE ONLY, not a decoding path of the kit: sampling WITHOUT the key/value cache. Every step re-runs
/// the whole decoder (self-attention over all tokens so far, and the cross-attention keys/values of the encoder
/// output) and keeps the last position's logits, which is what a decoder without a cache has to do. The encoder still
/// runs once, and token processing and sampling are the same as in <see cref="Seq2SeqGenerator"/>, so the difference
/// in time is the cache alone.
/// </summary>
public static class RecomputeGeneration
{
    /// <summary>Returns [B, 1 + n]: the start token and the sampled tokens (no eos handling beyond the config's
    /// min-length mask; benchmarks force the full length).</summary>
    public static Tensor Generate(T5ForConditionalGeneration model, Tensor inputIds, Tensor attentionMask, GenerationConfig config)
    {
        config.Validate();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = inputIds.device;
        long batch = inputIds.shape[0];
        var generator = config.DoSample && config.Seed is long seed ? new Generator((ulong)seed, device) : null;
        var encoded = model.Encode(inputIds, attentionMask);
        var sequence = full(batch, 1, model.Config.DecoderStartTokenId, dtype: int64, device: device);
        var unfinished = ones(batch, dtype: int64, device: device);
        for (int step = 0; step < config.MaxNewTokens; step++)
        {
            using var stepScope = NewDisposeScope();
            var decoded = model.Decode(sequence, encoded, attentionMask); // all positions, no cache
            var logits = model.LmLogits(decoded[.., ^1..]).squeeze(1).to_type(float32);
            var processed = Seq2SeqGenerator.Process(logits, step, model.Config.EosTokenId, config);
            var chosen = config.DoSample
                ? multinomial(nn.functional.softmax(processed, -1), 1, generator: generator).squeeze(1)
                : processed.argmax(-1);
            chosen = chosen * unfinished + model.Config.PadTokenId * (1 - unfinished);
            sequence = cat([sequence, chosen.unsqueeze(1)], 1).MoveToOuterDisposeScope();
            unfinished.mul_((chosen != model.Config.EosTokenId).to_type(int64));
            if (unfinished.max().item<long>() == 0) break; // the same host synchronisation as the cached path
        }
        return sequence.MoveToOuterDisposeScope();
    }
}
