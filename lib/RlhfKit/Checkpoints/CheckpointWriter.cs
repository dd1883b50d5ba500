using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>Writes checkpoints, every file atomically: safetensors for models (the kit's form), and PyTorch's zip
/// pickle for the small state dicts that Python tools look for only in <c>pytorch_model.bin</c> (TRL 0.7.1's value
/// head).</summary>
public static class CheckpointWriter
{
    /// <summary>The metadata Hugging Face writes and expects: <c>{"format": "pt"}</c>.</summary>
    public static IReadOnlyDictionary<string, string> DefaultMetadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> as safetensors (sorted by name, on the CPU,
    /// contiguous), leaving out <paramref name="dropKeys"/> (tied duplicates, as Hugging Face leaves them out).</summary>
    public static void SaveSafetensors(IDictionary<string, Tensor> tensors, string path,
        IReadOnlyDictionary<string, string>? metadata = null, IEnumerable<string>? dropKeys = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var drop = new HashSet<string>(dropKeys ?? []);
        var kept = tensors.Where(kv => !drop.Contains(kv.Key)).Select(kv => (kv.Key, kv.Value)).ToList();
        AtomicFile.Write(path, stream => Safetensors.Write(stream, kept, metadata ?? DefaultMetadata));
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> in PyTorch's zip form, as <c>torch.save(state_dict)</c>
    /// does (in the given order, on the CPU, contiguous, one storage per tensor), so that <c>torch.load</c> and the kit's
    /// <see cref="CheckpointReader"/> both read it back. Floating, int32/int64 and bool tensors are supported.
    /// </summary>
    /// <exception cref="NotSupportedException">a tensor of another element type, or over 2 GiB.</exception>
    public static void SavePyTorch(IEnumerable<KeyValuePair<string, Tensor>> tensors, string path)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.Select(kv => (kv.Key, kv.Value)).ToList();
        AtomicFile.Write(path, stream => TorchPickleWriter.Write(stream, list));
    }
}
