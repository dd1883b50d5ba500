using RlhfKit.Generation;
using static TorchSharp.torch;

namespace RlhfKit.Models;

/// <summary>Key/value cache of one decoder block: self-attention keys and values grow by one step per token;
/// cross-attention keys and values are computed from the encoder output once.</summary>
/// <remarks>The self-attention keys and values live in one buffer [B, H, capacity, d] allocated at the first step and
/// written in place (<c>narrow(2, length, t).copy_</c>); attention reads the view of the first <c>length</c> positions.
/// Concatenating instead copies the whole cache at every step (O(n²) bytes over n tokens) and allocates a new tensor
/// each time. Past the capacity the buffer doubles.</remarks>
public sealed class T5LayerCache : IDisposable
{
    readonly long _capacity;
    Tensor? _selfKey, _selfValue;
    long _length;
    public Tensor? CrossKey { get; private set; }
    public Tensor? CrossValue { get; private set; }

    internal T5LayerCache(long capacity) => _capacity = capacity;

    /// <summary>Writes this step's keys/values ([B, H, t, d]) after the cached ones and returns views of the whole
    /// sequence's [B, H, length + t, d].</summary>
    internal (Tensor Key, Tensor Value) AppendSelf(Tensor key, Tensor value)
    {
        long t = key.shape[2], needed = _length + t;
        if (_selfKey is null || needed > _selfKey.shape[2])
        {
            long size = Math.Max(needed, Math.Max(_capacity, 2 * (_selfKey?.shape[2] ?? 0)));
            (_selfKey, _selfValue) = (Grow(_selfKey, key, size), Grow(_selfValue, value, size));
        }
        _selfKey.narrow(2, _length, t).copy_(key);
        _selfValue!.narrow(2, _length, t).copy_(value);
        _length = needed;
        return (_selfKey.narrow(2, 0, _length), _selfValue.narrow(2, 0, _length));
    }

    /// <summary>A buffer of <paramref name="size"/> positions shaped like <paramref name="like"/>, holding the old
    /// buffer's cached positions. The cache outlives the caller's dispose scope, so it owns the buffer.</summary>
    Tensor Grow(Tensor? old, Tensor like, long size)
    {
        var buffer = empty([like.shape[0], like.shape[1], size, like.shape[3]], dtype: like.dtype, device: like.device).DetachFromDisposeScope();
        if (old is not null)
        {
            if (_length > 0) buffer.narrow(2, 0, _length).copy_(old.narrow(2, 0, _length));
            old.Dispose();
        }
        return buffer;
    }

    internal void SetCross(Tensor key, Tensor value)
    {
        CrossKey = key.alias().DetachFromDisposeScope();
        CrossValue = value.alias().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _selfKey?.Dispose(); _selfValue?.Dispose(); CrossKey?.Dispose(); CrossValue?.Dispose();
        _selfKey = _selfValue = CrossKey = CrossValue = null;
        _length = 0;
    }
}

/// <summary>The decoder's cache: one <see cref="T5LayerCache"/> per block, the number of positions seen, and the
/// attention biases that stay the same for the whole generation (computed at the first step).</summary>
public sealed class T5Cache : IDecoderCache
{
    /// <param name="layers">Decoder blocks.</param>
    /// <param name="capacity">Decoder positions to allocate for (the generation's max_new_tokens); 0 starts small and
    /// doubles as needed.</param>
    public T5Cache(int layers, long capacity = 0)
    {
        Capacity = capacity;
        Layers = Enumerable.Range(0, layers).Select(_ => new T5LayerCache(capacity)).ToArray();
    }

    public IReadOnlyList<T5LayerCache> Layers { get; }

    /// <summary>Decoder positions allocated up front (0: grown as needed).</summary>
    public long Capacity { get; }

    /// <summary>Decoder positions already cached.</summary>
    public long Length { get; private set; }

    /// <summary>Relative position bias plus the causal mask for queries and keys 0..n-1, [1, H, n, n]; a step's bias
    /// is a slice of it. Null until the first step without a decoder attention mask.</summary>
    internal Tensor? CausalBias { get; private set; }

    /// <summary>The additive padding mask of the encoder output, [B, 1, 1, source]; the same at every step.</summary>
    internal Tensor? CrossBias { get; private set; }

    internal void SetCausalBias(Tensor bias) { CausalBias?.Dispose(); CausalBias = bias.alias().DetachFromDisposeScope(); }

    internal void SetCrossBias(Tensor bias) { CrossBias?.Dispose(); CrossBias = bias.alias().DetachFromDisposeScope(); }

    internal void Advance(long steps) => Length += steps;

    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
        CausalBias?.Dispose(); CrossBias?.Dispose();
        CausalBias = CrossBias = null;
    }
}
