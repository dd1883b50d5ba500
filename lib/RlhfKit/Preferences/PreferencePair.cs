using System.Text;
using System.Text.Json;
using RlhfKit.Common;
using Parquet;
using Parquet.Schema;

namespace RlhfKit.Preferences;

/// <summary>
/// One human (or AI) judgement: for <see cref="Prompt"/>, the response <see cref="Chosen"/> is preferred over
/// <see cref="Rejected"/>. The names are TRL's dataset columns (<c>prompt</c>, <c>chosen</c>, <c>rejected</c>), so a
/// file written here loads with <c>datasets.load_dataset("json", ...)</c> straight into TRL's <c>DPOTrainer</c>.
/// The prompt is the policy's input exactly as it reads it (for the kit's summarizer: <c>"summarize: " + article</c>);
/// chosen and rejected are responses only, without the prompt.
/// </summary>
public sealed record PreferencePair(string Prompt, string Chosen, string Rejected);

/// <summary>
/// Reads and writes preference pairs as JSON Lines (<c>.jsonl</c>, one <c>{"prompt", "chosen", "rejected"}</c> object a
/// line) or parquet (<c>.parquet</c>, three string columns), and refuses files a trainer could not use, naming the file
/// and line (or parquet row): a missing column, a null or blank string, chosen equal to rejected, or the same
/// (prompt, chosen, rejected) twice. Extra columns are ignored (TRL ignores them too).
/// </summary>
public static class PreferenceData
{
    /// <summary>TRL's column names.</summary>
    public static readonly string[] Columns = ["prompt", "chosen", "rejected"];

    /// <summary>Reads <paramref name="path"/> by its extension (<c>.jsonl</c>/<c>.json</c> or <c>.parquet</c>).</summary>
    public static IReadOnlyList<PreferencePair> Read(string path) =>
        IsParquet(path) ? ReadParquet(path) : ReadJsonl(path);

    /// <summary>Writes <paramref name="pairs"/> to <paramref name="path"/> by its extension, atomically.</summary>
    public static void Write(string path, IReadOnlyList<PreferencePair> pairs)
    {
        if (IsParquet(path)) WriteParquet(path, pairs);
        else WriteJsonl(path, pairs);
    }

