using RlhfKit.Checkpoints;
using RlhfKit.Common;
using RlhfKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Loading;

/// <summary>Model folders in Hugging Face's layout (<c>config.json</c> + <c>model.safetensors</c> + tokenizer files),
/// written so that Python <c>transformers</c>' <c>from_pretrained</c> and the kit's <see cref="AutoModel"/> both load them.</summary>
public static class PretrainedFolder
{
    /// <summary>
    /// Writes a model folder Python <c>transformers</c> can load: <c>model.safetensors</c> (without the config's tied
    /// duplicates, <see cref="PretrainedConfig.TiedWeights"/>), the extra files (name -> contents, e.g.
    /// <c>generation_config.json</c> or <c>spiece.model</c>), then <c>config.json</c>. Each file is written atomically and
    /// config.json last, so a folder with a config.json is complete.
    /// </summary>
    /// <exception cref="InvalidOperationException">a tied duplicate differs from its tie target (dropping it would lose weights).</exception>
    public static void Save(string folder, PretrainedConfig config, IDictionary<string, Tensor> stateDict,
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
        CheckpointWriter.SaveSafetensors(stateDict, Path.Combine(folder, "model.safetensors"), CheckpointWriter.DefaultMetadata, drop);
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
