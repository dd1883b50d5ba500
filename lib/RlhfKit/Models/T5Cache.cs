using static TorchSharp.torch;

namespace RlhfKit.Models;

/// <summary>Key/value cache of one decoder block: self-attention keys and values grow by one step per token;
/// cross-attention keys and values are computed from the encoder output once.</summary>
public sealed class T5LayerCache : IDisposable
{
    Tensor? _selfKey, _selfValue;
    public Tensor? CrossKey { get; private set; }
    public Tensor? CrossValue { get; private set; }

    /// <summary>Appends this step's keys/values ([B, H, t, d]) and returns the whole sequence's.</summary>
    internal (Tensor Key, Tensor Value) AppendSelf(Tensor key, Tensor value)
    {
        var newKey = _selfKey is null ? key.alias() : cat([_selfKey, key], 2);
        var newValue = _selfValue is null ? value.alias() : cat([_selfValue, value], 2);
        _selfKey?.Dispose(); _selfValue?.Dispose();
        // The cache outlives the caller's dispose scope; it owns these and returns aliases for this step.
        _selfKey = newKey.DetachFromDisposeScope();
        _selfValue = newValue.DetachFromDisposeScope();
        return (_selfKey.alias(), _selfValue.alias());
    }

    internal void SetCross(Tensor key, Tensor value)
    {
        CrossKey = key.alias().DetachFromDisposeScope();
        CrossValue = value.alias().DetachFromDisposeScope();
    }

    /// <summary>Keeps only the given batch rows (generation drops nothing today, but beam or early-exit users may).</summary>
    internal void Select(Tensor rows)
    {
        static Tensor? Pick(Tensor? t, Tensor r)
        {
            if (t is null) return null;
            var picked = t.index_select(0, r).DetachFromDisposeScope();
            t.Dispose();
            return picked;
        }
        _selfKey = Pick(_selfKey, rows); _selfValue = Pick(_selfValue, rows);
        CrossKey = Pick(CrossKey, rows); CrossValue = Pick(CrossValue, rows);
    }

    public void Dispose()
    {
        _selfKey?.Dispose(); _selfValue?.Dispose(); CrossKey?.Dispose(); CrossValue?.Dispose();
        _selfKey = _selfValue = CrossKey = CrossValue = null;
    }
}

/// <summary>The decoder's cache: one <see cref="T5LayerCache"/> per block and the number of positions seen.</summary>
public sealed class T5Cache : IDisposable
{
    public T5Cache(int layers) => Layers = Enumerable.Range(0, layers).Select(_ => new T5LayerCache()).ToArray();

    public IReadOnlyList<T5LayerCache> Layers { get; }

    /// <summary>Decoder positions already cached.</summary>
    public long Length { get; private set; }

    internal void Advance(long steps) => Length += steps;

    internal void Select(Tensor rows) { foreach (var l in Layers) l.Select(rows); }

    public void Dispose() { foreach (var l in Layers) l.Dispose(); }
}

/// <summary>What generation needs from an encoder-decoder language model.</summary>
public interface ISeq2SeqLM
{
    int DecoderStartTokenId { get; }
    int PadTokenId { get; }
    int EosTokenId { get; }
    int VocabSize { get; }
    Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, List<Tensor>? hiddenStates = null);
    T5Cache NewCache();
    /// <summary>Feeds <paramref name="newTokens"/> [B, t] through the decoder with the cache and returns the
    /// next-token logits [B, vocab] of the last position.</summary>
    Tensor Step(Tensor newTokens, Tensor encoderStates, Tensor encoderAttentionMask, T5Cache cache);
}
