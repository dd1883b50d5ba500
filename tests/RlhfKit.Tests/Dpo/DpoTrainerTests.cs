using RlhfKit.Alignment;
using RlhfKit.Dpo;
using RlhfKit.Loading;
using RlhfKit.Preferences;
using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Dpo;

/// <summary>DPO on the offline profile's 2.5M-parameter summarizer and the shipped preference pairs.</summary>
public class DpoTrainerTests
{
    static (RlhfKit.Models.T5ForConditionalGeneration Policy, IHfTokenizer Tokenizer) OfflinePolicy()
    {
        var folder = Path.Combine(OfflineAssets.DefaultDirectory(), "policy");
        return (AutoModel.T5FromPretrained(folder), AutoTokenizer.FromPretrained(folder));
    }

    static IReadOnlyList<PreferencePair> Shipped(string split) =>
        PreferenceData.Read(Path.Combine(OfflineAssets.DataDirectory(), "preferences", split + ".jsonl"));

    [Fact]
    public void BeforeAnyUpdateThePolicyEqualsTheReferenceSoRewardsAreZeroAndTheLossIsLogTwo()
    {
        var (policy, tokenizer) = OfflinePolicy();
        using var trainer = new DpoTrainer(new DpoConfig { MaxPromptLength = 256 }, policy, tokenizer);
        var stats = trainer.Evaluate(Shipped("test").Take(6).ToList());
        Assert.Equal(Math.Log(2), stats["eval_loss"], 5);
        Assert.Equal(0, stats["eval_rewards/margins"], 6);
        Assert.Equal(0, stats["eval_rewards/accuracies"]); // ties are not wins
        Assert.True(stats["eval_logps/chosen"] < 0 && stats["eval_logps/rejected"] < 0);
    }

    [Fact]
    public void AFewStepsRaiseTheChosenOverRejectedMarginOnHeldOutPairsAndLeaveTheReferenceAlone()
    {
        var (policy, tokenizer) = OfflinePolicy();
        var config = new DpoConfig { Beta = 0.1, LearningRate = 1e-3, BatchSize = 8, MaxPromptLength = 256, Seed = 1 };
        using var trainer = new DpoTrainer(config, policy, tokenizer);
        var reference = trainer.Reference.parameters().Select(p => p.clone()).ToList();
        var heldOut = Shipped("test").Take(24).ToList();
        var log = trainer.Train(Shipped("train").Take(48).ToList(), epochs: 2);
        var after = trainer.Evaluate(heldOut);
        Console.WriteLine($"DPO: train loss {log[0]["loss"]:F4} -> {log[^1]["loss"]:F4}; held-out margin {after["eval_rewards/margins"]:F4}, accuracy {after["eval_rewards/accuracies"]:P0}");

        Assert.Equal(12, log.Count);
        Assert.True(log[^1]["loss"] < log[0]["loss"], $"train loss {log[0]["loss"]} -> {log[^1]["loss"]}");
        Assert.True(after["eval_rewards/margins"] > 0.1, $"held-out margin {after["eval_rewards/margins"]}");
        Assert.True(after["eval_rewards/accuracies"] >= 0.75, $"held-out accuracy {after["eval_rewards/accuracies"]}");
        Assert.All(trainer.Reference.parameters().Zip(reference), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
        foreach (var key in new[] { "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "loss", "grad_norm", "epoch" })
            Assert.True(log[0].ContainsKey(key), key);
    }
}
