using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>Element types the checkpoint formats name, and their sizes.</summary>
internal static class DTypes
{
    static readonly (string Safetensors, ScalarType Type, int Size)[] Table =
    [
        ("F64", ScalarType.Float64, 8),
        ("F32", ScalarType.Float32, 4),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
        ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>PyTorch's legacy typed storage classes (<c>torch.FloatStorage</c>, ...) by class name.</summary>
    static readonly Dictionary<string, ScalarType> StorageClasses = new()
    {
        ["DoubleStorage"] = ScalarType.Float64,
        ["FloatStorage"] = ScalarType.Float32,
        ["HalfStorage"] = ScalarType.Float16,
        ["BFloat16Storage"] = ScalarType.BFloat16,
        ["LongStorage"] = ScalarType.Int64,
        ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16,
        ["CharStorage"] = ScalarType.Int8,
        ["ByteStorage"] = ScalarType.Byte,
        ["BoolStorage"] = ScalarType.Bool,
        // Untyped storages count bytes.
        ["UntypedStorage"] = ScalarType.Byte,
    };

    /// <summary><c>torch.float32</c> and friends, which new-style pickles may name as globals.</summary>
    static readonly Dictionary<string, ScalarType> TorchDtypes = new()
    {
        ["float64"] = ScalarType.Float64, ["double"] = ScalarType.Float64,
        ["float32"] = ScalarType.Float32, ["float"] = ScalarType.Float32,
        ["float16"] = ScalarType.Float16, ["half"] = ScalarType.Float16,
        ["bfloat16"] = ScalarType.BFloat16,
        ["int64"] = ScalarType.Int64, ["long"] = ScalarType.Int64,
        ["int32"] = ScalarType.Int32, ["int"] = ScalarType.Int32,
        ["int16"] = ScalarType.Int16, ["short"] = ScalarType.Int16,
        ["int8"] = ScalarType.Int8, ["uint8"] = ScalarType.Byte,
        ["bool"] = ScalarType.Bool,
    };

    public static IEnumerable<string> SafetensorsNames => Table.Select(t => t.Safetensors);

    public static bool TryFromSafetensors(string name, out ScalarType type)
    {
        foreach (var t in Table)
            if (t.Safetensors == name) { type = t.Type; return true; }
        type = default;
        return false;
    }

    public static string? ToSafetensors(ScalarType type)
    {
        foreach (var t in Table)
            if (t.Type == type) return t.Safetensors;
        return null;
    }

    public static int Size(ScalarType type)
    {
        foreach (var t in Table)
            if (t.Type == type) return t.Size;
        throw new NotSupportedException($"element type {type} is not supported by the checkpoint code");
    }

    public static bool TryStorageClass(string name, out ScalarType type) => StorageClasses.TryGetValue(name, out type);

    public static bool TryTorchDtype(string name, out ScalarType type) => TorchDtypes.TryGetValue(name, out type);

    public static IEnumerable<string> StorageClassNames => StorageClasses.Keys;

    public static bool IsFloating(ScalarType type) =>
        type is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>Converts floating tensors to <paramref name="dtype"/>; integer and bool tensors (position ids, masks)
    /// keep their type. Disposes the input when a new tensor was made.</summary>
    public static Tensor Convert(Tensor t, ScalarType? dtype)
    {
        if (dtype is not { } want || t.dtype == want || !IsFloating(t.dtype)) return t;
        var converted = t.to_type(want);
        t.Dispose();
        return converted;
    }
}
