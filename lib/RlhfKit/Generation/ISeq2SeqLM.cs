using static TorchSharp.torch;

namespace RlhfKit.Generation;

/// <summary>A model's key/value cache for incremental decoding; the model that made it (<see cref="ISeq2SeqLM.NewCache"/>)
/// is the only one that reads it.</summary>
public interface IDecoderCache : IDisposable;

/// <summary>What generation needs from an encoder-decoder language model. Models implement it; the generator knows
/// nothing else of them.</summary>
public interface ISeq2SeqLM
{
    int DecoderStartTokenId { get; }
    int PadTokenId { get; }
    int EosTokenId { get; }
    int VocabSize { get; }
    Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, List<Tensor>? hiddenStates = null);
    /// <summary>A new cache with room for <paramref name="capacity"/> decoder positions (0: grown as needed).</summary>
    IDecoderCache NewCache(int capacity = 0);
    /// <summary>Feeds <paramref name="newTokens"/> [B, t] through the decoder with the cache and returns the
    /// next-token logits [B, vocab] of the last position.</summary>
    Tensor Step(Tensor newTokens, Tensor encoderStates, Tensor encoderAttentionMask, IDecoderCache cache);
}
