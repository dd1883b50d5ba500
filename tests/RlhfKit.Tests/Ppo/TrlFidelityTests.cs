using RlhfKit.Alignment;
using RlhfKit.Common;
using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Ppo;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

/// <summary>
/// The trainer's paths against TRL 0.7.1's <c>PPOTrainer.step</c>: where the kit matches TRL, where it chose otherwise
/// (and <see cref="PpoConfig.StrictTrl"/> reproduces TRL), and the paths no math-only parity test reaches: score
/// scaling, early stopping, the ratio threshold, gradient clipping, the full KL, gradient accumulation and the chunked
/// no-gradient pass.
/// </summary>
public class TrlFidelityTests
{
    static readonly float[] Scores = [0.5f, -1.0f, 2.0f, 0.25f];

    /// <summary>Four fixed responses of three tokens each (no eos), so every row has the same number of masked tokens.</summary>
    static List<long[]> Responses() => [[5, 6, 7], [8, 9, 10], [11, 12, 13], [14, 15, 16]];

    static PpoTrainer Trainer(PpoConfig config, int seed = 1) => new(config, PpoTrainerTests.TinyPolicy(seed));

    static List<Tensor> Parameters(nn.Module m) => m.parameters().Select(p => p.detach().clone()).ToList();

    static double MaxChange(IReadOnlyList<Tensor> before, nn.Module after) =>
        before.Zip(after.parameters()).Max(p => (p.First - p.Second.detach()).abs().max().item<float>());

    // ---- TRL's seq2seq mask (StrictTrl) ----

    /// <summary>TRL 0.7.1's mask, computed as its <c>batched_forward_pass</c> does for an encoder-decoder: its responses
    /// are the generated tokens after the decoder start token; <c>masks[:, :-1] = attention_mask[:, 1:]</c>, then
    /// <c>masks[j, :1] = 0</c> and <c>masks[j, end:] = 0</c> with <c>end = attention_mask[j].sum() - 1</c>, and the
    /// returned mask is <c>masks[:, :-1]</c>.</summary>
    static long[,] TrlMask(IReadOnlyList<long[]> generated)
    {
        int width = generated.Max(r => r.Length) + 1; // decoder inputs: start token + response
        var attention = new long[generated.Count, width];
        for (int j = 0; j < generated.Count; j++) for (int t = 0; t <= generated[j].Length; t++) attention[j, t] = 1;
        var masks = new long[generated.Count, width];
        for (int j = 0; j < generated.Count; j++)
        {
            for (int t = 0; t < width - 1; t++) masks[j, t] = attention[j, t + 1];
            long end = 0;
            for (int t = 0; t < width; t++) end += attention[j, t];
            end -= 1;
            masks[j, 0] = 0;
            for (long t = end; t < width; t++) masks[j, t] = 0;
        }
        var result = new long[generated.Count, width - 1];
        for (int j = 0; j < generated.Count; j++) for (int t = 0; t < width - 1; t++) result[j, t] = masks[j, t];
        return result;
    }

    [Fact]
    public void StrictTrlMaskLeavesOutTheFirstGeneratedTokenExactlyAsTrlDoes()
    {
        List<long[]> responses = [[5, 6, 7, 1], [8, 9, 1], [10, 11, 12, 13, 14]];
        var queries = PpoTrainerTests.Queries(3, 4);
        var config = PpoTrainerTests.TinyConfig;
        var expected = TrlMask(responses);
        using var strict = RolloutBatch.Create(queries, responses, config, CPU, strictTrl: true).Mask;
        Assert.Equal(new long[] { expected.GetLength(0), expected.GetLength(1) }, strict.shape);
        var strictValues = strict.data<long>().ToArray();
        for (int j = 0; j < expected.GetLength(0); j++)
            for (int t = 0; t < expected.GetLength(1); t++)
                Assert.True(expected[j, t] == strictValues[j * expected.GetLength(1) + t], $"row {j}, token {t}: TRL {expected[j, t]}, kit (strict) {strictValues[j * expected.GetLength(1) + t]}");

        // The kit's own mask keeps the first generated token: it differs from TRL's in column 0 only.
        using var kit = RolloutBatch.Create(queries, responses, config, CPU).Mask;
        var kitValues = kit.data<long>().ToArray();
        for (int j = 0; j < expected.GetLength(0); j++)
            for (int t = 0; t < expected.GetLength(1); t++)
                Assert.Equal(t == 0 ? 1 : expected[j, t], kitValues[j * expected.GetLength(1) + t]);
    }

