using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Analysis;
using RlhfKit.Evaluation;

namespace RlhfKit.Alignment;

/// <summary>One PPO step's statistics (TRL's keys, each reward component's mean, timings) and a sample.</summary>
public sealed record StepLog(int Step, int Epoch, int Batch, IReadOnlyDictionary<string, double> Stats, string SampleQuery, string SampleResponse);

/// <summary>
/// A run's statistics, one row per PPO step, and their one writer: <c>stats.jsonl</c> (appended as each step ends, so a
/// crash loses nothing logged), <c>stats.csv</c> (rewritten atomically) and <see cref="ToDataFrame"/>. On resume the rows
/// after the checkpoint's step are dropped, since those steps run again.
/// </summary>
public sealed class StatisticsLog
{
    readonly List<StepLog> _rows = [];

    public StatisticsLog(string outputDir) => OutputDir = outputDir;

    public string OutputDir { get; }
    public string JsonlPath => Path.Combine(OutputDir, "stats.jsonl");
    public string CsvPath => Path.Combine(OutputDir, "stats.csv");
    public IReadOnlyList<StepLog> Rows => _rows;

    /// <summary>A new run: an empty <c>stats.jsonl</c>.</summary>
    public void Start() => AtomicFile.WriteAllText(JsonlPath, "");

    /// <summary>A resumed run: keeps the rows of steps up to <paramref name="lastStep"/> (the checkpoint's), each once;
    /// rows after it, lines a crash cut short and lines that are not rows are dropped, and the file is rewritten.</summary>
    public void Resume(int lastStep)
    {
        _rows.Clear();
        var kept = new List<string>();
        foreach (var (line, row) in RowsUpTo(ReadLines(JsonlPath), lastStep))
        {
            kept.Add(line);
            _rows.Add(row);
        }
        AtomicFile.WriteAllText(JsonlPath, string.Concat(kept.Select(l => l + "\n")));
    }

    /// <summary>The rows of <c>stats.jsonl</c> in <paramref name="outputDir"/> up to step <paramref name="lastStep"/>, each
    /// once, without writing anything: for readers of a run (evaluation) that must leave a live run's files alone.</summary>
    public static IReadOnlyList<StepLog> Read(string outputDir, int lastStep) =>
        RowsUpTo(ReadLines(Path.Combine(outputDir, "stats.jsonl")), lastStep).Select(r => r.Row).ToList();

    /// <summary>The rows of steps up to <paramref name="lastStep"/>, the first of each step only; lines a crash cut short
    /// and lines that are not rows are skipped.</summary>
    static IEnumerable<(string Line, StepLog Row)> RowsUpTo(IEnumerable<string> lines, int lastStep)
    {
        var seen = new HashSet<int>();
        foreach (var line in lines)
            if (Parse(line) is { } row && row.Step <= lastStep && seen.Add(row.Step)) yield return (line, row);
    }

    /// <summary>The file's lines (none when it does not exist), read while another process may still append to it.</summary>
    static IEnumerable<string> ReadLines(string path)
    {
        if (!File.Exists(path)) yield break;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line) yield return line;
    }

    /// <summary>Adds a step's row and appends it to <c>stats.jsonl</c> (non-finite values as null).</summary>
    public void Append(StepLog row)
    {
        _rows.Add(row);
        var node = new JsonObject { ["step"] = row.Step, ["epoch"] = row.Epoch, ["batch"] = row.Batch, ["sample_query"] = row.SampleQuery, ["sample_response"] = row.SampleResponse };
        var stats = new JsonObject();
        foreach (var (k, v) in row.Stats) stats[k] = double.IsFinite(v) ? v : null;
        node["stats"] = stats;
        using var file = new FileStream(JsonlPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        using var writer = new StreamWriter(file);
        writer.WriteLine(node.ToJsonString());
    }

    /// <summary>The statistic names of all rows, sorted (ordinal).</summary>
    public IReadOnlyList<string> Keys() => _rows.SelectMany(l => l.Stats.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>One row per step: <c>step</c>, <c>epoch</c>, then one column per statistic (missing values NaN).</summary>
    public DataFrame ToDataFrame()
    {
        var columns = new List<DataFrameColumn>
        {
            new Int32DataFrameColumn("step", _rows.Select(l => l.Step)),
            new Int32DataFrameColumn("epoch", _rows.Select(l => l.Epoch)),
        };
        columns.AddRange(Keys().Select(k => new DoubleDataFrameColumn(k, _rows.Select(l => l.Stats.TryGetValue(k, out var v) ? v : double.NaN))));
        return new DataFrame(columns);
    }

    /// <summary>Writes <c>stats.csv</c> (RFC 4180, the same columns as <see cref="ToDataFrame"/>, numbers round-trippable),
    /// atomically. Nothing is written before the first step.</summary>
    public void SaveCsv()
    {
        if (_rows.Count == 0) return;
        var keys = Keys();
        var sb = new StringBuilder();
        Csv.AppendRecord(sb, new[] { "step", "epoch" }.Concat(keys));
        foreach (var row in _rows)
            Csv.AppendRecord(sb, new[] { row.Step.ToString(CultureInfo.InvariantCulture), row.Epoch.ToString(CultureInfo.InvariantCulture) }
                .Concat(keys.Select(k => Csv.Number(row.Stats.TryGetValue(k, out var v) ? v : double.NaN))));
        AtomicFile.WriteAllText(CsvPath, sb.ToString());
    }

    /// <summary>One stats.jsonl row, or null for a line that is not one (cut by a crash, edited).</summary>
    public static StepLog? Parse(string line)
    {
        JsonObject? node;
        try { node = JsonNode.Parse(line) as JsonObject; }
        catch (JsonException) { return null; }
        if (node is null) return null;
        static bool Int(JsonNode? n, out int v) { v = 0; return n is JsonValue j && j.TryGetValue(out v); }
        static string Text(JsonNode? n) => n is JsonValue j && j.TryGetValue<string>(out var s) ? s : "";
        if (!Int(node["step"], out var step) || !Int(node["epoch"], out var epoch) || !Int(node["batch"], out var batch) ||
            node["stats"] is not JsonObject statsNode)
            return null;
        var stats = new Dictionary<string, double>();
        foreach (var (k, v) in statsNode)
            stats[k] = v is JsonValue j && j.TryGetValue<double>(out var d) ? d : double.NaN;
        return new StepLog(step, epoch, batch, stats, Text(node["sample_query"]), Text(node["sample_response"]));
    }
}
