using System.Text.Json;

namespace RlhfKit.Tokenization;

/// <summary>File checks with errors that name the file and what is wrong with it.</summary>
internal static class TokenizerFiles
{
    /// <summary>The file's bytes; <see cref="FileNotFoundException"/> when missing, <see cref="InvalidDataException"/> when empty.</summary>
    public static byte[] ReadRequired(string path, string what)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{what} file '{Path.GetFullPath(path)}' does not exist.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes.All(b => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            throw new InvalidDataException($"{what} file '{Path.GetFullPath(path)}' is empty.");
        return bytes;
    }

    public static string RequireFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"tokenizer folder '{Path.GetFullPath(folder)}' does not exist.");
        return folder;
    }

    /// <summary>A JSON object from <paramref name="folder"/>/<paramref name="name"/>, or null when the file is absent.</summary>
    public static JsonElement? ReadOptionalJson(string folder, string name)
    {
        var path = Path.Combine(folder, name);
        if (!File.Exists(path)) return null;
        var bytes = File.ReadAllBytes(path);
        // JsonDocument checks UTF-8 only when a string is read, and then throws InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new InvalidDataException($"'{Path.GetFullPath(path)}' is not valid UTF-8.");
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"'{Path.GetFullPath(path)}' must hold a JSON object, not {doc.RootElement.ValueKind}.");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{Path.GetFullPath(path)}' is not valid JSON: {e.Message}", e);
        }
    }

    public static int? Int(JsonElement? obj, string property)
    {
        if (obj is not JsonElement o || !o.TryGetProperty(property, out var v) || v.ValueKind != JsonValueKind.Number) return null;
        if (v.TryGetInt32(out var i)) return i;
        // HF writes "no limit" as 1e30 (VERY_LARGE_INTEGER).
        return v.TryGetDouble(out var d) && d > int.MaxValue ? int.MaxValue : null;
    }

    public static bool? Bool(JsonElement? obj, string property) =>
        obj is JsonElement o && o.TryGetProperty(property, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean() : null;

    public static string? String(JsonElement? obj, string property) =>
        obj is JsonElement o && o.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>HF's <c>model_max_length</c> from tokenizer_config.json; values above the kit's sane limit mean "unset".</summary>
    public static int ModelMaxLength(JsonElement? tokenizerConfig, int fallback) =>
        Int(tokenizerConfig, "model_max_length") is int m && m > 0 && m < 1_000_000 ? m : fallback;

    public static bool IsFatal(Exception e) => e is OutOfMemoryException or StackOverflowException or AccessViolationException;
}
