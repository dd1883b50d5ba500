using RlhfKit.Generation;
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

    public void Dispose()
    {
        _selfKey?.Dispose(); _selfValue?.Dispose(); CrossKey?.Dispose(); CrossValue?.Dispose();
        _selfKey = _selfValue = CrossKey = CrossValue = null;
    }
}

/// <summary>The decoder's cache: one <see cref="T5LayerCache"/> per block and the number of positions seen.</summary>
public sealed class T5Cache : IDecoderCache
{
    public T5Cache(int layers) => Layers = Enumerable.Range(0, layers).Select(_ => new T5LayerCache()).ToArray();

    public IReadOnlyList<T5LayerCache> Layers { get; }

    /// <summary>Decoder positions already cached.</summary>
    public long Length { get; private set; }

    internal void Advance(long steps) => Length += steps;

    public void Dispose() { foreach (var l in Layers) l.Dispose(); }
}
