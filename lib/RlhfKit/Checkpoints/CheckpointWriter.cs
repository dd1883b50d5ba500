using RlhfKit.Models;
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

    /// <summary>
    /// Writes a model folder Python <c>transformers</c> can load: <c>model.safetensors</c> (without the config's tied
    /// duplicates, <see cref="PretrainedConfig.TiedWeights"/>), the extra files (name -> contents, e.g.
    /// <c>generation_config.json</c> or <c>spiece.model</c>), then <c>config.json</c>. Each file is written atomically and
    /// config.json last, so a folder with a config.json is complete.
    /// </summary>
    /// <exception cref="InvalidOperationException">a tied duplicate differs from its tie target (dropping it would lose weights).</exception>
    public static void SaveHfFolder(string folder, PretrainedConfig config, IDictionary<string, Tensor> stateDict,
        IReadOnlyDictionary<string, byte[]>? extraFiles = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(stateDict);
        var drop = new List<string>();
        foreach (var (key, targetKey) in config.TiedWeights)
        {
            if (!stateDict.TryGetValue(key, out var tiedTensor)) continue;
            if (!stateDict.TryGetValue(targetKey, out var target))
                throw new InvalidOperationException($"cannot leave out '{key}' (tied to '{targetKey}'): '{targetKey}' is not in the state dict");
            if (!SameValues(tiedTensor, target))
                throw new InvalidOperationException(
                    $"'{key}' differs from its tie target '{targetKey}'; the config ties them, so saving would lose '{key}' " +
                    "(untie in the config or re-tie the weights first)");
            drop.Add(key);
        }

        Directory.CreateDirectory(folder);
        if (extraFiles is not null)
        {
            foreach (var (name, bytes) in extraFiles)
            {
                if (string.IsNullOrEmpty(name) || Path.GetFileName(name) != name || name is "." or ".." || name is "config.json" or "model.safetensors")
                    throw new ArgumentException($"extra file name '{name}' must be a plain file name other than config.json and model.safetensors", nameof(extraFiles));
            }
        }
        SaveSafetensors(stateDict, Path.Combine(folder, "model.safetensors"), DefaultMetadata, drop);
        if (extraFiles is not null)
            foreach (var (name, bytes) in extraFiles)
                AtomicFile.WriteAllBytes(Path.Combine(folder, name), bytes);
        config.Save(folder);
    }

    static bool SameValues(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != b.dtype) return false;
        using var ac = a.detach().cpu();
        using var bc = b.detach().cpu();
        using var eq = ac.eq(bc);
        using var all = eq.all();
        return all.item<bool>();
    }
}
