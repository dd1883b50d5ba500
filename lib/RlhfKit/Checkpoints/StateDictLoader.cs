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
    /// <summary>Keys always ignored: <c>embeddings.position_ids</c> under <c>roberta.</c>, <c>bert.</c> or no prefix, the
    /// RoBERTa/BERT buffer that older transformers versions saved and newer ones neither save nor need. Model-specific
    /// keys (transformers' <c>_keys_to_ignore_on_load_unexpected</c>) come from the config:
    /// <see cref="Models.PretrainedConfig.IgnoredUnexpectedKeys"/>.</summary>
    public static IReadOnlyList<string> DefaultIgnored { get; } =
        ["roberta.embeddings.position_ids", "bert.embeddings.position_ids", "embeddings.position_ids"];

    /// <summary>
    /// Copies <paramref name="stateDict"/> into <paramref name="module"/>'s parameters and buffers (with no_grad, keeping
    /// the module's dtype and device). A module tensor the checkpoint lacks is filled from <c>tiedTo[name]</c> when that
    /// is in the checkpoint (Hugging Face drops tied duplicates such as <c>encoder.embed_tokens.weight</c> ->
    /// <c>shared.weight</c>). Keys matching <see cref="DefaultIgnored"/> or <paramref name="ignore"/> (exact names or
    /// <c>*</c> patterns) are skipped on both sides. Checkpoint keys in <paramref name="ignoreUnexpected"/> (exact names)
    /// are accepted when the module has no place for them, as transformers' <c>_keys_to_ignore_on_load_unexpected</c>;
    /// every other key must match.
    /// A checkpoint that holds both sides of a tie (e.g. <c>lm_head.weight</c> and <c>shared.weight</c> when the module
    /// ties them) with different values is refused: one tensor cannot take both.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">any tensor is missing, unexpected, of another shape, or holds NaN/Inf,
    /// or tied tensors differ; the module is left untouched.</exception>
    public static LoadReport LoadInto(nn.Module module, IDictionary<string, Tensor> stateDict, string sourceName,
        IReadOnlyDictionary<string, string>? tiedTo = null, ISet<string>? ignore = null, IEnumerable<string>? ignoreUnexpected = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(stateDict);
        var ignoreMatcher = Matcher(DefaultIgnored.Concat(ignore ?? Enumerable.Empty<string>()));
        var unexpectedByDesign = new HashSet<string>(ignoreUnexpected ?? []);
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
            if (ignoreMatcher(name) || unexpectedByDesign.Contains(name)) { ignored.Add(name); continue; }
            // A tie target the module does not hold under that name is still "used" if something was tied to it.
            if (tiedTo is not null && tiedTo.Values.Contains(name) && tied.Any(t => t.EndsWith(" <- " + name, StringComparison.Ordinal))) continue;
            unexpected.Add($"{name} {Shapes.Format(source.shape)}");
        }

        // Both names of a tie present: the module holds one tensor, so the two must agree (transformers 4.36 would
        // silently keep whichever it copies last, lm_head.weight over shared.weight).
        var tiedConflicts = new List<string>();
        foreach (var (name, tieTarget) in tiedTo ?? new Dictionary<string, string>())
        {
            if (!target.ContainsKey(name) || ignoreMatcher(name)) continue;
            if (!stateDict.TryGetValue(name, out var own) || !stateDict.TryGetValue(tieTarget, out var other)) continue;
            if (!own.shape.SequenceEqual(other.shape))
                tiedConflicts.Add($"{name} {Shapes.Format(own.shape)} vs {tieTarget} {Shapes.Format(other.shape)}: tied in the model, different shapes in the checkpoint");
            else if (!Same(own, other))
            {
                using var a = own.to_type(ScalarType.Float64);
                using var b = other.to_type(ScalarType.Float64);
                using var diff = (a - b).abs_().max();
                var hint = name.StartsWith("lm_head.", StringComparison.Ordinal)
                    ? "if the checkpoint's head is meant to be separate, set tie_word_embeddings to false in config.json; otherwise remove the stray tensor"
                    : "remove the stray tensor (or fix the checkpoint)";
                tiedConflicts.Add($"{name} vs {tieTarget}: tied in the model, but the checkpoint holds different values (largest difference {diff.item<double>():G4}); {hint}");
            }
        }

        if (missing.Count + unexpected.Count + shapes.Count + nonFinite.Count + tiedConflicts.Count > 0)
            throw new CheckpointMismatchException(sourceName, missing, unexpected, shapes, nonFinite, tiedConflicts);

        using (torch.no_grad())
        {
            foreach (var (destination, source) in plan)
                destination.copy_(source);
        }
        return new LoadReport(plan.Count, tied, ignored);
    }

    static bool Same(Tensor a, Tensor b)
    {
        if (a.dtype != b.dtype) return false;
        return a.shape.SequenceEqual(b.shape) && a.allclose(b, rtol: 0, atol: 0);
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
