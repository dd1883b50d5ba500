using static TorchSharp.torch;

namespace RlhfKit.Common;

/// <summary>Right padding of token rows into a batch, the one padding path of the kit (T5's relative positions need
/// right padding): <c>ids[b, t] = rows[b][t]</c> for <c>t &lt; len(rows[b])</c>, else <c>pad</c>;
/// <c>mask[b, t] = 1</c> on real tokens, 0 on padding. An all-empty batch gets one padded column.</summary>
public static class Batching
{
    public static (Tensor Ids, Tensor Mask) PadRight(IReadOnlyList<long[]> rows, long pad)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException("Cannot pad an empty batch: it has no rows.", nameof(rows));
        int length = Math.Max(1, rows.Max(r => r.Length));
        var ids = new long[rows.Count * length];
        var mask = new long[rows.Count * length];
        Array.Fill(ids, pad);
        for (int b = 0; b < rows.Count; b++)
        {
            Array.Copy(rows[b], 0, ids, b * length, rows[b].Length);
            Array.Fill(mask, 1L, b * length, rows[b].Length);
        }
        using var scope = NewDisposeScope();
        return (tensor(ids).reshape(rows.Count, length).MoveToOuterDisposeScope(), tensor(mask).reshape(rows.Count, length).MoveToOuterDisposeScope());
    }
}
