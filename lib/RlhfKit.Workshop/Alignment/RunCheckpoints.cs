using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfKit.Ppo;

namespace RlhfKit.Alignment;

/// <summary>Where a run is in its data: the epoch, and the next batch of it to train on.</summary>
public sealed record RunPosition(int Epoch, int NextBatch);

/// <summary>What a checkpoint restores besides the weights and the optimiser: the trainer's state, the data position
/// and how many steps in a row the KL has been above the stop threshold.</summary>
public sealed record RunState(PpoTrainerState Trainer, RunPosition Position, int KlStrikes)
{
    /// <summary>PPO's seed the run was trained with (<c>seed</c> in <c>trainer_state.json</c>); null in checkpoints written
    /// before it was kept.</summary>
    public int? Seed { get; init; }
}

/// <summary>
/// A run's checkpoints, <c>checkpoints/step-NNNNNN</c>, and the one owner of <c>checkpoints/latest.json</c>, which names
/// the newest complete one. The command line, the lessons and <see cref="AlignmentRun"/> all read and write them here.
/// A crash at any moment leaves the previous checkpoint intact and loadable: a folder is built under a temporary name
/// and renamed, the folder <c>latest.json</c> names is never replaced or deleted, and <c>latest.json</c> itself is
/// replaced atomically.
/// </summary>
public sealed class RunCheckpoints
{
    const string LatestFile = "latest.json";
    const string TrainerStateFile = "trainer_state.json";

    public RunCheckpoints(string outputDir) => Folder = Path.Combine(outputDir, "checkpoints");

    /// <summary>The <c>checkpoints/</c> folder of the run.</summary>
    public string Folder { get; }

    /// <summary>True when <paramref name="outputDir"/> holds a checkpoint a run resumes from.</summary>
    public static bool Exists(string outputDir) => new RunCheckpoints(outputDir).Latest() is not null;

    /// <summary>The newest checkpoint's folder name and step: the one <c>latest.json</c> names, or (without it: a crash
    /// between renaming the first folder into place and writing <c>latest.json</c>, or the file deleted by hand) the
    /// newest complete <c>step-*</c> folder. Null when there is none.</summary>
    public (string Name, int Step)? Latest() => ReadPointer() ?? NewestFolder();

