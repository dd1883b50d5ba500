using RlhfKit.Alignment;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

/// <summary>
/// <see cref="PpoTrainer.UpdateDType"/>: the PPO update under bfloat16 autocast. bfloat16 keeps 8 mantissa bits, so
/// each product is off by about 2^-8 of its size; through a small T5 (a dozen products between input and logits, with
/// norms in between) the log-probabilities move by a few 2^-8 at most, and the update that follows from them moves
/// the policy almost as the float32 update does.
/// </summary>
public class UpdateDTypeTests
{
    static readonly double Eps = Math.Pow(2, -8);

    static PpoConfig Config => new() { BatchSize = 8, MiniBatchSize = 8, PpoEpochs = 2, LearningRate = 1e-3, Seed = 3 };

    /// <summary>A fixed batch: queries, responses the float32 policy sampled, and scores.</summary>
    static (List<long[]> Queries, List<long[]> Responses, List<float> Scores) Batch()
    {
        var queries = PpoTrainerTests.Queries(8, 2);
        using var trainer = new PpoTrainer(Config, PpoTrainerTests.TinyPolicy(1));
        using var rollout = trainer.Generate(queries, GenerationConfig.PpoRollout(6, seed: 5) with { MinNewTokens = 6 });
        var responses = rollout.ResponseIds().ToList();
        var scores = responses.Select((r, i) => (float)(r.Count(t => t == 7) - 0.1 * i)).ToList();
        return (queries, responses, scores);
    }

    /// <summary>Float32 log-probabilities of the batch's responses under <paramref name="policy"/>.</summary>
    static Tensor Logprobs(Seq2SeqLMWithValueHead policy, RolloutBatch batch)
    {
        using var noGrad = no_grad();
        policy.eval();
        using var output = policy.Forward(batch.InputIds, batch.AttentionMask, batch.DecoderInputIds, batch.DecoderMask);
        return PpoMath.LogprobsFromLogits(output.Logits, batch.Targets) * batch.Mask;
    }

