using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>Writes checkpoints as safetensors (the only form the kit writes: PyTorch pickles with tied weights do
/// not read back reliably), every file atomically.</summary>
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
}
