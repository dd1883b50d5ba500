using System.Text.Json;
using System.Text.RegularExpressions;
using Parquet;
using Parquet.Schema;
using RlhfKit.Hub;

namespace RlhfKit.Data;

public sealed partial class NewsDataset
{
    /// <summary>The Hub dataset the workshop uses: news articles in a <c>text</c> column, train 1,000 rows, test 20,417.</summary>
    public const string DefaultRepoId = "argilla/news-summary";

    /// <summary>The branch where the Hub keeps a parquet export of every dataset it can read, with predictable file
    /// names (<see cref="ParquetExportFile"/>). <see cref="FromHubAsync"/> reads from it unless files are named.</summary>
    public const string ParquetExportRevision = "refs/convert/parquet";

    /// <summary>Environment variable naming the folder of the offline corpus (the folder holding
    /// <c>&lt;split&gt;.jsonl</c>, or a checkout holding <c>data/news/&lt;split&gt;.jsonl</c>).</summary>
    public const string DataDirEnvironmentVariable = "RLHFKIT_DATA";

    /// <summary>A shard's name in the Hub's parquet export: <c>{config}/{split}/{shard:0000}.parquet</c>,
    /// e.g. <c>default/train/0000.parquet</c>.</summary>
    public static string ParquetExportFile(string split, int shard = 0, string config = "default")
    {
        CheckSplit(split);
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentException.ThrowIfNullOrEmpty(config);
        return $"{config}/{split}/{shard:0000}.parquet";
    }

    // ---- JSONL ----

    /// <summary>
    /// Reads one JSON object per line (blank lines skipped): <c>"text"</c> (string, required), and optionally
    /// <c>"id"</c> (string or number; default <c>&lt;file name&gt;-&lt;row&gt;</c>), <c>"summary"</c>, <c>"topic"</c>.
    /// Other keys are ignored. Errors name the file and the line.
    /// </summary>
    public static NewsDataset FromJsonl(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stem = Path.GetFileNameWithoutExtension(path);
        var result = new List<NewsArticle>();
        foreach (var (at, root) in JsonLines.Objects(path, "The JSONL file"))
        {
            string At() => at;
            if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw new InvalidDataException(text.ValueKind == JsonValueKind.Undefined
                    ? $"{At()}: the object has no \"text\" (keys: {string.Join(", ", root.EnumerateObject().Select(p => p.Name))})."
                    : $"{At()}: \"text\" must be a string, found {text.ValueKind}.");
            var id = root.TryGetProperty("id", out var idElement) ? idElement.ValueKind switch
            {
                JsonValueKind.String => idElement.GetString()!,
                JsonValueKind.Number => idElement.GetRawText(),
                JsonValueKind.Null => null,
                var kind => throw new InvalidDataException($"{At()}: \"id\" must be a string or a number, found {kind}."),
            } : null;
            result.Add(new NewsArticle(id ?? $"{stem}-{result.Count}", text.GetString()!,
                OptionalString(root, "summary", At), OptionalString(root, "topic", At)));
        }
        return new NewsDataset(result.ToArray());
    }

    static string? OptionalString(JsonElement root, string key, Func<string> where) =>
        !root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null ? null
        : e.ValueKind == JsonValueKind.String ? e.GetString()
        : throw new InvalidDataException($"{where()}: \"{key}\" must be a string, found {e.ValueKind}.");

    // ---- parquet ----

    /// <summary>
    /// Reads a parquet file (e.g. one downloaded from the Hub): the string column <paramref name="textColumn"/> becomes
    /// <see cref="NewsArticle.Text"/>; <paramref name="idColumn"/> (string or integer), when the file has it, the id
    /// (else <c>&lt;file name&gt;-&lt;row&gt;</c>); <paramref name="summaryColumn"/>, when named, the summary.
    /// A missing text column is an error naming the file and listing the columns it has.
    /// </summary>
    public static NewsDataset FromParquet(string path, string textColumn = "text", string? idColumn = "id", string? summaryColumn = null) =>
        // Off the caller's synchronization context: the reader awaits internally.
        Task.Run(() => FromParquetAsync(path, textColumn, idColumn, summaryColumn)).GetAwaiter().GetResult();

