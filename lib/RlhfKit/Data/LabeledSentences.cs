using System.Text.Json;

namespace RlhfKit.Data;

/// <summary>Labelled sentences for training classifiers: JSONL lines of <c>{"text": "...", "label": 0}</c>, an
/// unacceptable one optionally with the <c>"source"</c> it was corrupted from.</summary>
public static class LabeledSentences
{
    public static IReadOnlyList<(string Text, int Label)> FromJsonl(string path, int numLabels)
    {
        var rows = Read(path, row =>
        {
            var text = row.GetProperty("text").GetString() ?? throw new InvalidDataException("\"text\" is null");
            var label = row.GetProperty("label").GetInt32();
            if (label < 0 || label >= numLabels) throw new InvalidDataException($"label {label} is outside 0..{numLabels - 1}");
            return (text, label);
        });
        if (rows.Count == 0) throw new InvalidDataException($"{path} holds no labelled sentences.");
        return rows;
    }

    /// <summary>Each line's optional <c>"source"</c>, in the order of <see cref="FromJsonl"/>: the fluent sentence a
    /// corrupted one was made from, null where the line has none.</summary>
    public static IReadOnlyList<string?> SourcesFromJsonl(string path) =>
        Read(path, row => row.TryGetProperty("source", out var source)
            ? source.GetString() ?? throw new InvalidDataException("\"source\" is null")
            : null);

    /// <summary>One value per non-blank line; a line that does not parse is an error naming the file and line.</summary>
    static List<T> Read<T>(string path, Func<JsonElement, T> parse)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Labelled sentences not found: {path}", path);
        var rows = new List<T>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                rows.Add(parse(doc.RootElement));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or InvalidDataException)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: {e.Message}", e);
            }
        }
        return rows;
    }
}