    [Fact]
    public void StrictTrlRejectsResponsesTrlCallsTooShort()
    {
        var e = Assert.Throws<ArgumentException>(() => RolloutBatch.Create(PpoTrainerTests.Queries(2, 4), [[5, 6, 7], [8, 1]], PpoTrainerTests.TinyConfig, CPU, strictTrl: true));
        Assert.Contains("responses[1] has 2 tokens", e.Message);
        Assert.Contains("Responses are too short", e.Message);
    }

    [Fact]
    public void ResponseLengthStatisticsCountTheStartTokenOnlyUnderStrictTrl()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        using var kit = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1 });
        var kitStats = kit.Step(queries, Responses(), Scores);
        using var strict = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1, StrictTrl = true });
        var strictStats = strict.Step(queries, Responses(), Scores);
        Assert.Equal(3.0, kitStats.Scalars["tokens/responses_len_mean"]);
        Assert.Equal(4.0, strictStats.Scalars["tokens/responses_len_mean"]); // TRL's responses begin with the start token
    }

    [Fact]
    public void StepRejectsResponsesThatBeginWithTheDecoderStartToken()
    {
        using var trainer = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1 });
        var start = PpoTrainerTests.TinyConfig.DecoderStartTokenId;
        var trlStyle = Responses().Select(r => r.Prepend(start).ToArray()).ToList();
        var e = Assert.Throws<ArgumentException>(() => trainer.Step(PpoTrainerTests.Queries(4, 2), trlStyle, Scores));
        Assert.Contains("begins with the decoder start token", e.Message);
        Assert.Contains("response[1:]", e.Message);
        Assert.Equal(0, trainer.StepCount);
    }

    // ---- early stopping (once per epoch, as TRL 0.7.1) ----

    [Fact]
    public void EarlyStoppingIsCheckedOncePerEpochOnTheLastMinibatch()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        var warnings = new List<string>();
        var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 1, PpoEpochs = 4, LearningRate = 1e-2, EarlyStopping = true, TargetKl = 1e-9 };
        using var trainer = Trainer(config);
        trainer.Warn = warnings.Add;
        var stats = trainer.Step(queries, Responses(), Scores);
        // TRL only looks at the end of an epoch: whole epochs run (4 minibatches of 3 tokens each), and the first epoch
        // whose last minibatch shows a policy KL over 1.5e-9 is the last one.
        Assert.Equal(1.0, stats.Scalars["ppo/early_stop"]);
        var ratios = stats.Distributions["ppo/policy/ratio"].Length;
        Assert.True(ratios % (4 * 3) == 0 && ratios < 4 * 4 * 3, $"{ratios} ratios: not a whole number of epochs short of all four");
        var lastEpoch = ratios / (4 * 3) - 1;
        Assert.Contains(warnings, w => w.StartsWith($"Early stopping after epoch {lastEpoch}:", StringComparison.Ordinal));

        using var unlimited = Trainer(config with { TargetKl = 1e9 });
        var all = unlimited.Step(queries, Responses(), Scores);
        Assert.Equal(0.0, all.Scalars["ppo/early_stop"]);
        Assert.Equal(4 * 4 * 3, all.Distributions["ppo/policy/ratio"].Length);
    }

    // ---- the ratio threshold and gradient clipping ----

    [Fact]
    public void MinibatchesOverTheRatioThresholdLeaveTheWeightsUntouched()
    {
        // Every ratio is 1 in the first pass; a threshold below 1 marks every minibatch as exceeded.
        var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 2, PpoEpochs = 1, LearningRate = 1e-2, RatioThreshold = 0.5 };
        using var trainer = Trainer(config);
        var before = Parameters(trainer.Policy);
        var warnings = new List<string>();
        trainer.Warn = warnings.Add;
        var stats = trainer.Step(PpoTrainerTests.Queries(4, 2), Responses(), Scores);
        Assert.Equal(0.0, MaxChange(before, trainer.Policy));
        Assert.Equal(0.0, stats.Scalars["ppo/loss/total"]);
        Assert.Contains(warnings, w => w.Contains("ratio", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void MaxGradNormClipsTheGradientBeforeTheOptimizerStep()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1, LearningRate = 1e-2 };
        using var free = Trainer(config);
        var before = Parameters(free.Policy);
        free.Step(queries, Responses(), Scores);
        var freeChange = MaxChange(before, free.Policy);
        // Adam divides by the gradient's own scale, so only a gradient clipped far below Adam's epsilon (1e-8) shows in
        // the step: a norm of 1e-12 shrinks the largest update by orders of magnitude.
        using var clipped = Trainer(config with { MaxGradNorm = 1e-12 });
        clipped.Step(queries, Responses(), Scores);
        var clippedChange = MaxChange(before, clipped.Policy);
        Assert.True(freeChange > 1e-3, $"the unclipped step moved the weights by only {freeChange}");
        Assert.True(clippedChange < freeChange * 1e-2, $"clipped {clippedChange} vs unclipped {freeChange}");
    }

    // ---- score scaling, normalisation and clipping (TRL's RunningMoments) ----

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void ScoreScalingNormalisationAndClippingFollowTrlsFormulas(bool norm, bool strict)
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        const double clip = 1.2;
        var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1, UseScoreScaling = true, UseScoreNorm = norm, ScoreClip = clip, StrictTrl = strict };
        using var trainer = Trainer(config);
        float[][] batches = [Scores, [3.0f, 1.0f, -2.0f, 0.5f]];
        var seen = new List<double>();
        foreach (var scores in batches)
        {
            var stats = trainer.Step(queries, Responses(), scores);
            // trl RunningMoments.update: mean and population variance over every score so far; std = sqrt(var·n/(n−1)).
            seen.AddRange(scores.Select(s => (double)s));
            double mean = seen.Average(), var = seen.Sum(x => (x - mean) * (x - mean)) / seen.Count;
            double std = Math.Sqrt(var * seen.Count / (seen.Count - 1));
            // trl PPOTrainer.step: (s − mean) / std with use_score_norm, else s / std; the kit adds 1e-8 to std unless
            // StrictTrl; then torch.clip(−score_clip, score_clip).
            double denominator = strict ? std : std + 1e-8;
            var processed = scores.Select(s => Math.Clamp((norm ? s - mean : s) / denominator, -clip, clip)).ToArray();
            Assert.Equal(processed.Average(), stats.Scalars["ppo/mean_scores"], 1e-5);
        }
    }

    [Fact]
    public void ProcessedScoresShowWhatTheNextStepUsesWithoutMovingTheRunningStatistics()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1, UseScoreScaling = true, UseScoreNorm = true };
        using var trainer = Trainer(config);
        trainer.Step(queries, Responses(), Scores);
        var before = trainer.GetState();
        float[] next = [3.0f, 1.0f, -2.0f, 0.5f];
        using var scores = tensor(next);
        var preview = trainer.ProcessedScores(scores).data<float>().ToArray();
        Assert.Equal(preview, trainer.ProcessedScores(scores).data<float>().ToArray()); // looking twice changes nothing
        Assert.Equal(before, trainer.GetState());                                       // nor the running statistics
        var stats = trainer.Step(queries, Responses(), next);
        Assert.Equal(preview.Average(), stats.Scalars["ppo/mean_scores"], 1e-6);
        // Centred by the running mean of all 8 scores, so the preview is not the raw batch.
        Assert.NotEqual(next.Average(), preview.Average(), 3);
    }

    // ---- the full KL through the trainer ----

    [Fact]
    public void FullKlPenaltyThroughTheTrainerIsTheExactKlOverTheVocabulary()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        var responses = Responses();
        using var trainer = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 2, PpoEpochs = 1, KlPenalty = KlPenaltyKind.Full, InitKlCoef = 0.2 });
        // Make the reference differ from the policy, so the KL is not zero.
        using (no_grad())
            foreach (var p in trainer.Reference.parameters()) p.add_(randn(p.shape, generator: new Generator(3)) * 0.05);
        double expected;
        using (no_grad())
        {
            var batch = RolloutBatch.Create(queries, responses, trainer.Policy.Config, CPU);
            trainer.Policy.eval();
            using var policyOut = trainer.Policy.Forward(batch.InputIds, batch.AttentionMask, batch.DecoderInputIds, batch.DecoderMask);
            using var refOut = trainer.Reference.Forward(batch.InputIds, batch.AttentionMask, decoderInputIds: batch.DecoderInputIds, decoderAttentionMask: batch.DecoderMask);
            var p = policyOut.Logits.log_softmax(-1);
            var q = refOut.Logits.log_softmax(-1);
            var kl = (p.exp() * (p - q)).sum(-1); // Σ_v p(v) (log p(v) − log ref(v)) at every position
            expected = -0.2 * (kl * batch.Mask).sum().item<float>() / batch.Mask.sum().item<long>();
        }
        var stats = trainer.Step(queries, responses, Scores);
        Assert.True(expected < -1e-4, $"the reference should differ from the policy (expected {expected})");
        Assert.Equal(expected, stats.Scalars["ppo/mean_non_score_reward"], 1e-5);
    }

    // ---- gradient accumulation and the chunked no-gradient pass ----

    [Fact]
    public void AccumulatingTwoMinibatchesGivesTheWeightsOfAHandWrittenLoopOverTheSameMinibatches()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        var responses = Responses();
        var config = new PpoConfig { BatchSize = 4, MiniBatchSize = 1, GradientAccumulationSteps = 2, PpoEpochs = 1, LearningRate = 1e-2, Seed = 5 };
        using var trainer = Trainer(config);
        trainer.Step(queries, responses, Scores);

        // The same step written out: old log-probs and values, rewards, GAE, then the minibatches in the trainer's
        // seeded order, each loss divided by the accumulation steps, one Adam step per two minibatches.
        var policy = PpoTrainerTests.TinyPolicy(1);
        using var reference = policy.CreateReferenceModel();
        using var adam = optim.Adam(policy.parameters(), lr: config.LearningRate);
        policy.eval();
        var batch = RolloutBatch.Create(queries, responses, policy.Config, CPU);
        Tensor oldLogprobs, oldValues, refLogprobs;
        using (no_grad())
        {
            // One row at a time, as the trainer's no-gradient pass runs in minibatches.
            var (old, vals, refs) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
            for (long row = 0; row < 4; row++)
            {
                var one = batch.Select(tensor(new[] { row }));
                using var o = policy.Forward(one.InputIds, one.AttentionMask, one.DecoderInputIds, one.DecoderMask);
                old.Add(PpoMath.LogprobsFromLogits(o.Logits, one.Targets));
                vals.Add(o.Values.clone());
                using var r = reference.Forward(one.InputIds, one.AttentionMask, decoderInputIds: one.DecoderInputIds, decoderAttentionMask: one.DecoderMask);
                refs.Add(PpoMath.LogprobsFromLogits(r.Logits, one.Targets));
            }
            (oldLogprobs, oldValues, refLogprobs) = (cat(old, 0), cat(vals, 0), cat(refs, 0));
        }
        var (rewards, _) = PpoMath.ComputeRewards(tensor(Scores), oldLogprobs, refLogprobs, batch.Mask, config.InitKlCoef, config.KlPenalty);
        var (values, advantages, returns) = PpoMath.ComputeAdvantages(oldValues, rewards, batch.Mask, config.Gamma, config.Lam);
        var order = Seeding.Permutation(4, Seeding.Derive(config.Seed, 0, 100));
        for (int b = 0; b < 4; b += 2)
        {
            for (int m = b; m < b + 2; m++)
            {
                var rows = tensor(new long[] { order[m] });
                var mb = batch.Select(rows);
                using var output = policy.Forward(mb.InputIds, mb.AttentionMask, mb.DecoderInputIds, mb.DecoderMask);
                var logprobs = PpoMath.LogprobsFromLogits(output.Logits, mb.Targets);
                var loss = PpoMath.Loss(oldLogprobs.index_select(0, rows), values.index_select(0, rows), output.Logits, output.Values, logprobs,
                    mb.Mask, advantages.index_select(0, rows), returns.index_select(0, rows), config);
                ((loss.PgLoss + loss.VfLossTimesCoef) / 2).backward();
            }
            adam.step();
            adam.zero_grad();
        }
        foreach (var (kit, hand) in trainer.Policy.parameters().Zip(policy.parameters()))
            Assert.True(kit.allclose(hand, rtol: 1e-5, atol: 1e-6), $"max difference {(kit - hand).abs().max().item<float>()}");
    }

    [Fact]
    public void TheChunkedNoGradientPassEqualsTheWholeBatchPass()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        List<long[]> responses = [[5, 6, 7, 1], [8, 9, 1], [10, 11, 12, 13, 14], [3, 1]];
        using var chunked = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 1, KlPenalty = KlPenaltyKind.Full });
        using var whole = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4, KlPenalty = KlPenaltyKind.Full });
        using var scope = NewDisposeScope();
        chunked.Policy.eval(); whole.Policy.eval();
        var batch = RolloutBatch.Create(queries, responses, chunked.Policy.Config, CPU);
        var a = chunked.BatchedForwardPass(batch);
        var b = whole.BatchedForwardPass(batch);
        foreach (var (x, y, name) in new[] { (a.OldLogprobs, b.OldLogprobs, "logprobs"), (a.OldValues, b.OldValues, "values"), (a.OldFull, b.OldFull, "full log-softmax"),
                     (a.RefLogprobs, b.RefLogprobs, "reference logprobs"), (a.RefFull, b.RefFull, "reference full") })
        {
            Assert.Equal(y.shape, x.shape);
            Assert.True(x.allclose(y, rtol: 1e-5, atol: 1e-5), $"{name}: max difference {(x - y).abs().max().item<float>()}");
        }
    }

    // ---- value-head dropout (TRL 0.7.1 leaves v_head in train mode) ----

    [Fact]
    public async Task ValueHeadDropoutChangesTheValuesButNotTheLogProbabilitiesAndRepeatsForTheSameSeed()
    {
        var queries = PpoTrainerTests.Queries(4, 2);
        PpoStepStats Run(bool dropout)
        {
            using var trainer = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4, PpoEpochs = 1, ValueHeadDropout = dropout });
            return trainer.Step(queries, Responses(), Scores);
        }
        var off = Run(false);
        var on = Run(true);
        PpoStepStats again;
        using (var busy = new CancellationTokenSource())
        {
            // another thread draws from torch's global generator all through the repeat, as a test beside this one does
            long draws = 0;
            var drawing = Task.Run(() => { while (!busy.IsCancellationRequested) { using (NewDisposeScope()) rand(64); Interlocked.Increment(ref draws); } });
            while (Interlocked.Read(ref draws) == 0) await Task.Delay(1);
            var before = Interlocked.Read(ref draws);
            again = Run(true);
            var during = Interlocked.Read(ref draws) - before;
            busy.Cancel();
            await drawing;
            Assert.True(during > 0, "the other thread drew nothing while the step ran");
        }
        Assert.Equal(off.Scalars["objective/kl"], on.Scalars["objective/kl"]);       // log-probabilities unaffected
        Assert.Equal(off.Scalars["objective/entropy"], on.Scalars["objective/entropy"]);
        Assert.NotEqual(off.Scalars["ppo/val/mean"], on.Scalars["ppo/val/mean"]);     // values through a dropout mask
        Assert.Equal(on.Scalars["ppo/val/mean"], again.Scalars["ppo/val/mean"]);      // the same masks for the same seed and step
        Assert.Equal(on.Scalars["ppo/loss/value"], again.Scalars["ppo/loss/value"]);
    }

    [Fact]
    public void ValueHeadDropoutMasksComeFromTheHeadsOwnSeedNotTheGlobalGenerator()
    {
        using var scope = NewDisposeScope();
        using var head = new ValueHead(16, dropoutProb: 0.5);
        head.train();
        var hidden = ones(2, 3, 16);
        head.SeedDropout(7);
        manual_seed(1);
        var first = head.forward(hidden);
        var next = head.forward(hidden);                 // the head's stream moves on
        head.SeedDropout(7);
        manual_seed(2); rand(100);                       // the global generator moved and reseeded differently
        var repeat = head.forward(hidden);
        Assert.True(first.allclose(repeat, rtol: 0, atol: 0), "the same seed gave different masks");
        Assert.False(first.allclose(next, rtol: 0, atol: 0), "two passes drew the same mask");
        head.eval();
        Assert.True(head.forward(hidden).allclose(head.forward(hidden), rtol: 0, atol: 0), "eval mode is not deterministic");
    }

    // ---- float16 on T5 ----

    [Fact]
    public void Float16IsRefusedForT5EverywhereWithTheReason()
    {
        using var trainer = Trainer(new PpoConfig { BatchSize = 4, MiniBatchSize = 4 });
        var e = Assert.Throws<ArgumentException>(() => trainer.RolloutDType = ScalarType.Float16);
        Assert.Contains("bfloat16", e.Message);
        trainer.RolloutDType = ScalarType.BFloat16; // still allowed
        var load = Assert.Throws<ArgumentException>(() => AutoModel.T5FromPretrained(Fixtures.PathOf("t5-gated"), dtype: ScalarType.Float16));
        Assert.Contains("config.json", load.Message);
        Assert.Contains("overflows float16", load.Message);
        var config = Assert.Throws<ArgumentException>(() => (Profiles.Workshop with { InferenceDType = "float16" }).Validate());
        Assert.Contains("InferenceDType 'float16'", config.Message);
    }

    // ---- the workshop profile ----

    [Fact]
    public void TheWorkshopProfileUsesTheOriginalNotebooksSettingsAndTrlsDefaultsElsewhere()
    {
        var ppo = Profiles.Workshop.Ppo;
        // PPOConfig(batch_size=8, learning_rate=2e-5, gradient_accumulation_steps=4) with TRL 0.7.1's mini_batch_size 1 and
        // ppo_epochs 4; and TRL's value-head dropout.
        Assert.Equal((8, 2e-5, 4, 1, 4), (ppo.BatchSize, ppo.LearningRate, ppo.GradientAccumulationSteps, ppo.MiniBatchSize, ppo.PpoEpochs));
        Assert.True(ppo.ValueHeadDropout);
        Assert.Equal(new PpoConfig(), ppo with { BatchSize = 256, LearningRate = 1e-5, GradientAccumulationSteps = 4 / 4, ValueHeadDropout = false });
    }
}
