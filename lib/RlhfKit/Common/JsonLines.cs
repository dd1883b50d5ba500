using System.Text.Json;

namespace RlhfKit;

/// <summary>JSON Lines read object by object: blank lines are skipped, every other line must be one JSON object, and each
/// error names the file and the line as <c>path:line</c>. The news articles, the preference pairs and the lessons'
/// recorded answers all read through it.</summary>
public static class JsonLines
{
    /// <summary>Each object with where it stands (<c>path:line</c>, for the caller's own field errors). The element is valid
    /// until the enumeration moves on. <paramref name="what"/> names the file's role in the not-found message.</summary>
    public static IEnumerable<(string At, JsonElement Row)> Objects(string path, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} not found: {Path.GetFullPath(path)}", path);
        return Read(path);
    }

    static IEnumerable<(string At, JsonElement Row)> Read(string path)
    {
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var at = $"{path}:{lineNumber}";
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new InvalidDataException($"{at}: not valid JSON, so not a JSON object ({e.Message}).", e); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{at}: expected a JSON object per line, found {doc.RootElement.ValueKind}.");
                yield return (at, doc.RootElement);
            }
        }
    }
}