    [Fact]
    public void UpdateUnderAutocastStaysCloseToFloat32OnAFixedBatch()
    {
        using var scope = NewDisposeScope();
        var (queries, responses, scores) = Batch();
        var float32Policy = PpoTrainerTests.TinyPolicy(1);
        var bf16Policy = PpoTrainerTests.TinyPolicy(1);
        using var float32 = new PpoTrainer(Config, float32Policy);
        using var bf16 = new PpoTrainer(Config, bf16Policy) { UpdateDType = ScalarType.BFloat16 };
        float32Policy.eval(); bf16Policy.eval(); // dropout off, as Step has it
        var batch = RolloutBatch.Create(queries, responses, float32Policy.Config, CPU);
        var before = Logprobs(float32Policy, batch);

        // The no-gradient pass: the old log-probabilities under autocast are bfloat16-close, not equal.
        var oldExact = float32.BatchedForwardPass(batch).OldLogprobs * batch.Mask;
        var oldMixed = bf16.BatchedForwardPass(batch).OldLogprobs * batch.Mask;
        var oldDiff = (oldMixed - oldExact).abs().sum().item<float>() / batch.Mask.sum().item<long>();
        Assert.True(oldDiff > 0, "the no-gradient pass ran in float32");
        Assert.True(oldDiff < 4 * Eps, $"mean |Δ old log p| {oldDiff}");

        var exactStats = float32.Step(queries, responses, scores);
        var mixedStats = bf16.Step(queries, responses, scores);

        // One minibatch per epoch: the first epoch's ratios compare the minibatch pass with the no-gradient pass on the
        // same weights. Both run under autocast, so they agree as in float32; a no-gradient pass left in float32 would
        // put the ratios a bfloat16 rounding (~1e-2) away from 1.
        var ratios = mixedStats.Distributions["ppo/policy/ratio"];
        Assert.All(ratios.Take(ratios.Length / 2), r => Assert.Equal(1.0, r, 1e-5));

        // The master weights stay float32, and the update moved them.
        Assert.All(bf16Policy.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        // The two updates move the log-probabilities alike: the float32 log-probs after each update differ from each
        // other by a small fraction of how far either moved (Adam steps every weight by about ±lr whatever the gradient's
        // size, so weights whose gradient is near zero can take the other sign; they move the log-probs little).
        var movedExact = Logprobs(float32Policy, batch) - before;
        var movedMixed = Logprobs(bf16Policy, batch) - before;
        double moved = movedExact.abs().mean().item<float>(), apart = (movedMixed - movedExact).abs().mean().item<float>();
        Assert.True(moved > 1e-3, $"the float32 update moved the log-probabilities by {moved} only");
        Assert.True(apart < 0.25 * moved, $"bfloat16 and float32 updates {apart} apart, against {moved} moved");
        // The losses of the first epoch (same weights, bfloat16-close log-probs and values).
        foreach (var key in new[] { "ppo/loss/policy", "ppo/loss/value", "objective/kl" })
            Assert.True(Math.Abs(mixedStats.Scalars[key] - exactStats.Scalars[key]) < 0.05 * Math.Abs(exactStats.Scalars[key]) + 4 * Eps,
                $"{key}: {mixedStats.Scalars[key]} under autocast, {exactStats.Scalars[key]} in float32");
    }

    [Fact]
    public void UpdateDTypeTakesBfloat16OrFloat32AndValidateNamesTheOption()
    {
        using var trainer = new PpoTrainer(Config, PpoTrainerTests.TinyPolicy(2));
        Assert.Null(trainer.UpdateDType);
        trainer.UpdateDType = ScalarType.Float32;
        Assert.Null(trainer.UpdateDType); // float32 is the default, not a region
        trainer.UpdateDType = ScalarType.BFloat16;
        Assert.Equal(ScalarType.BFloat16, trainer.UpdateDType);
        Assert.Contains("float16", Assert.Throws<ArgumentException>(() => trainer.UpdateDType = ScalarType.Float16).Message);
        Assert.Throws<ArgumentException>(() => trainer.UpdateDType = ScalarType.Float64);

        Assert.Equal(ScalarType.BFloat16, (Profiles.Workshop with { UpdateDType = "bfloat16" }).UpdateScalarType());
        Assert.Null((Profiles.Workshop with { UpdateDType = "float32" }).UpdateScalarType());
        Assert.Null(Profiles.Workshop.UpdateScalarType()); // not a default anywhere
        Assert.Null(Profiles.Offline("/nowhere").UpdateScalarType());
        foreach (var bad in new[] { "float16", "float64" })
        {
            var e = Assert.Throws<ArgumentException>(() => (Profiles.Workshop with { UpdateDType = bad }).Validate());
            Assert.Contains($"UpdateDType '{bad}'", e.Message);
            Assert.Contains("--update-dtype", e.Message);
        }
    }

    [Fact]
    public void WorkshopProfilesScoreRewardsInBfloat16OnlyOnACpuWithNativeBfloat16()
    {
        var expected = CpuFeatures.HasBf16 ? ScalarType.BFloat16 : (ScalarType?)null;
        Assert.Equal(expected, Profiles.Workshop.RewardScalarType());
        Assert.Equal(expected, Profiles.Base.RewardScalarType());
        Assert.Null((Profiles.Workshop with { Device = "cuda" }).RewardScalarType()); // "auto" is a CPU rule
        Assert.Null(Profiles.Offline("/nowhere").RewardScalarType());                 // small models, reproducible runs
        Assert.Null(Profiles.Workshop.InferenceScalarType());                          // rollouts stay float32
        // An explicit type wins; without one the rewards follow InferenceDType (align --dtype sets both).
        Assert.Null((Profiles.Workshop with { RewardDType = "float32" }).RewardScalarType());
        Assert.Equal(ScalarType.BFloat16, (Profiles.Offline("/nowhere") with { InferenceDType = "bfloat16" }).RewardScalarType());
        var e = Assert.Throws<ArgumentException>(() => (Profiles.Workshop with { RewardDType = "int8" }).Validate());
        Assert.Contains("RewardDType 'int8'", e.Message);
    }
}
