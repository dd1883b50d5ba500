using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfKit.Common;

namespace RlhfKit.Preferences;

/// <summary>
/// Resumable checkpoints of the preference trainers (<c>dpo</c>, <c>reward-model</c>), laid out as <c>align</c>'s:
/// <c>checkpoints/step-NNNNNN/</c> folders, each written in a temporary folder and renamed when complete, and
/// <c>checkpoints/latest.json</c> (<c>{"folder", "step"}</c>, written atomically) naming the newest. The two newest are
/// kept. Beside them, <c>run_config.json</c> records the options of the run, and a rerun with different ones is refused.
/// </summary>
public sealed class TrainerCheckpoints(string outputDir)
{
    public const string LatestFile = "latest.json", RunConfigFile = "run_config.json", StateFile = "trainer_state.json";

    public string OutputDir { get; } = Path.GetFullPath(outputDir);
    public string Folder => Path.Combine(OutputDir, "checkpoints");
    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>The newest complete checkpoint (name, step), or null when the run has none.</summary>
    public (string Name, int Step)? Latest()
    {
        var pointer = Path.Combine(Folder, LatestFile);
        if (!File.Exists(pointer)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(pointer));
            var name = doc.RootElement.GetProperty("folder").GetString();
            var step = doc.RootElement.GetProperty("step").GetInt32();
            if (string.IsNullOrEmpty(name) || name.Contains('/') || name.Contains('\\') || name.StartsWith('.'))
                throw new InvalidDataException($"{pointer}: \"folder\" must name a checkpoint folder, got \"{name}\".");
            if (!Directory.Exists(PathOf(name))) throw new InvalidDataException($"{pointer} names {name}, which does not exist in {Folder}.");
            return (name, step);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{pointer} is damaged ({e.Message}); it should read {{\"folder\": \"step-000010\", \"step\": 10}}.", e);
        }
    }

    /// <summary>Writes checkpoint <c>step-NNNNNN</c>: <paramref name="write"/> fills a temporary folder, which is renamed
    /// when complete; then <c>latest.json</c> names it and older checkpoints but the previous one are removed.</summary>
    public string Save(int step, IReadOnlyDictionary<string, object> state, Action<string> write)
    {
        Directory.CreateDirectory(Folder);
        var previous = Latest();
        var name = $"step-{step:D6}";
        var temp = PathOf($".{name}.{Environment.ProcessId}.tmp");
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        write(temp);
        var json = new JsonObject { ["step"] = step };
        foreach (var (k, v) in state) json[k] = JsonSerializer.SerializeToNode(v);
        AtomicFile.WriteAllText(Path.Combine(temp, StateFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var final = PathOf(name);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        AtomicFile.WriteAllText(Path.Combine(Folder, LatestFile), new JsonObject { ["folder"] = name, ["step"] = step }.ToJsonString());
        foreach (var old in Directory.GetDirectories(Folder, "step-*"))
            if (Path.GetFileName(old) is var n && n != name && n != previous?.Name) Directory.Delete(old, recursive: true);
        foreach (var stale in Directory.GetDirectories(Folder, ".step-*.tmp"))
            if (stale != temp) Directory.Delete(stale, recursive: true);
        return name;
    }

    /// <summary>Records <paramref name="options"/> in <c>run_config.json</c>, or, when the folder already holds one,
    /// refuses a rerun whose <paramref name="mustMatch"/> options differ from it (naming the file and the option), since
    /// resuming would mix two runs. Other options (more steps, say) may change.</summary>
    public void CheckRunConfig(IReadOnlyDictionary<string, object?> options, IReadOnlyCollection<string> mustMatch)
    {
        var path = Path.Combine(OutputDir, RunConfigFile);
        var current = new JsonObject();
        foreach (var (k, v) in options) current[k] = JsonSerializer.SerializeToNode(v);
        if (File.Exists(path))
        {
            JsonObject recorded;
            try { recorded = JsonNode.Parse(File.ReadAllText(path))!.AsObject(); }
            catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
            {
                throw new InvalidDataException($"{path} is damaged ({e.Message}).", e);
            }
            foreach (var key in mustMatch)
            {
                var was = recorded[key]?.ToJsonString() ?? "null";
                var now = current[key]?.ToJsonString() ?? "null";
                if (was != now)
                    throw new ArgumentException($"{path}: this run was started with {key} = {was}; rerunning with {now} would mix two runs. Use the same options to resume, or another --out folder.");
            }
        }
        Directory.CreateDirectory(OutputDir);
        AtomicFile.WriteAllText(path, current.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The rows of <c>stats.jsonl</c> up to <paramref name="step"/> (what a resumed run keeps), or none.</summary>
    public List<Dictionary<string, double>> ReadStats(int step)
    {
        var path = Path.Combine(OutputDir, "stats.jsonl");
        var rows = new List<Dictionary<string, double>>();
        if (!File.Exists(path)) return rows;
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            Dictionary<string, double> row;
            try { row = JsonSerializer.Deserialize<Dictionary<string, double>>(text) ?? throw new JsonException("null row"); }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: not a statistics row ({e.Message}).", e); }
            if (row.TryGetValue("step", out var s) && s <= step) rows.Add(row);
        }
        return rows;
    }

    /// <summary>Writes <c>stats.jsonl</c> and <c>stats.csv</c> (one row per step, one column per statistic), atomically.</summary>
    public void WriteStats(IReadOnlyList<Dictionary<string, double>> rows)
    {
        Directory.CreateDirectory(OutputDir);
        AtomicFile.WriteAllText(Path.Combine(OutputDir, "stats.jsonl"), string.Concat(rows.Select(r => JsonSerializer.Serialize(r) + "\n")));
        var keys = rows.SelectMany(r => r.Keys).Distinct().ToList();
        var csv = new System.Text.StringBuilder(string.Join(",", keys)).Append('\n');
        foreach (var r in rows)
            csv.Append(string.Join(",", keys.Select(k => r.TryGetValue(k, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : ""))).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(OutputDir, "stats.csv"), csv.ToString());
    }
}
