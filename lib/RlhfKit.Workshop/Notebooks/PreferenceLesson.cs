using System.Globalization;
using RlhfKit.Alignment;
using RlhfKit.Preferences;

namespace RlhfKit.Notebooks;

/// <summary>
/// What lesson 05 (preferences, a reward model, PPO on it and DPO) needs beyond <see cref="Lesson"/>: its folders, the
/// shipped preference pairs, the settings of its short trainings, and the <see cref="Lesson.StepsVariable"/> override
/// that lets the tests run it in a few minutes.
/// </summary>
public static class PreferenceLesson
{
    /// <summary>The learned reward's weight and the initial KL coefficient of PPO on it, as measured on the offline
    /// profile (README, "Preferences on the offline profile"): the reward model's margins are large (about 16 logits
    /// between a neutral and a loaded summary), so it was scaled down and the KL penalty raised to keep the policy near
    /// the reference. Since the offline profile scales scores by their running spread, the weight matters little for it
    /// (a profile without score scaling still needs it); the KL coefficient does the holding.</summary>
    public const double LearnedRewardWeight = 0.2, PpoInitKlCoef = 0.2;

    /// <summary>The folder of lesson 05's runs: <c>runs/notebook-&lt;profile&gt;-preferences</c>.</summary>
    public static string Folder(AlignmentConfig config) => Path.Combine(Lesson.RunsRoot(), $"notebook-{config.Profile}-preferences");

    /// <summary>The shipped rule-made pairs of one split (<c>data/preferences/train.jsonl</c> or <c>test.jsonl</c>).</summary>
    public static IReadOnlyList<PreferencePair> ShippedPairs(string split) =>
        PreferenceData.Read(Path.Combine(OfflineAssets.DataDirectory(), "preferences", split + ".jsonl"));

    /// <summary><paramref name="steps"/>, or the value of <see cref="Lesson.StepsVariable"/> when it is set (the tests
    /// train every model of the lesson a handful of steps).</summary>
    public static int Steps(int steps) =>
        Environment.GetEnvironmentVariable(Lesson.StepsVariable) is { Length: > 0 } v && int.TryParse(v.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : steps;

    /// <summary>The offline reward model's recipe (<see cref="RewardConfig.OfflineRecipe"/>), one epoch when
    /// <see cref="Lesson.StepsVariable"/> is set.</summary>
    public static RewardConfig RewardConfig() =>
        Environment.GetEnvironmentVariable(Lesson.StepsVariable) is { Length: > 0 } ? Preferences.RewardConfig.OfflineRecipe with { Epochs = 1 } : Preferences.RewardConfig.OfflineRecipe;

    /// <summary>PPO on the learned reward in <paramref name="rewardModel"/>: <paramref name="config"/> with the reward
    /// <see cref="LearnedRewardWeight"/> x learned and the initial KL coefficient <see cref="PpoInitKlCoef"/>.</summary>
    public static AlignmentConfig PpoOnLearnedReward(AlignmentConfig config, string rewardModel) =>
        config.WithLearnedReward(rewardModel, LearnedRewardWeight) with { Ppo = config.Ppo with { InitKlCoef = PpoInitKlCoef } };
}
