using TorchSharp;

namespace RlhfKit.Tokenization;

/// <summary>
/// A tokenized batch, as HF's <c>BatchEncoding</c>: <c>input_ids</c> and <c>attention_mask</c> both as plain id lists
/// and as int64 tensors of shape [batch, len]. The tensors are made on first use (on the CPU) and disposed with this
/// object; they need equal row lengths, which <c>padding: true</c> guarantees.
/// </summary>
public sealed class BatchEncoding : IDisposable
{
    torch.Tensor? _inputIds, _attentionMask;
    bool _disposed;

    internal BatchEncoding(IReadOnlyList<IReadOnlyList<int>> inputIds, IReadOnlyList<IReadOnlyList<int>> attentionMask, IReadOnlyList<int> lengths)
    {
        InputIdsList = inputIds;
        AttentionMaskList = attentionMask;
        Lengths = lengths;
    }

    /// <summary>The ids of each row (padded when the batch was padded).</summary>
    public IReadOnlyList<IReadOnlyList<int>> InputIdsList { get; }
    /// <summary>1 for real tokens, 0 for padding, per row.</summary>
    public IReadOnlyList<IReadOnlyList<int>> AttentionMaskList { get; }
    /// <summary>The number of real (unpadded) tokens in each row.</summary>
    public IReadOnlyList<int> Lengths { get; }
    public int BatchSize => InputIdsList.Count;
    /// <summary>The length of the longest row.</summary>
    public int SequenceLength => InputIdsList.Count == 0 ? 0 : InputIdsList.Max(r => r.Count);

    /// <summary><c>input_ids</c>, int64 [batch, len].</summary>
    public torch.Tensor InputIds => _inputIds ??= ToTensor(InputIdsList, "input_ids");
    /// <summary><c>attention_mask</c>, int64 [batch, len].</summary>
    public torch.Tensor AttentionMask => _attentionMask ??= ToTensor(AttentionMaskList, "attention_mask");

    /// <summary>HF-style access by key: <c>"input_ids"</c> or <c>"attention_mask"</c>.</summary>
    public torch.Tensor this[string key] => key switch
    {
        "input_ids" => InputIds,
        "attention_mask" => AttentionMask,
        _ => throw new KeyNotFoundException($"'{key}' is not in this BatchEncoding (it has input_ids and attention_mask)."),
    };

    torch.Tensor ToTensor(IReadOnlyList<IReadOnlyList<int>> rows, string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var width = SequenceLength;
        for (int i = 0; i < rows.Count; i++)
            if (rows[i].Count != width)
                throw new InvalidOperationException(
                    $"cannot make a {name} tensor: row {i} has {rows[i].Count} ids but the longest has {width}; encode with padding: true.");
        var flat = new long[rows.Count * width];
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < width; j++) flat[i * width + j] = rows[i][j];
        return torch.tensor(flat, [rows.Count, width], dtype: torch.int64);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _inputIds?.Dispose();
        _attentionMask?.Dispose();
    }
}
