using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfKit.Models;

/// <summary>Reads the fields of a config.json with errors that name the field and the file, and remembers which
/// fields were read so the rest can be kept (and written back) verbatim.</summary>
internal sealed class ConfigFields
{
    readonly JsonElement _root;
    readonly HashSet<string> _used = [];

    public string Source { get; }

    ConfigFields(JsonElement root, string source)
    {
        _root = root;
        Source = source;
    }

    public static JsonDocument Parse(string json, string source)
    {
        try
        {
            var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
            if (doc.RootElement.ValueKind is var kind && kind != JsonValueKind.Object)
            {
                doc.Dispose(); // (the kind is read before: a disposed document throws ObjectDisposedException)
                throw new InvalidDataException($"config '{source}' holds a JSON {kind}, not an object");
            }
            return doc;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"config '{source}' is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}): {e.Message}", e);
        }
    }

    public static ConfigFields Of(JsonDocument doc, string source) => new(doc.RootElement, source);

    InvalidDataException Wrong(string name, string expected, JsonElement got) =>
        new($"config '{Source}': field '{name}' must be {expected}, got {got.ValueKind} {Truncate(got.GetRawText())}");

    static string Truncate(string s) => s.Length > 60 ? s[..60] + "..." : s;

    /// <summary>The field's value, or null when absent or JSON null.</summary>
    JsonElement? Get(string name)
    {
        _used.Add(name);
        return _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
    }

    public bool Has(string name) => Get(name) is not null;

    JsonElement Required(string name) =>
        Get(name) ?? throw new InvalidDataException($"config '{Source}' lacks the required field '{name}'");

    int AsInt(string name, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Wrong(name, "an integer", v);

    double AsDouble(string name, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Wrong(name, "a number", v);

    string AsString(string name, JsonElement v) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Wrong(name, "a string", v);

    bool AsBool(string name, JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Wrong(name, "true or false", v),
    };

    public int RequiredInt(string name) => AsInt(name, Required(name));
    public int Int(string name, int fallback) => Get(name) is { } v ? AsInt(name, v) : fallback;
    public int? OptionalInt(string name) => Get(name) is { } v ? AsInt(name, v) : null;
    public double Double(string name, double fallback) => Get(name) is { } v ? AsDouble(name, v) : fallback;
    public double? OptionalDouble(string name) => Get(name) is { } v ? AsDouble(name, v) : null;
    public string RequiredString(string name) => AsString(name, Required(name));
    public string String(string name, string fallback) => Get(name) is { } v ? AsString(name, v) : fallback;
    public string? OptionalString(string name) => Get(name) is { } v ? AsString(name, v) : null;
    public bool Bool(string name, bool fallback) => Get(name) is { } v ? AsBool(name, v) : fallback;

    public IReadOnlyList<string> StringList(string name)
    {
        if (Get(name) is not { } v) return [];
        if (v.ValueKind != JsonValueKind.Array) throw Wrong(name, "a list of strings", v);
        return v.EnumerateArray().Select(x => AsString(name, x)).ToList();
    }

    /// <summary>Labels ordered by id: from <c>id2label</c> (ids must be 0..n-1), else <c>num_labels</c> or 2 labels
    /// named <c>LABEL_i</c>, as transformers does.</summary>
    public IReadOnlyList<string> Labels()
    {
        Get("label2id"); // derived from id2label; read so it is not kept as an extra field
        var numLabels = OptionalInt("num_labels");
        if (Get("id2label") is { } map)
        {
            if (map.ValueKind != JsonValueKind.Object) throw Wrong("id2label", "an object of id -> label", map);
            var byId = new SortedDictionary<int, string>();
            foreach (var p in map.EnumerateObject())
            {
                if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                    throw new InvalidDataException($"config '{Source}': id2label key '{p.Name}' is not a non-negative integer");
                if (!byId.TryAdd(id, AsString($"id2label.{p.Name}", p.Value)))
                    throw new InvalidDataException($"config '{Source}': id2label has id {id} twice");
            }
            var expected = 0;
            foreach (var id in byId.Keys)
                if (id != expected++) throw new InvalidDataException($"config '{Source}': id2label ids must be 0..{byId.Count - 1}; found {string.Join(", ", byId.Keys)}");
            return byId.Values.ToList();
        }
        var n = numLabels ?? 2;
        if (n < 1) throw new InvalidDataException($"config '{Source}': num_labels must be at least 1, got {n}");
        return Enumerable.Range(0, n).Select(i => $"LABEL_{i}").ToList();
    }

    /// <summary>Every field not read, as JSON nodes, to be written back unchanged.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Rest()
    {
        var rest = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var p in _root.EnumerateObject())
            if (!_used.Contains(p.Name)) rest[p.Name] = JsonNode.Parse(p.Value.GetRawText());
        return rest;
    }
}