    /// <inheritdoc cref="FromParquet"/>
    public static async Task<NewsDataset> FromParquetAsync(string path, string textColumn = "text", string? idColumn = "id",
        string? summaryColumn = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(textColumn);
        if (!File.Exists(path)) throw new FileNotFoundException($"The parquet file {Path.GetFullPath(path)} does not exist.", path);
        return new NewsDataset((await ReadParquetAsync(path, Path.GetFileNameWithoutExtension(path), 0, textColumn, idColumn, summaryColumn, cancellationToken)).ToArray());
    }

    static async Task<List<NewsArticle>> ReadParquetAsync(string path, string idPrefix, int firstRow, string textColumn, string? idColumn,
        string? summaryColumn, CancellationToken ct)
    {
        ParquetReader reader;
        try { reader = await ParquetReader.CreateAsync(path, cancellationToken: ct); }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"{path} is not a readable parquet file ({e.Message}).", e);
        }
        await using (reader)
        {
            var columns = reader.Schema.Fields.Select(f => f.Name).ToList();
            DataField? Column(string name, bool required)
            {
                var field = reader.Schema.Fields.FirstOrDefault(f => f.Name == name);
                if (field is null)
                    return required ? throw new InvalidDataException($"{path} has no column '{name}'. Its columns: {string.Join(", ", columns)}.") : null;
                if (field is not DataField data || data.IsArray)
                    throw new InvalidDataException($"Column '{name}' of {path} is a {field.SchemaType} field, not a plain column.");
                return data;
            }
            var text = Column(textColumn, required: true)!;
            RequireString(text, path);
            var id = idColumn is null ? null : Column(idColumn, required: false);
            var summary = summaryColumn is null ? null : Column(summaryColumn, required: true);
            if (summary is not null) RequireString(summary, path);

            var result = new List<NewsArticle>();
            var row = 0; // within this file
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var n = checked((int)group.RowCount);
                var texts = new string?[n];
                await group.ReadAsync(text, texts.AsMemory(), null, ct);
                var ids = id is null ? null : await ReadIdsAsync(group, id, n, path, ct);
                var summaries = summary is null ? null : new string?[n];
                if (summaries is not null) await group.ReadAsync(summary!, summaries.AsMemory(), null, ct);
                for (var i = 0; i < n; i++, row++)
                {
                    var t = texts[i] ?? throw new InvalidDataException($"{path}: row {row} has no '{textColumn}' (null).");
                    result.Add(new NewsArticle(ids?[i] ?? $"{idPrefix}-{firstRow + row}", t, summaries?[i]));
                }
            }
            return result;
        }
    }

    static void RequireString(DataField field, string path)
    {
        if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>))
            throw new InvalidDataException($"Column '{field.Name}' of {path} holds {field.ClrType.Name} values, not strings.");
    }

    static async Task<string?[]?> ReadIdsAsync(ParquetRowGroupReader group, DataField field, int n, string path, CancellationToken ct)
    {
        var ids = new string?[n];
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            await group.ReadAsync(field, ids.AsMemory(), null, ct);
        }
        else if (field.ClrType == typeof(long))
        {
            var values = new long?[n];
            await group.ReadAsync<long>(field, values.AsMemory(), null, ct);
            for (var i = 0; i < n; i++) ids[i] = values[i]?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (field.ClrType == typeof(int))
        {
            var values = new int?[n];
            await group.ReadAsync<int>(field, values.AsMemory(), null, ct);
            for (var i = 0; i < n; i++) ids[i] = values[i]?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else return null; // an id of another type is not used; rows are numbered instead
        return ids;
    }

    // ---- Hub ----

    /// <summary>
    /// Downloads one split of a Hub dataset into the huggingface_hub cache (through <paramref name="hub"/>, so offline
    /// mode, tokens and the cache are shared with Python) and reads its parquet file(s) in the order given.
    /// By default the files are the Hub's parquet export, <see cref="ParquetExportFile"/>(split) on revision
    /// <see cref="ParquetExportRevision"/>, whose names are known in advance. To read the repo's own files name them,
    /// e.g. <c>files: ["data/train-00000-of-00001-&lt;hash&gt;.parquet"]</c>; their revision defaults to <c>main</c>.
    /// Ids default to <c>&lt;split&gt;-&lt;row&gt;</c> when the files have no <paramref name="idColumn"/>.
    /// </summary>
    public static async Task<NewsDataset> FromHubAsync(HubClient hub, string repoId = DefaultRepoId, string split = "train",
        IReadOnlyList<string>? files = null, string? revision = null, string textColumn = "text", string? idColumn = "id",
        IProgress<HubDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hub);
        CheckSplit(split);
        if (files is { Count: 0 }) throw new ArgumentException("Name at least one parquet file, or pass null for the parquet export.", nameof(files));
        revision ??= files is null ? ParquetExportRevision : "main";
        files ??= [ParquetExportFile(split)];

        var snapshot = await hub.SnapshotAsync(repoId, files, revision, HubRepoType.Dataset, progress: progress, cancellationToken: cancellationToken);
        var result = new List<NewsArticle>();
        foreach (var file in files)
        {
            var local = Path.Combine([snapshot, .. file.Replace('\\', '/').Split('/')]);
            result.AddRange(await ReadParquetAsync(local, split, result.Count, textColumn, idColumn, null, cancellationToken));
        }
        return new NewsDataset(result.ToArray());
    }

    // ---- offline corpus ----

    /// <summary>
    /// The kit's offline corpus split <c>data/news/&lt;split&gt;.jsonl</c> (train, validation, test). Looked up in
    /// <paramref name="dataDir"/> when given; else in the folder named by <c>RLHFKIT_DATA</c>; else in
    /// <c>data/news/</c> of the current directory, the application's folder, or any folder above either.
    /// </summary>
    public static NewsDataset LoadOffline(string split, string? dataDir = null) => FromJsonl(FindOfflineSplit(split, dataDir));

    /// <summary>The path <see cref="LoadOffline"/> reads; a <see cref="FileNotFoundException"/> lists where it looked.</summary>
    public static string FindOfflineSplit(string split, string? dataDir = null) =>
        FindOfflineSplit(split, dataDir, Environment.GetEnvironmentVariable, [Directory.GetCurrentDirectory(), AppContext.BaseDirectory]);

    /// <summary>Tests pass the environment and the starting folders instead of mutating the process's.</summary>
    internal static string FindOfflineSplit(string split, string? dataDir, Func<string, string?> getEnv, IReadOnlyList<string> searchFrom)
    {
        CheckSplit(split);
        var file = split + ".jsonl";
        var tried = new List<string>();
        string? Probe(string folder)
        {
            foreach (var candidate in new[] { Path.Combine(folder, file), Path.Combine(folder, "data", "news", file) })
            {
                var full = Path.GetFullPath(candidate);
                if (File.Exists(full)) return full;
                tried.Add(full);
            }
            return null;
        }

        if (dataDir is not null)
        {
            if (Probe(dataDir) is { } found) return found;
            throw NotFound($"dataDir '{dataDir}'");
        }
        if (getEnv(DataDirEnvironmentVariable) is { Length: > 0 } env)
        {
            if (Probe(env) is { } found) return found;
            throw NotFound($"{DataDirEnvironmentVariable}='{env}'");
        }
        foreach (var start in searchFrom.Select(Path.GetFullPath).Distinct())
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "data", "news", file);
                if (File.Exists(candidate)) return candidate;
                tried.Add(candidate);
            }
        }
        throw NotFound($"data/news/ of {string.Join(" or ", searchFrom.Distinct())} or any folder above");

        FileNotFoundException NotFound(string where)
        {
            var splits = tried.Select(Path.GetDirectoryName).Distinct().Where(Directory.Exists)
                .SelectMany(d => Directory.EnumerateFiles(d!, "*.jsonl")).Select(Path.GetFileNameWithoutExtension).Distinct().Order().ToList();
            var have = splits.Count > 0 ? $" Splits found there: {string.Join(", ", splits)}." : "";
            return new FileNotFoundException(
                $"The offline news corpus split '{split}' ({file}) was not found in {where}.{have} Looked at:" +
                string.Concat(tried.Distinct().Select(t => "\n  - " + t)) +
                $"\nRun from the kit's checkout (which has data/news/), pass dataDir, or set {DataDirEnvironmentVariable} to the folder holding {file}.", file);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")] private static partial Regex SplitRegex();

    static void CheckSplit(string split)
    {
        ArgumentNullException.ThrowIfNull(split);
        if (!SplitRegex().IsMatch(split) || split.Contains(".."))
            throw new ArgumentException($"'{split}' is not a valid split name (e.g. train, validation, test).", nameof(split));
    }
}
