using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

public class PpoTrainerTests
{
    const int TargetToken = 7;

    internal static T5Config TinyConfig => new()
    {
        VocabSize = 32, DModel = 32, DKv = 16, DFf = 64, NumLayers = 1, NumDecoderLayers = 1, NumHeads = 2,
        FeedForwardProj = "gated-gelu", TieWordEmbeddings = false, DropoutRate = 0.1, EosTokenId = 1, PadTokenId = 0, DecoderStartTokenId = 0,
    };

    internal static Seq2SeqLMWithValueHead TinyPolicy(int seed)
    {
        var policy = new Seq2SeqLMWithValueHead(new T5ForConditionalGeneration(TinyConfig));
        SeededInitialization.InitializeRandomWeights(policy, seed);
        return policy;
    }

    internal static List<long[]> Queries(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, rng.Next(3, 7)).Select(_ => (long)rng.Next(3, 32)).Append(1L).ToArray()).ToList();
    }

    static float TargetFraction(long[] response) => response.Length == 0 ? 0 : response.Count(t => t == TargetToken) / (float)response.Length;

    [Fact]
    public void FirstEpochRatioIsOneReferenceStaysFixedAndPolicyMoves()
    {
        var policy = TinyPolicy(1);
        using var trainer = new PpoTrainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 2, LearningRate = 1e-3 }, policy);
        var refBefore = trainer.Reference.parameters().Select(p => p.clone()).ToList();
        var policyBefore = policy.parameters().Select(p => p.clone()).ToList();
        var queries = Queries(4, 2);
        using var rollout = trainer.Generate(queries, GenerationConfig.PpoRollout(6));
        var responses = rollout.ResponseIds();
        var stats = trainer.Step(queries, responses, responses.Select(TargetFraction).ToList());

        // One minibatch per epoch: the first minibatch's ratios are the first B*T entries of the concatenation.
        var ratios = stats.Distributions["ppo/policy/ratio"];
        var firstEpoch = ratios.Take(ratios.Length / 2).ToArray();
        Assert.All(firstEpoch, r => Assert.Equal(1.0, r, 1e-5));
        Assert.Contains(ratios.Skip(ratios.Length / 2), r => Math.Abs(r - 1) > 1e-4); // the second epoch sees the update
        Assert.All(trainer.Reference.parameters().Zip(refBefore), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
        Assert.Contains(policy.parameters().Zip(policyBefore), p => !p.First.equal(p.Second).all().item<bool>());
        Assert.Equal(1, trainer.StepCount);
        foreach (var key in new[] { "objective/kl", "objective/kl_coef", "objective/entropy", "ppo/loss/policy", "ppo/loss/value", "ppo/loss/total",
            "ppo/policy/approxkl", "ppo/policy/clipfrac", "ppo/returns/mean", "ppo/val/vpred", "ppo/val/error", "ppo/val/clipfrac",
            "env/reward_mean", "env/reward_std", "time/ppo/forward_pass", "time/ppo/total" })
            Assert.True(stats.Scalars.ContainsKey(key), key);
        Assert.Equal(0.0, stats.Scalars["objective/kl"], 1e-5); // policy == reference before the update
        Assert.Equal(0.2, stats.Scalars["objective/kl_coef"]);
        Assert.NotEqual(0.2, trainer.KlController.Value); // adaptive controller moved (KL 0 < target 6)
    }

    /// <summary>Rewarding a chosen token must make the policy emit it more, with the KL to the reference bounded.
    /// Flipping the policy-gradient sign or breaking the advantages makes the reward fall or stay flat.</summary>
    [Fact]
    public void PolicyLearnsToEmitTheRewardedTokenWithBoundedKl()
    {
        var policy = TinyPolicy(3);
        var config = new PpoConfig { BatchSize = 16, MiniBatchSize = 4, PpoEpochs = 4, LearningRate = 3e-3, InitKlCoef = 0.05, Seed = 11 };
        using var trainer = new PpoTrainer(config, policy);
        var rewards = new List<double>();
        var kls = new List<double>();
        for (int step = 0; step < 25; step++)
        {
            var queries = Queries(16, 100 + step);
            using var rollout = trainer.Generate(queries, GenerationConfig.PpoRollout(8));
            var responses = rollout.ResponseIds();
            var scores = responses.Select(TargetFraction).ToList();
            var stats = trainer.Step(queries, responses, scores);
            rewards.Add(scores.Average());
            kls.Add(stats.Scalars["objective/kl"]);
        }
        double first = rewards.Take(5).Average(), last = rewards.Skip(20).Average();
        Assert.True(last > first + 0.25, $"mean reward first 5 steps {first:F3}, last 5 steps {last:F3}");
        Assert.All(kls, kl => Assert.InRange(kl, -1, 20));
    }

    [Fact]
    public void StepsDoNotLeakTensors()
    {
        var policy = TinyPolicy(4);
        using var trainer = new PpoTrainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 2, GradientAccumulationSteps = 2, PpoEpochs = 2, MaxGradNorm = 1.0 }, policy);
        long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        void OneStep(int seed)
        {
            var queries = Queries(4, seed);
            using var rollout = trainer.Generate(queries, GenerationConfig.PpoRollout(5));
            var responses = rollout.ResponseIds();
            trainer.Step(queries, responses, responses.Select(TargetFraction).ToList());
        }
        OneStep(0); OneStep(1); // optimiser state exists after the first steps
        var before = Live();
        for (int i = 2; i < 12; i++) OneStep(i);
        Assert.Equal(before, Live());
    }

    [Fact]
    public void ResumedTrainerContinuesIdentically()
    {
        List<double> Run(bool interrupt)
        {
            var policy = TinyPolicy(5);
            var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 2, PpoEpochs = 2, LearningRate = 1e-3, Seed = 3 };
            var trainer = new PpoTrainer(config, policy);
            var losses = new List<double>();
            var dir = Directory.CreateTempSubdirectory().FullName;
            for (int step = 0; step < 4; step++)
            {
                if (interrupt && step == 2)
                {
                    // Save, rebuild everything from disk, continue.
                    var weights = Path.Combine(dir, "policy.bin");
                    policy.save(weights);
                    trainer.SaveOptimizer(Path.Combine(dir, "optim.bin"));
                    var state = trainer.GetState();
                    var reference = trainer.Reference;
                    trainer.Dispose();
                    policy = TinyPolicy(99);
                    policy.load(weights);
                    trainer = new PpoTrainer(config, policy, reference);
                    trainer.LoadOptimizer(Path.Combine(dir, "optim.bin"));
                    trainer.SetState(state);
                }
                var queries = Queries(4, step);
                using var rollout = trainer.Generate(queries, GenerationConfig.PpoRollout(5));
                var responses = rollout.ResponseIds();
                losses.Add(trainer.Step(queries, responses, responses.Select(TargetFraction).ToList()).Scalars["ppo/loss/total"]);
            }
            trainer.Dispose();
            return losses;
        }
        Assert.Equal(Run(false), Run(true));
    }

    [Fact]
    public void RolloutSettingsThatBiasTheKlAreWarnedAboutOnce()
    {
        using var trainer = new PpoTrainer(new PpoConfig { BatchSize = 2, MiniBatchSize = 1 }, TinyPolicy(7));
        var warnings = new List<string>();
        trainer.Warn = warnings.Add;
        var workshop = new GenerationConfig { DoSample = true, MinNewTokens = 3, TopK = 0, MaxNewTokens = 4, Seed = 1 };
        trainer.Generate(Queries(2, 0), workshop).Dispose();
        trainer.Generate(Queries(2, 1), workshop).Dispose();
        Assert.Single(warnings);
        Assert.Contains("min_new_tokens", warnings[0]);
        trainer.Generate(Queries(2, 2), GenerationConfig.PpoRollout(4)).Dispose();
        Assert.Single(warnings);
    }

    [Fact]
    public void BadBatchesAreRejectedWithTheirIndex()
    {
        using var trainer = new PpoTrainer(new PpoConfig { BatchSize = 2, MiniBatchSize = 1 }, TinyPolicy(6));
        var q = Queries(2, 0);
        Assert.Contains("BatchSize = 2", Assert.Throws<ArgumentException>(() => trainer.Step(q, [[5]], [1f])).Message);
        Assert.Contains("scores[1]", Assert.Throws<ArgumentException>(() => trainer.Step(q, [[5], [6]], [1f, float.NaN])).Message);
        Assert.Contains("queries[0]", Assert.Throws<ArgumentException>(() => trainer.Step([[], [1]], [[5], [6]], [1f, 2f])).Message);
        // An empty response is allowed: its row contributes only what the math defines (no NaN).
        var stats = trainer.Step(q, [[], [6, 1]], [1f, 2f]);
        Assert.All(stats.Scalars, kv => Assert.False(double.IsNaN(kv.Value), kv.Key));
    }
}
