using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// A small seeded mutation fuzzer: byte-level mutations (bit flips, overwrites, insertions, deletions, truncations,
/// splices), JSON-aware ones (key deletions, type swaps, extreme numbers) and line-level ones for text files. Every
/// case gets its own <see cref="Random"/> from (campaign seed, case index), so a failing case is re-created from the
/// two numbers in its report.
/// </summary>
internal static class Mutate
{
    /// <summary>The campaign seed: <c>RLHFKIT_FUZZ_SEED</c>, else a fixed one.</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("RLHFKIT_FUZZ_SEED"), out var s) ? s : 20240917;

    /// <summary>Case-count multiplier (<c>RLHFKIT_FUZZ_SCALE</c>, default 1), e.g. 10 for a long run.</summary>
    public static double Scale =>
        double.TryParse(Environment.GetEnvironmentVariable("RLHFKIT_FUZZ_SCALE"), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x > 0 ? x : 1;

    public static Random CaseRandom(string campaign, int index)
    {
        // Not string.GetHashCode: that is randomised per process.
        int h = 17;
        foreach (var c in campaign) h = unchecked(h * 31 + c);
        return new Random(unchecked(Seed * 1_000_003 + h * 7919 + index));
    }

    static readonly byte[] Interesting = [0x00, 0xFF, 0x7F, 0x80, 0x01, (byte)'{', (byte)'}', (byte)'"', (byte)'\n', (byte)'.', (byte)'9'];

    /// <summary>One to three byte-level mutations, positions drawn within <paramref name="hot"/> (the structural part of
    /// the file: headers, pickles, zip directories) with probability 3/4.</summary>
    public static byte[] Bytes(byte[] input, Random rng, List<string> log, params (int Start, int End)[] hot)
    {
        var data = input.ToList();
        int count = 1 + rng.Next(3);
        for (int m = 0; m < count && data.Count > 0; m++)
        {
            int Pos()
            {
                if (hot.Length > 0 && rng.Next(4) != 0)
                {
                    var (s, e) = hot[rng.Next(hot.Length)];
                    s = Math.Clamp(s, 0, data.Count - 1);
                    e = Math.Clamp(e, s + 1, data.Count);
                    return rng.Next(s, e);
                }
                return rng.Next(data.Count);
            }
            switch (rng.Next(8))
            {
                case 0:
                case 1:
                    {
                        var at = Pos(); var bit = rng.Next(8);
                        data[at] ^= (byte)(1 << bit);
                        log.Add($"flip bit {bit} at {at}");
                        break;
                    }
                case 2:
                    {
                        var at = Pos(); var n = 1 + rng.Next(8);
                        for (int i = at; i < Math.Min(data.Count, at + n); i++)
                            data[i] = rng.Next(2) == 0 ? (byte)rng.Next(256) : Interesting[rng.Next(Interesting.Length)];
                        log.Add($"overwrite {n} bytes at {at}");
                        break;
                    }
                case 3:
                    {
                        var at = Pos();
                        log.Add($"truncate to {at}");
                        data.RemoveRange(at, data.Count - at);
                        break;
                    }
                case 4:
                    {
                        var at = Pos(); var n = 1 + rng.Next(16);
                        data.InsertRange(at, Enumerable.Range(0, n).Select(_ => (byte)rng.Next(256)));
                        log.Add($"insert {n} bytes at {at}");
                        break;
                    }
                case 5:
                    {
                        var at = Pos(); var n = Math.Min(data.Count - at, 1 + rng.Next(64));
                        data.RemoveRange(at, n);
                        log.Add($"delete {n} bytes at {at}");
                        break;
                    }
                case 6:
                    {
                        var from = rng.Next(data.Count); var n = Math.Min(data.Count - from, 1 + rng.Next(256)); var to = Pos();
                        var chunk = data.GetRange(from, n);
                        data.InsertRange(Math.Min(to, data.Count), chunk);
                        log.Add($"splice {n} bytes from {from} to {to}");
                        break;
                    }
                default:
                    {
                        var at = Pos();
                        data[at] = Interesting[rng.Next(Interesting.Length)];
                        log.Add($"set byte {at} to 0x{data[at]:x2}");
                        break;
                    }
            }
        }
        return data.ToArray();
    }

    static readonly JsonNode?[] OddValues =
    [
        null, true, false, 0, -1, 1, 2, 7, 1.5, -0.5, 1e30, -1e30, 2147483647, -2147483648, 9007199254740993, 1_000_000,
        "", "x", "gated-gelu", "roberta", "t5", "bert", "F32", "I64", "F8_E4M3", "\u0000\ud83d\ude00", new string('a', 300),
    ];

    static JsonNode? OddValue(Random rng) => rng.Next(6) switch
    {
        0 => new JsonArray(),
        1 => new JsonObject(),
        2 => new JsonArray(rng.Next(-3, 10), rng.Next(-3, 10)),
        _ => OddValues[rng.Next(OddValues.Length)]?.DeepClone(),
    };

    /// <summary>Every (container, key or index) in the tree, depth first.</summary>
    static List<(JsonNode Parent, string? Key, int Index)> Slots(JsonNode root)
    {
        var slots = new List<(JsonNode, string?, int)>();
        void Walk(JsonNode? n)
        {
            switch (n)
            {
                case JsonObject o:
                    foreach (var (k, v) in o.ToList()) { slots.Add((o, k, -1)); Walk(v); }
                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++) { slots.Add((a, null, i)); Walk(a[i]); }
                    break;
            }
        }
        Walk(root);
        return slots;
    }