    /// <summary>The full path of checkpoint <paramref name="name"/>.</summary>
    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>Removes what writers that died left in <c>checkpoints/</c>: temporary checkpoint folders
    /// (<c>.step-N.{pid}.tmp</c>) and temp files of <c>latest.json</c> (<c>.latest.json.{pid}.{guid}.tmp</c>) whose
    /// process no longer runs; this process's own too when <paramref name="includeOwn"/> (it just took the run
    /// folder's lock, so it has nothing in flight). A live process's temporaries are left alone.</summary>
    public void RemoveTemporary(bool includeOwn = false)
    {
        if (!Directory.Exists(Folder)) return;
        foreach (var temp in Directory.GetDirectories(Folder, ".step-*.tmp"))
        {
            var parts = Path.GetFileName(temp).Split('.');
            // .step-N[-rK].{pid}.tmp: a name without a pid is not one the kit writes; leave it.
            if (parts.Length < 4 || !int.TryParse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ||
                !DeadWriters.IsOrphan(pid, includeOwn))
                continue;
            try { Directory.Delete(temp, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        DeadWriters.RemoveTempFiles(Folder, includeOwn);
    }

    /// <summary>Free bytes on the volume of a path (tests simulate a full disk with it).</summary>
    internal Func<string, long> FreeSpace { get; set; } = Hub.HubOptions.FreeBytes;

    /// <summary>Called with the temporary folder once the checkpoint's files are written, before the rename (tests
    /// throw a simulated ENOSPC from it).</summary>
    internal Action<string>? AfterWrite { get; set; }

    /// <summary>
    /// Writes policy, value head, optimiser moments and <paramref name="state"/> into <c>step-N</c> (a new name
    /// <c>step-N-rK</c> when the step is the latest one's: batches were skipped since), points <c>latest.json</c> at
    /// it, and keeps only it and the previous one. Returns the folder's name.
    /// </summary>
    public string Save(PpoTrainer trainer, RunState state, IReadOnlyDictionary<string, byte[]> tokenizerFiles, string profile, string policy)
    {
        Directory.CreateDirectory(Folder);
        var latest = Latest();
        var step = state.Trainer.StepCount;
        var name = $"step-{step:D6}";
        for (int k = 1; latest?.Name == name; k++) name = $"step-{step:D6}-r{k}";
        var final = PathOf(name);
        var temp = PathOf($".{name}.{Environment.ProcessId}.tmp");
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            WriteFiles(trainer, state, tokenizerFiles, profile, policy, temp, step);
            AfterWrite?.Invoke(temp);
        }
        catch (IOException e)
        {
            throw WriteFailed(name, temp, latest, e);
        }
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true); // not the latest (see above): an orphan of a crash
        Directory.Move(temp, final);
        // A full disk can still refuse latest.json's few bytes: it then keeps naming the previous checkpoint, and the new
        // folder is an orphan the next save prunes.
        try { AtomicFile.WriteAllText(Path.Combine(Folder, LatestFile), new JsonObject { ["folder"] = name, ["step"] = step }.ToJsonString()); }
        catch (IOException e) { throw WriteFailed(name, temp, latest, e); }
        // Keep the two newest checkpoints: this one and the one before it; anything else (older ones, orphans of a crash) goes.
        foreach (var old in Directory.GetDirectories(Folder, "step-*"))
        {
            var oldName = Path.GetFileName(old);
            if (oldName != name && oldName != latest?.Name) Directory.Delete(old, recursive: true);
        }
        return name;
    }

    void WriteFiles(PpoTrainer trainer, RunState state, IReadOnlyDictionary<string, byte[]> tokenizerFiles, string profile, string policy, string temp, int step)
    {
        trainer.Policy.SavePretrained(temp, tokenizerFiles);
        trainer.SaveOptimizer(Path.Combine(temp, "optimizer.bin"));
        var run = new JsonObject
        {
            ["step"] = step, ["kl_coef"] = state.Trainer.KlCoef, ["score_count"] = state.Trainer.ScoreCount,
            ["score_mean"] = state.Trainer.ScoreMean, ["score_var"] = state.Trainer.ScoreVar,
            ["epoch"] = state.Position.Epoch, ["next_batch"] = state.Position.NextBatch,
            ["kl_strikes"] = state.KlStrikes, ["profile"] = profile, ["policy"] = policy, ["seed"] = trainer.Config.Seed,
        };
        AtomicFile.WriteAllText(Path.Combine(temp, TrainerStateFile), run.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>A checkpoint could not be written (a full disk, most often): its half-written folder goes, the previous
    /// checkpoint and <c>latest.json</c> stay as they were, and the error says how much space a checkpoint takes.</summary>
    CheckpointWriteException WriteFailed(string name, string temp, (string Name, int Step)? previous, IOException e)
    {
        long partial = FolderSize(temp);
        try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); }
        catch (IOException) { } catch (UnauthorizedAccessException) { }
        long needed = previous is { } p ? FolderSize(PathOf(p.Name)) : partial;
        long free = FreeSpace(Folder);
        var kept = previous is { } q
            ? $"The previous checkpoint {q.Name} (step {q.Step}) is intact and latest.json still names it; running the same command again resumes from it."
            : "There is no earlier checkpoint: the run starts over when run again.";
        return new CheckpointWriteException(PathOf(name), needed, free,
            $"Could not write checkpoint {name} in {Folder}: {e.Message}. {kept} A checkpoint takes about {Mib(needed)}; the volume has {Mib(free)} free. " +
            "Free some space (or choose an --out folder on a larger volume) before resuming.", e);
    }

    static string Mib(long bytes) => bytes == long.MaxValue ? "an unknown amount" : $"{bytes / (1024.0 * 1024):F1} MiB";

    static long FolderSize(string folder)
    {
        try { return Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0; }
        catch (IOException) { return 0; }
    }

    /// <summary>Reads checkpoint <paramref name="name"/>'s run state (<c>trainer_state.json</c>), naming the file and
    /// the field at fault when it is damaged.</summary>
    public RunState ReadState(string name)
    {
        var statePath = Path.Combine(PathOf(name), TrainerStateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"checkpoint {PathOf(name)} has no {TrainerStateFile}.", statePath);
        try
        {
            var state = JsonNode.Parse(File.ReadAllText(statePath)) as JsonObject
                ?? throw new InvalidDataException($"{statePath} does not hold a JSON object.");
            T Field<T>(string key) => state[key] is JsonValue v && v.TryGetValue<T>(out var value) ? value
                : throw new InvalidDataException($"{statePath}: field '{key}' is missing or not a {typeof(T).Name}.");
            return new RunState(
                new PpoTrainerState(Field<int>("step"), Field<double>("kl_coef"), Field<long>("score_count"), Field<double>("score_mean"), Field<double>("score_var")),
                new RunPosition(Field<int>("epoch"), Field<int>("next_batch")),
                state.ContainsKey("kl_strikes") ? Field<int>("kl_strikes") : 0)
            { Seed = state.ContainsKey("seed") ? Field<int>("seed") : null };
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{statePath} is not valid JSON: {e.Message}", e);
        }
    }

    (string Name, int Step)? ReadPointer()
    {
        var path = Path.Combine(Folder, LatestFile);
        if (!File.Exists(path)) return null;
        (string Name, int Step) latest;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            if (node?["folder"] is not JsonValue folder || !folder.TryGetValue<string>(out var name) ||
                node["step"] is not JsonValue step || !step.TryGetValue<int>(out var stepValue))
                throw new InvalidDataException($"{path} is not a valid checkpoint pointer: it needs \"folder\" (a string) and \"step\" (an integer).");
            latest = (name, stepValue);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a valid checkpoint pointer: {e.Message}", e);
        }
        if (latest.Name.Length == 0 || Path.GetFileName(latest.Name) != latest.Name || latest.Name is "." or "..")
            throw new InvalidDataException($"{path} names checkpoint '{latest.Name}', which is not a folder name inside checkpoints/.");
        return Directory.Exists(PathOf(latest.Name)) ? latest
            : throw new InvalidDataException($"{path} names checkpoint '{latest.Name}', which does not exist. " +
                $"Point it at one of the step-* folders there, or delete {Folder} to start over.");
    }

