using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>What <see cref="StateDictLoader.LoadInto"/> did.</summary>
/// <param name="Loaded">Module tensors filled from the checkpoint (including tied ones).</param>
/// <param name="Tied">Module tensors the checkpoint lacked that were filled from their tie target, as <c>name &lt;- target</c>.</param>
/// <param name="Ignored">Checkpoint or module tensors skipped because they matched an ignore pattern.</param>
public sealed record LoadReport(int Loaded, IReadOnlyList<string> Tied, IReadOnlyList<string> Ignored);

/// <summary>Strict state-dict loading: every module tensor must be filled, every checkpoint tensor used, and every
/// shape must match; otherwise nothing is copied and one exception lists all the problems.</summary>
public static class StateDictLoader
{
    /// <summary>Patterns always ignored (<c>*</c> matches any run of characters): <c>*.position_ids</c>, the RoBERTa/BERT
    /// buffer that older transformers versions saved and newer ones neither save nor need.</summary>
    public static IReadOnlyList<string> DefaultIgnored { get; } = ["*.position_ids"];

    /// <summary>
    /// Copies <paramref name="stateDict"/> into <paramref name="module"/>'s parameters and buffers (with no_grad, keeping
    /// the module's dtype and device). A module tensor the checkpoint lacks is filled from <c>tiedTo[name]</c> when that
    /// is in the checkpoint (Hugging Face drops tied duplicates such as <c>encoder.embed_tokens.weight</c> ->
    /// <c>shared.weight</c>). Keys matching <see cref="DefaultIgnored"/> or <paramref name="ignore"/> (exact names or
    /// <c>*</c> patterns) are skipped on both sides.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">any tensor is missing, unexpected, of another shape, or holds NaN/Inf;
    /// the module is left untouched.</exception>
    public static LoadReport LoadInto(nn.Module module, IDictionary<string, Tensor> stateDict, string sourceName,
        IReadOnlyDictionary<string, string>? tiedTo = null, ISet<string>? ignore = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(stateDict);
        var ignoreMatcher = Matcher(DefaultIgnored.Concat(ignore ?? Enumerable.Empty<string>()));
        var target = module.state_dict();

        var missing = new List<string>();
        var unexpected = new List<string>();
        var shapes = new List<ShapeMismatch>();
        var nonFinite = new List<string>();
        var ignored = new List<string>();
        var tied = new List<string>();
        var plan = new List<(Tensor Destination, Tensor Source)>();
        var checkedFinite = new HashSet<string>();

        void CheckFinite(string name, Tensor t)
        {
            if (!checkedFinite.Add(name) || !t.is_floating_point()) return;
            using var finite = torch.isfinite(t);
            using var all = finite.all();
            if (all.item<bool>()) return;
            using var nan = torch.isnan(t);
            using var nanCount = nan.sum();
            using var inf = torch.isinf(t);
            using var infCount = inf.sum();
            nonFinite.Add($"{name} {Shapes.Format(t.shape)} ({nanCount.item<long>()} NaN, {infCount.item<long>()} Inf)");
        }

        foreach (var (name, destination) in target)
        {
            if (ignoreMatcher(name)) { ignored.Add(name); continue; }
            string sourceKey = name;
            if (!stateDict.TryGetValue(name, out var source))
            {
                if (tiedTo is not null && tiedTo.TryGetValue(name, out var tieTarget) && stateDict.TryGetValue(tieTarget, out source))
                {
                    sourceKey = tieTarget;
                    tied.Add($"{name} <- {tieTarget}");
                }
                else
                {
                    var tieNote = tiedTo is not null && tiedTo.TryGetValue(name, out var t2) ? $" (tied to '{t2}', also absent)" : "";
                    missing.Add($"{name} {Shapes.Format(destination.shape)}{tieNote}");
                    continue;
                }
            }
            if (!source.shape.SequenceEqual(destination.shape))
            {
                shapes.Add(new ShapeMismatch(sourceKey == name ? name : $"{name} (tied to {sourceKey})", source.shape, destination.shape));
                continue;
            }
            CheckFinite(sourceKey, source);
            plan.Add((destination, source));
        }
        foreach (var (name, source) in stateDict)
        {
            if (target.ContainsKey(name)) continue;
            if (ignoreMatcher(name)) { ignored.Add(name); continue; }
            // A tie target the module does not hold under that name is still "used" if something was tied to it.
            if (tiedTo is not null && tiedTo.Values.Contains(name) && tied.Any(t => t.EndsWith(" <- " + name, StringComparison.Ordinal))) continue;
            unexpected.Add($"{name} {Shapes.Format(source.shape)}");
        }

        if (missing.Count + unexpected.Count + shapes.Count + nonFinite.Count > 0)
            throw new CheckpointMismatchException(sourceName, missing, unexpected, shapes, nonFinite);

        using (torch.no_grad())
        {
            foreach (var (destination, source) in plan)
                destination.copy_(source);
        }
        return new LoadReport(plan.Count, tied, ignored);
    }

    static Func<string, bool> Matcher(IEnumerable<string> patterns)
    {
        var exact = new HashSet<string>();
        var regexes = new List<Regex>();
        foreach (var p in patterns)
        {
            if (p.Contains('*')) regexes.Add(new Regex("^" + Regex.Escape(p).Replace("\\*", ".*") + "$", RegexOptions.CultureInvariant));
            else exact.Add(p);
        }
        return name => exact.Contains(name) || regexes.Any(r => r.IsMatch(name));
    }
}