    /// <summary>One to three JSON-aware mutations of a JSON text (delete a key, swap a value's type, extreme numbers,
    /// rename a key, wrap in an array); falls back to byte mutations when the text is not JSON.</summary>
    public static byte[] Json(byte[] input, Random rng, List<string> log)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(input); }
        catch (JsonException) { return Bytes(input, rng, log); }
        if (root is null) return Bytes(input, rng, log);
        int count = 1 + rng.Next(3);
        for (int m = 0; m < count; m++)
        {
            var slots = Slots(root);
            if (slots.Count == 0) break;
            var (parent, key, index) = slots[rng.Next(slots.Count)];
            var where = key ?? $"[{index}]";
            switch (rng.Next(5))
            {
                case 0 when parent is JsonObject o:
                    o.Remove(key!);
                    log.Add($"delete key '{where}'");
                    break;
                case 1 when parent is JsonObject o:
                    {
                        var v = o[key!]; o.Remove(key!);
                        var renamed = key + (char)rng.Next(0x21, 0x7f);
                        o[renamed] = v;
                        log.Add($"rename key '{where}'");
                        break;
                    }
                case 2:
                    {
                        // Nudge numbers: off by one, doubled, negated, zero.
                        var current = parent is JsonObject o ? o[key!] : ((JsonArray)parent)[index];
                        JsonNode? value;
                        if (current is JsonValue jv && jv.TryGetValue<double>(out var d))
                        {
                            var x = rng.Next(4) switch { 0 => d + 1, 1 => d - 1, 2 => d * 2, _ => -d };
                            value = x == Math.Floor(x) && Math.Abs(x) < 1e15 ? JsonValue.Create((long)x) : JsonValue.Create(x);
                        }
                        else value = OddValue(rng);
                        Set(parent, key, index, value);
                        log.Add($"nudge '{where}' to {value?.ToJsonString() ?? "null"}");
                        break;
                    }
                default:
                    {
                        var value = OddValue(rng);
                        Set(parent, key, index, value);
                        log.Add($"set '{where}' to {Short(value?.ToJsonString() ?? "null")}");
                        break;
                    }
            }
        }
        if (rng.Next(20) == 0) { root = new JsonArray(root); log.Add("wrap in an array"); }
        var text = Encoding.UTF8.GetBytes(root.ToJsonString());
        // Now and then a raw byte mutation on top, so the JSON parser sees damage too.
        return rng.Next(6) == 0 ? Bytes(text, rng, log) : text;
    }

    static void Set(JsonNode parent, string? key, int index, JsonNode? value)
    {
        if (parent is JsonObject o) o[key!] = value;
        else ((JsonArray)parent)[index] = value;
    }

    static string Short(string s) => s.Length > 40 ? s[..40] + "..." : s;

    static readonly string[] OddLines =
    [
        "", " ", "a", "a b c", "\t", "##", "[CLS]", "[UNK]", "<s>", "Ġ Ġ", "h e", "\u0000", "\ud83d\ude00 \ud83d\ude00", "\u200b", "#version: 0.2",
        "\u0085", "a\rb", new string('z', 2000),
    ];

    /// <summary>One to three line-level mutations (delete, duplicate, swap, replace with odd text or random bytes),
    /// with a byte mutation on top now and then.</summary>
    public static byte[] Lines(byte[] input, Random rng, List<string> log)
    {
        var lines = Encoding.UTF8.GetString(input).Split('\n').ToList();
        int count = 1 + rng.Next(3);
        for (int m = 0; m < count && lines.Count > 0; m++)
        {
            var at = rng.Next(lines.Count);
            switch (rng.Next(5))
            {
                case 0: lines.RemoveAt(at); log.Add($"delete line {at + 1}"); break;
                case 1: lines.Insert(at, lines[rng.Next(lines.Count)]); log.Add($"duplicate a line at {at + 1}"); break;
                case 2:
                    {
                        var other = rng.Next(lines.Count);
                        (lines[at], lines[other]) = (lines[other], lines[at]);
                        log.Add($"swap lines {at + 1} and {other + 1}");
                        break;
                    }
                case 3: lines[at] = OddLines[rng.Next(OddLines.Length)]; log.Add($"replace line {at + 1} with odd text"); break;
                default:
                    lines.Insert(at, Encoding.Latin1.GetString(Enumerable.Range(0, 1 + rng.Next(12)).Select(_ => (byte)rng.Next(256)).ToArray()));
                    log.Add($"insert a random line at {at + 1}");
                    break;
            }
        }
        var bytes = Encoding.UTF8.GetBytes(string.Join('\n', lines));
        return rng.Next(5) == 0 ? Bytes(bytes, rng, log) : bytes;
    }
}

