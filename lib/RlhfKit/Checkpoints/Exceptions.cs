namespace RlhfKit.Checkpoints;

/// <summary>
/// Errors for damaged, truncated or unsupported checkpoint files, or pickles that ask for something a state dict never
/// needs (a global outside the whitelist). They are <see cref="InvalidDataException"/>s (a sealed type, so not
/// subclassed) whose message starts with the file and names the tensor where known; <c>Data["File"]</c> and
/// <c>Data["Tensor"]</c> carry the same for code.
/// </summary>
public static class CheckpointError
{
    public static InvalidDataException Format(string file, string message, string? tensor = null, Exception? inner = null)
    {
        var text = tensor is null ? $"{file}: {message}" : $"{file}: tensor '{tensor}': {message}";
        var e = new InvalidDataException(text, inner);
        e.Data["File"] = file;
        if (tensor is not null) e.Data["Tensor"] = tensor;
        return e;
    }

    /// <summary>The file an error from the checkpoint code names, if any.</summary>
    public static string? FileOf(Exception e) => e.Data["File"] as string;

    /// <summary>The tensor an error from the checkpoint code names, if any.</summary>
    public static string? TensorOf(Exception e) => e.Data["Tensor"] as string;
}

/// <summary>One tensor whose shape in the checkpoint differs from the module's.</summary>
public sealed record ShapeMismatch(string Name, long[] CheckpointShape, long[] ModuleShape)
{
    public override string ToString() =>
        $"{Name}: checkpoint {Shapes.Format(CheckpointShape)} vs module {Shapes.Format(ModuleShape)}";
}

/// <summary>A state dict does not fit a module: every missing, unexpected, shape-mismatched and non-finite tensor, and
/// every pair of tensors the module ties but the checkpoint holds with different values, is listed (nothing is copied
/// into the module when this is thrown).</summary>
public sealed class CheckpointMismatchException : Exception
{
    public CheckpointMismatchException(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapeMismatches, IReadOnlyList<string> nonFinite, IReadOnlyList<string>? tiedConflicts = null)
        : base(Describe(source, missing, unexpected, shapeMismatches, nonFinite, tiedConflicts ?? []))
    {
        Checkpoint = source;
        Missing = missing;
        Unexpected = unexpected;
        ShapeMismatches = shapeMismatches;
        NonFinite = nonFinite;
        TiedConflicts = tiedConflicts ?? [];
    }

    /// <summary>Tensors the module ties (one tensor under two names, e.g. <c>lm_head.weight</c> and
    /// <c>shared.weight</c> with <c>tie_word_embeddings</c>) that the checkpoint holds with different values, each as
    /// <c>name vs target (...)</c>.</summary>
    public IReadOnlyList<string> TiedConflicts { get; }

    /// <summary>The checkpoint file (or other name) the state dict came from.</summary>
    public string Checkpoint { get; }

    /// <summary>Module tensors the checkpoint lacks, each as <c>name [shape]</c> (with the tie target when one was tried).</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Checkpoint tensors the module has no place for, each as <c>name [shape]</c>.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    /// <summary>Checkpoint tensors holding NaN or infinite values, each as <c>name (n NaN, m Inf)</c>.</summary>
    public IReadOnlyList<string> NonFinite { get; }

    static string Describe(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapes, IReadOnlyList<string> nonFinite, IReadOnlyList<string> tiedConflicts)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append($"checkpoint '{source}' does not match the module:");
        void Section(string title, IEnumerable<string> items, int count)
        {
            if (count == 0) return;
            sb.Append($"\n  {count} {title}:");
            foreach (var item in items) sb.Append("\n    ").Append(item);
        }
        Section("missing from the checkpoint", missing, missing.Count);
        Section("unexpected in the checkpoint (not in the module)", unexpected, unexpected.Count);
        Section("with a different shape", shapes.Select(s => s.ToString()), shapes.Count);
        Section("with NaN or infinite values", nonFinite, nonFinite.Count);
        Section("tied in the model (one tensor) but different in the checkpoint", tiedConflicts, tiedConflicts.Count);
        return sb.ToString();
    }
}

internal static class Shapes
{
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Number of elements, checked for overflow and negative dimensions.</summary>
    public static long Numel(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"negative dimension in {Format(shape)}");
            n = checked(n * d);
        }
        return n;
    }
}