    static bool IsParquet(string path) => Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase);

    public static IReadOnlyList<PreferencePair> ReadJsonl(string path)
    {
        var pairs = new List<PreferencePair>();
        var where = new List<string>();
        foreach (var (at, row) in JsonLines.Objects(path, "Preference file"))
        {
            string Field(string name)
            {
                if (!row.TryGetProperty(name, out var value))
                {
                    var present = row.EnumerateObject().Select(p => p.Name).ToList();
                    throw new InvalidDataException($"{at}: missing column \"{name}\" (TRL's preference columns are {Quoted()}; this line has {(present.Count == 0 ? "none" : string.Join(", ", present.Select(p => $"\"{p}\"")))}).");
                }
                if (value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{at}: \"{name}\" must be a string, got {value.ValueKind}.");
                return value.GetString()!;
            }
            pairs.Add(new PreferencePair(Field("prompt"), Field("chosen"), Field("rejected")));
            where.Add(at);
        }
        Check(pairs, where, path);
        return pairs;
    }

    public static void WriteJsonl(string path, IReadOnlyList<PreferencePair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        Check(pairs, pairs.Select((_, i) => $"pairs[{i}]").ToList(), "the pairs to write");
        var text = new StringBuilder();
        foreach (var p in pairs)
            text.Append(JsonSerializer.Serialize(new Dictionary<string, string> { ["prompt"] = p.Prompt, ["chosen"] = p.Chosen, ["rejected"] = p.Rejected })).Append('\n');
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(path, text.ToString());
    }

    public static IReadOnlyList<PreferencePair> ReadParquet(string path) =>
        Task.Run(() => ReadParquetAsync(path)).GetAwaiter().GetResult(); // off the caller's synchronization context

    static async Task<IReadOnlyList<PreferencePair>> ReadParquetAsync(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Preference file not found: {Path.GetFullPath(path)}", path);
        ParquetReader reader;
        try { reader = await ParquetReader.CreateAsync(path); }
        catch (IOException e) when (e is not FileNotFoundException) { throw new InvalidDataException($"{path} is not a readable parquet file ({e.Message}).", e); }
        await using (reader)
        {
            var names = reader.Schema.Fields.Select(f => f.Name).ToList();
            DataField Column(string name)
            {
                var field = reader.Schema.Fields.FirstOrDefault(f => f.Name == name)
                    ?? throw new InvalidDataException($"{path}: missing column \"{name}\" (TRL's preference columns are {Quoted()}; the file has {string.Join(", ", names.Select(n => $"\"{n}\""))}).");
                if (field is not DataField data || data.IsArray || (data.ClrType != typeof(string) && data.ClrType != typeof(ReadOnlyMemory<char>)))
                    throw new InvalidDataException($"{path}: column \"{name}\" must hold plain strings.");
                return data;
            }
            var fields = Columns.Select(Column).ToArray();
            var pairs = new List<PreferencePair>();
            var where = new List<string>();
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var n = checked((int)group.RowCount);
                var values = new string?[3][];
                for (int c = 0; c < 3; c++)
                {
                    values[c] = new string?[n];
                    await group.ReadAsync(fields[c], values[c].AsMemory(), null, default);
                }
                for (int i = 0; i < n; i++)
                {
                    var at = $"{path}: row {pairs.Count}";
                    for (int c = 0; c < 3; c++)
                        if (values[c][i] is null) throw new InvalidDataException($"{at}: \"{Columns[c]}\" is null.");
                    pairs.Add(new PreferencePair(values[0][i]!, values[1][i]!, values[2][i]!));
                    where.Add(at);
                }
            }
            Check(pairs, where, path);
            return pairs;
        }
    }

    public static void WriteParquet(string path, IReadOnlyList<PreferencePair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        Check(pairs, pairs.Select((_, i) => $"pairs[{i}]").ToList(), "the pairs to write");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.Write(path, stream => Task.Run(async () =>
        {
            var fields = Columns.Select(c => new DataField<string>(c)).ToArray();
            var schema = new ParquetSchema(fields);
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(fields[0], pairs.Select(p => p.Prompt).ToArray(), null);
            await group.WriteAsync(fields[1], pairs.Select(p => p.Chosen).ToArray(), null);
            await group.WriteAsync(fields[2], pairs.Select(p => p.Rejected).ToArray(), null);
        }).GetAwaiter().GetResult());
    }

    /// <summary>Refuses blank strings, chosen == rejected, and repeated pairs; <paramref name="where"/> names each row.</summary>
    static void Check(IReadOnlyList<PreferencePair> pairs, IReadOnlyList<string> where, string source)
    {
        if (pairs.Count == 0) throw new InvalidDataException($"{source} holds no preference pairs.");
        var seen = new Dictionary<PreferencePair, string>();
        for (int i = 0; i < pairs.Count; i++)
        {
            var p = pairs[i] ?? throw new InvalidDataException($"{where[i]}: the pair is null.");
            foreach (var (name, value) in new[] { ("prompt", p.Prompt), ("chosen", p.Chosen), ("rejected", p.Rejected) })
                if (string.IsNullOrWhiteSpace(value)) throw new InvalidDataException($"{where[i]}: \"{name}\" is {(value is null ? "null" : "empty")}; every pair needs a prompt and two non-empty responses.");
            if (p.Chosen == p.Rejected) throw new InvalidDataException($"{where[i]}: \"chosen\" and \"rejected\" are the same text, so the pair states no preference.");
            if (!seen.TryAdd(p, where[i])) throw new InvalidDataException($"{where[i]}: duplicated pair (the same prompt, chosen and rejected as {seen[p]}); a repeated pair counts one judgement twice.");
        }
    }

    static string Quoted() => string.Join(", ", Columns.Select(c => $"\"{c}\""));

    /// <summary>Splits pairs into train and held-out parts by a seeded shuffle (<see cref="Seeding.Permutation"/>), so
    /// the same seed gives the same split everywhere.</summary>
    public static (IReadOnlyList<PreferencePair> Train, IReadOnlyList<PreferencePair> HeldOut) Split(IReadOnlyList<PreferencePair> pairs, double heldOutFraction, long seed)
    {
        if (heldOutFraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, "heldOutFraction must be in (0, 1).");
        var order = Seeding.Permutation(pairs.Count, seed);
        int heldOut = Math.Max(1, (int)Math.Round(pairs.Count * heldOutFraction));
        return (order.Skip(heldOut).Select(i => pairs[i]).ToList(), order.Take(heldOut).Select(i => pairs[i]).ToList());
    }
}