/// <summary>The outcome of one fuzz campaign: cases run, loads, rejections by exception type, and failures (anything
/// else: an unexpected exception type, a message that does not name the file, a failed check after a load, a hang).</summary>
internal sealed class FuzzReport(string campaign)
{
    public string Campaign { get; } = campaign;
    public int Cases { get; set; }
    public int Loaded { get; set; }
    public SortedDictionary<string, int> Rejected { get; } = new(StringComparer.Ordinal);
    public List<string> Failures { get; } = [];
    public Dictionary<string, string> Examples { get; } = [];
    public TimeSpan Elapsed { get; set; }
    public (int Index, TimeSpan Time) Slowest { get; set; }

    public override string ToString() =>
        $"{Campaign}: {Cases} cases in {Elapsed.TotalSeconds:F1} s (seed {Mutate.Seed}; slowest case {Slowest.Index}, " +
        $"{Slowest.Time.TotalMilliseconds:F0} ms): {Loaded} loaded, " +
        string.Join(", ", Rejected.Select(kv => $"{kv.Value} {kv.Key}")) + $"; {Failures.Count} failures";
}

internal static class FuzzRunner
{
    public static readonly TimeSpan PerCaseTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Runs the campaign's first <paramref name="cases"/> seeded cases (times <c>RLHFKIT_FUZZ_SCALE</c>): a fixed count,
    /// not a time budget, so every machine runs the same cases however busy it is. Each case gets an empty folder and a
    /// seeded Random; <paramref name="prepare"/> writes the mutated inputs there (logging its mutations) and returns the
    /// load-and-check to run. A case passes when that returns, or throws one of <paramref name="allowed"/> whose
    /// message names a file of the case (contains its folder). Failing inputs are kept under
    /// <c>$TMP/rlhfkit-fuzz-failures/</c>.
    /// </summary>
    public static FuzzReport Run(string campaign, int cases, Type[] allowed, Func<Random, string, List<string>, Action> prepare)
    {
        var report = new FuzzReport(campaign);
        var root = Directory.CreateTempSubdirectory($"rlhfkit-fuzz-{campaign}-").FullName;
        var clock = Stopwatch.StartNew();
        cases = (int)(cases * Mutate.Scale);
        try
        {
            for (int i = 0; i < cases; i++)
            {
                var caseStart = clock.Elapsed;
                var folder = Path.Combine(root, $"case-{i}");
                Directory.CreateDirectory(folder);
                var rng = Mutate.CaseRandom(campaign, i);
                var log = new List<string>();
                var check = prepare(rng, folder, log);
                report.Cases++;
                var task = Task.Run(check);
                string? failure = null;
                bool hung = false;
                try
                {
                    if (!task.Wait(PerCaseTimeout)) { hung = true; failure = $"no result after {PerCaseTimeout.TotalSeconds} s (hang?)"; }
                    else report.Loaded++;
                }
                catch (AggregateException ae)
                {
                    var e = ae.InnerException!;
                    if (allowed.Contains(e.GetType()) && e.Message.Contains(folder, StringComparison.Ordinal))
                    {
                        var key = e.GetType().Name;
                        report.Rejected[key] = report.Rejected.GetValueOrDefault(key) + 1;
                        report.Examples.TryAdd(key, e.Message.Replace(folder, "<case>"));
                    }
                    else
                    {
                        var frame = e.StackTrace?.Split('\n').FirstOrDefault()?.Trim() ?? "";
                        failure = allowed.Contains(e.GetType())
                            ? $"{e.GetType().Name} whose message does not name the file: {e.Message}"
                            : $"{e.GetType().FullName}: {e.Message} {frame}";
                    }
                }
                if (failure is not null)
                {
                    var keep = Path.Combine(Path.GetTempPath(), "rlhfkit-fuzz-failures", $"{campaign}-seed{Mutate.Seed}-case{i}");
                    CopyFolder(folder, keep);
                    report.Failures.Add($"case {i} [{string.Join("; ", log)}] (inputs kept in {keep}): {failure}");
                    if (hung || report.Failures.Count >= 20) break; // a stuck case keeps its thread; stop here
                }
                try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
                var caseTime = clock.Elapsed - caseStart;
                if (caseTime > report.Slowest.Time) report.Slowest = (i, caseTime);
                if (i % 50 == 49) GC.Collect(); // native tensor memory is freed by finalizers of what a case did not dispose
            }
        }
        finally
        {
            report.Elapsed = clock.Elapsed;
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
        return report;
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
    }
}
