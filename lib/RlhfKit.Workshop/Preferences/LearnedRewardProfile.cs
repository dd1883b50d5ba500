using System.Text.Json;
using RlhfKit.Alignment;

namespace RlhfKit.Preferences;

/// <summary>
/// PPO on a learned reward: an <see cref="AlignmentConfig"/> whose <see cref="CompositeReward"/> holds a reward model
/// trained on preference pairs (<see cref="RewardTrainer"/>), as InstructGPT aligned. The model's single logit
/// (<c>LABEL_0</c>) is the component <c>learned</c>, loaded through <see cref="ProfileLoader"/> like every classifier,
/// so the PPO loop, checkpoints and evaluation stay those of <c>align</c>.
/// </summary>
public static class LearnedRewardProfile
{
    /// <summary>
    /// <paramref name="config"/> with reward <c>weight · r_learned</c>, plus the profile's classifiers when
    /// <paramref name="keepClassifiers"/> (total <c>weight · r_learned + Σ w_i · r_i</c>). <paramref name="rewardModel"/>
    /// is a reward-model folder (or a <c>reward-model</c> output folder holding <c>model/</c>).
    /// </summary>
    public static AlignmentConfig WithLearnedReward(this AlignmentConfig config, string rewardModel, double weight = 1.0, bool keepClassifiers = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!double.IsFinite(weight) || weight <= 0) throw new ArgumentException($"The learned reward's weight must be a positive number, got {weight}.", nameof(weight));
        var learned = new ClassifierRewardSpec(PreferenceComparison.Learned, CheckFolder(rewardModel), "LABEL_0", weight);
        return config with { Rewards = keepClassifiers ? [learned, .. config.Rewards] : [learned] };
    }

    /// <summary>The reward model's folder: <paramref name="folder"/> itself, or its <c>model/</c> subfolder (what
    /// <c>reward-model --out</c> writes). Throws naming the file at fault when it is not a one-output classifier.</summary>
    public static string CheckFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var full = Path.GetFullPath(folder);
        if (!File.Exists(Path.Combine(full, "config.json")) && File.Exists(Path.Combine(full, "model", "config.json"))) full = Path.Combine(full, "model");
        var config = Path.Combine(full, "config.json");
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"The reward model folder {full} does not exist (train one with 'reward-model --out DIR').");
        if (!File.Exists(config)) throw new FileNotFoundException($"{config} is missing: {full} is not a reward model folder (train one with 'reward-model --out DIR').", config);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
        int labels = doc.RootElement.TryGetProperty("id2label", out var id2label) && id2label.ValueKind == JsonValueKind.Object ? id2label.EnumerateObject().Count()
            : doc.RootElement.TryGetProperty("num_labels", out var n) && n.TryGetInt32(out var count) ? count : 2;
        if (labels != 1) throw new InvalidDataException($"{config}: a reward model has one output (num_labels = 1); this one has {labels}.");
        return full;
    }
}
