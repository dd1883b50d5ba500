using System.Text.Json;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>The forms a weights file can take.</summary>
public enum CheckpointFormat
{
    /// <summary>safetensors: JSON header plus raw data.</summary>
    Safetensors,
    /// <summary>PyTorch 1.6+ <c>torch.save</c>: a zip archive with <c>data.pkl</c> and one entry per storage.</summary>
    PyTorchZip,
    /// <summary>PyTorch before 1.6: a run of pickles with the storages appended.</summary>
    PyTorchLegacy,
    /// <summary>A Hugging Face shard index (<c>*.index.json</c> with a <c>weight_map</c>).</summary>
    ShardIndex,
}

/// <summary>
/// Reads state dicts from Hugging Face weight files in any of their forms, chosen by content, not by name.
/// PyTorch pickles are parsed by the kit's own whitelisting reader: nothing in the file is ever executed, and a
/// pickle that names anything beyond what a state dict needs is refused with the global's name.
/// </summary>
public static class CheckpointReader
{
    /// <summary>The weight files <see cref="FindWeights"/> looks for, in order of preference.</summary>
    public static IReadOnlyList<string> WeightFileNames { get; } =
        ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>The weights file of a model folder: <c>model.safetensors</c>, else its shard index, else
    /// <c>pytorch_model.bin</c>, else its shard index. Throws <see cref="FileNotFoundException"/> naming what was looked for.</summary>
    public static string FindWeights(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"model folder '{folder}' does not exist");
        foreach (var name in WeightFileNames)
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
        }
        var present = Directory.EnumerateFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var hint = present.Any(p => p is "tf_model.h5" or "flax_model.msgpack")
            ? " (only TensorFlow/Flax weights are present: convert them to PyTorch or safetensors first)" : "";
        throw new FileNotFoundException(
            $"no weights in '{folder}': looked for {string.Join(", ", WeightFileNames)}{hint}; the folder holds: " +
            (present.Count == 0 ? "nothing" : string.Join(", ", present)));
    }

    /// <summary>Which form <paramref name="path"/> is in, from its first bytes (and, for safetensors with a damaged
    /// header and for shard indexes, its name).</summary>
    public static CheckpointFormat DetectFormat(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint file '{path}' does not exist", path);
        using var fs = File.OpenRead(path);
        Span<byte> head = stackalloc byte[512];
        var n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return CheckpointFormat.PyTorchZip;
        if (Safetensors.Sniff(head, fs.Length)) return CheckpointFormat.Safetensors;
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5) return CheckpointFormat.PyTorchLegacy;
        if (path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)) return CheckpointFormat.ShardIndex;
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return CheckpointFormat.Safetensors; // damaged: let the reader say how
        if (n >= 262 && System.Text.Encoding.ASCII.GetString(head.Slice(257, 5)) == "ustar")
            throw CheckpointError.Format(path, "is a tar archive: PyTorch's tar checkpoint form (before 0.4) is not supported; re-save it with a newer PyTorch");
        if (n == 0) throw CheckpointError.Format(path, "is empty");
        throw CheckpointError.Format(path,
            $"is not a recognised checkpoint (safetensors, PyTorch zip or legacy pickle); it starts with {Convert.ToHexString(head[..Math.Min(n, 16)])}");
    }

    /// <summary>Reads every tensor of a weights file (or, given a shard index, of all its shards). Floating tensors are
    /// converted to <paramref name="dtype"/> when given; integer and bool tensors keep their type. Tensors that shared
    /// a storage in a PyTorch file share memory in the result, as after <c>torch.load</c>.</summary>
    /// <param name="maxBytes">When given, the most bytes of tensor data the caller can use (e.g. what the model being
    /// loaded holds): a file whose tensors need more is refused before any of them is read.</param>
    /// <exception cref="InvalidDataException">the file is damaged, truncated or of an unsupported form, or its pickle names a global outside the state-dict whitelist.</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path, ScalarType? dtype = null, long? maxBytes = null)
    {
        if (dtype is { } d && !DTypes.IsFloating(d))
            throw new ArgumentException($"dtype {d} is not a floating type; only floating tensors are converted", nameof(dtype));
        return Guard(path, () => DetectFormat(path) switch
        {
            CheckpointFormat.Safetensors => Safetensors.Read(path, dtype, maxBytes),
            CheckpointFormat.PyTorchZip => TorchPickle.ReadZip(path, dtype, maxBytes),
            CheckpointFormat.PyTorchLegacy => TorchPickle.ReadLegacy(path, dtype, maxBytes),
            CheckpointFormat.ShardIndex => ReadSharded(path, dtype, maxBytes),
            var f => throw new NotSupportedException(f.ToString()),
        });
    }

    /// <summary>The names of the tensors a weights file holds (for a shard index: its <c>weight_map</c>), read from the
    /// headers and pickles only, without reading any tensor data.</summary>
    /// <exception cref="InvalidDataException">as for <see cref="ReadStateDict"/>.</exception>
    public static IReadOnlyList<string> TensorNames(string path) => Guard<IReadOnlyList<string>>(path, () => DetectFormat(path) switch
    {
        CheckpointFormat.Safetensors => SafetensorsNames(path),
        CheckpointFormat.PyTorchZip => TorchPickle.ZipTensorNames(path),
        CheckpointFormat.PyTorchLegacy => TorchPickle.LegacyTensorNames(path),
        CheckpointFormat.ShardIndex => ReadWeightMap(path).Keys.ToList(),
        var f => throw new NotSupportedException(f.ToString()),
    });

    static List<string> SafetensorsNames(string path)
    {
        using var stream = File.OpenRead(path);
        return Safetensors.ReadHeader(path, stream).Entries.Select(e => e.Name).ToList();
    }

    /// <summary>Turns the exceptions the readers let through into <see cref="InvalidDataException"/>s naming the file.</summary>
    static T Guard<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (EndOfStreamException e)
        {
            throw CheckpointError.Format(path, $"ends early (truncated): {e.Message}", inner: e);
        }
        catch (InvalidDataException e) when (CheckpointError.FileOf(e) is null)
        {
            // From System.IO.Compression, which reads a zip's central directory lazily and names no file.
            throw CheckpointError.Format(path, $"is damaged: {e.Message}", inner: e);
        }
        catch (OverflowException e)
        {
            throw CheckpointError.Format(path, $"declares sizes too large to be real: {e.Message}", inner: e);
        }
    }

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        var bytes = File.ReadAllBytes(indexPath);
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw CheckpointError.Format(indexPath, "shard index is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException e)
        {
            throw CheckpointError.Format(indexPath, $"shard index is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", inner: e);
        }
        var weightMap = new Dictionary<string, string>();
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw CheckpointError.Format(indexPath, "shard index has no \"weight_map\" object");
            foreach (var p in map.EnumerateObject())
            {
                var shard = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw CheckpointError.Format(indexPath, "shard name is not a string", p.Name);
                if (shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or "..")
                    throw CheckpointError.Format(indexPath, $"shard name '{shard}' is not a plain file name", p.Name);
                weightMap[p.Name] = shard;
            }
        }
        return weightMap;
    }

    static Dictionary<string, Tensor> ReadSharded(string indexPath, ScalarType? dtype, long? maxBytes)
    {
        var weightMap = ReadWeightMap(indexPath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var shard in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var shardPath = Path.Combine(folder, shard);
                if (!File.Exists(shardPath)) throw CheckpointError.Format(indexPath, $"shard '{shard}' is missing from '{folder}'");
                if (DetectFormat(shardPath) == CheckpointFormat.ShardIndex) throw CheckpointError.Format(indexPath, $"shard '{shard}' is itself an index");
                // The budget covers all shards together: each shard gets what the earlier ones left.
                var left = maxBytes is { } budget ? budget - result.Values.Sum(t => t.numel() * t.element_size()) : (long?)null;
                foreach (var (k, v) in ReadStateDict(shardPath, dtype, left))
                {
                    if (!result.TryAdd(k, v))
                    {
                        v.Dispose();
                        throw CheckpointError.Format(shardPath, "tensor appears in more than one shard", k);
                    }
                }
            }
            foreach (var (key, shard) in weightMap)
                if (!result.ContainsKey(key))
                    throw CheckpointError.Format(Path.Combine(folder, shard), $"the index '{Path.GetFileName(indexPath)}' puts this tensor here but the shard lacks it", key);
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }
}