    /// <summary>The newest complete <c>step-*</c> folder. Folders are complete by construction (built under a
    /// temporary name, then renamed); the trainer state is the last file written.</summary>
    (string Name, int Step)? NewestFolder()
    {
        if (!Directory.Exists(Folder)) return null;
        foreach (var folder in Directory.GetDirectories(Folder, "step-*").OrderByDescending(Path.GetFileName, StringComparer.Ordinal))
        {
            var name = Path.GetFileName(folder);
            if (!File.Exists(Path.Combine(folder, TrainerStateFile)) ||
                !int.TryParse(name.AsSpan(5, Math.Min(6, name.Length - 5)), NumberStyles.None, CultureInfo.InvariantCulture, out var step))
                continue;
            return (name, step);
        }
        return null;
    }
}

/// <summary>A checkpoint could not be written (a full disk, most often). The previous checkpoint stays the latest; the
/// message names the folder, the space a checkpoint takes and the space free.</summary>
public sealed class CheckpointWriteException(string checkpoint, long needed, long available, string message, Exception inner) : IOException(message, inner)
{
    /// <summary>The folder that could not be written.</summary>
    public string Checkpoint { get; } = checkpoint;
    /// <summary>About how many bytes a checkpoint takes (the previous one's size).</summary>
    public long Needed { get; } = needed;
    /// <summary>Free bytes on the volume when the write failed.</summary>
    public long Available { get; } = available;
}
