using RlhfKit.Ppo;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

/// <summary>Small examples whose expected numbers are worked out by hand in each test.</summary>
public class PpoMathTests
{
    const double Tol = 1e-6;

    static Tensor F(params float[] v) => tensor(v);
    static Tensor F2(int rows, params float[] v) => tensor(v).reshape(rows, -1);
    static Tensor M2(int rows, params long[] v) => tensor(v).reshape(rows, -1);

    static void Close(double expected, Tensor actual, string what = "") =>
        Fixtures.AssertClose(tensor(expected), actual.reshape(), Tol, 0, what);

    static void Close(double[] expected, Tensor actual, string what = "") =>
        Fixtures.AssertClose(tensor(expected), actual.flatten(), Tol, Tol, what);

    static void Close(double expected, double actual, string what = "") =>
        Assert.True(Math.Abs(expected - actual) <= Tol, $"{what}: expected {expected:R}, got {actual:R}");

    // ---- GAE ----

    [Fact]
    public void GaeOnOneByThree()
    {
        using var scope = NewDisposeScope();
        // gamma 0.9, lam 0.5, V = [0.5, 1, 1.5], r = [0, 0, 2]:
        // A2 = 2 - 1.5 = 0.5; A1 = (0 + 0.9*1.5 - 1) + 0.45*0.5 = 0.575; A0 = (0.9*1 - 0.5) + 0.45*0.575 = 0.65875
        var raw = new[] { 0.65875, 0.575, 0.5 };
        var (values, advantages, returns) = PpoMath.ComputeAdvantages(F2(1, 0.5f, 1f, 1.5f), F2(1, 0f, 0f, 2f), M2(1, 1, 1, 1), 0.9, 0.5);
        Close([0.5, 1.0, 1.5], values, "values");
        Close([1.15875, 1.575, 2.0], returns, "returns");
        var mean = (raw[0] + raw[1] + raw[2]) / 3;
        var variance = raw.Sum(x => (x - mean) * (x - mean)) / 2; // unbiased
        Close(raw.Select(x => (x - mean) / Math.Sqrt(variance + 1e-8)).ToArray(), advantages, "whitened advantages");
    }

    [Fact]
    public void GaeMasksValuesAndRewardsAndWhitensEveryPosition()
    {
        using var scope = NewDisposeScope();
        // mask [1, 1, 0]: V -> [0.5, 1, 0], r -> [0, 2, 0]. A2 = 0; A1 = 2 - 1 = 1; A0 = (0.9*1 - 0.5) + 0.45*1 = 0.85
        var (values, advantages, returns) = PpoMath.ComputeAdvantages(F2(1, 0.5f, 1f, 1.5f), F2(1, 0f, 2f, 5f), M2(1, 1, 1, 0), 0.9, 0.5);
        Close([0.5, 1.0, 0.0], values, "values");
        Close([1.35, 2.0, 0.0], returns, "returns");
        // Whitening uses the two valid advantages (mean 0.925, unbiased var 0.01125) but applies to all three.
        var std = Math.Sqrt(0.01125 + 1e-8);
        Close([(0.85 - 0.925) / std, (1.0 - 0.925) / std, -0.925 / std], advantages, "whitened advantages");
    }

    [Fact]
    public void WhitenRewardsOptionScalesRewardsButKeepsTheirMean()
    {
        using var scope = NewDisposeScope();
        // rewards [1, 3]: mean 2, unbiased var 2 -> [2 - 1/sqrt2, 2 + 1/sqrt2]; V = 0, gamma = lam = 1 -> returns are
        // the reward-to-go [4, 2 + 1/sqrt2].
        var h = 1 / Math.Sqrt(2 + 1e-8);
        var (_, _, returns) = PpoMath.ComputeAdvantages(zeros(1, 2), F2(1, 1, 3), M2(1, 1, 1), 1, 1, whitenRewards: true);
        Close([4, 2 + h], returns, "returns");
        var (_, _, plain) = PpoMath.ComputeAdvantages(zeros(1, 2), F2(1, 1, 3), M2(1, 1, 1), 1, 1);
        Close([4, 3], plain, "TRL 0.7.1 default: rewards untouched");
    }

    // ---- whitening and masked statistics ----

    [Fact]
    public void WhitenUsesUnbiasedVariance()
    {
        using var scope = NewDisposeScope();
        var x = F(1, 2, 3, 4); // mean 2.5, unbiased var 5/3
        var s = Math.Sqrt(5.0 / 3 + 1e-8);
        Close([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], PpoMath.Whiten(x), "shift_mean");
        Close([-1.5 / s + 2.5, -0.5 / s + 2.5, 0.5 / s + 2.5, 1.5 / s + 2.5], PpoMath.Whiten(x, shiftMean: false), "keep mean");
    }

    [Fact]
    public void MaskedMeanAndVariance()
    {
        using var scope = NewDisposeScope();
        var v = F2(2, 1, 2, 3, 4, 5, 6);
        var m = M2(2, 1, 1, 0, 0, 1, 0); // valid: 1, 2, 5
        Close(8.0 / 3, PpoMath.MaskedMean(v, m), "mean");
        Close([1.5, 5.0], PpoMath.MaskedMean(v, m, axis: 1), "mean axis 1");
        Close([1.0, 3.5, 0.0], PpoMath.MaskedMean(v, m, axis: 0), "mean axis 0, empty column -> 0");
        Assert.True(float.IsNaN(PpoMath.MaskedMean(v, m, axis: 0, strictTrl: true)[2].item<float>()), "strict: TRL's NaN");
        var ss = Math.Pow(1 - 8.0 / 3, 2) + Math.Pow(2 - 8.0 / 3, 2) + Math.Pow(5 - 8.0 / 3, 2);
        Close(ss / 3, PpoMath.MaskedVar(v, m, unbiased: false), "biased var");
        Close(ss / 2, PpoMath.MaskedVar(v, m), "unbiased var");
        var mw = PpoMath.MaskedWhiten(v, m);
        Close(new[] { 1.0, 2, 3, 4, 5, 6 }.Select(x => (x - 8.0 / 3) / Math.Sqrt(ss / 2 + 1e-8)).ToArray(), mw, "masked whiten");
    }

    [Fact]
    public void MaskedStatisticsOfAnEmptyMaskAreZeroNotNan()
    {
        using var scope = NewDisposeScope();
        var v = F2(1, 3, 4);
        var none = M2(1, 0, 0);
        Close(0, PpoMath.MaskedMean(v, none), "mean");
        Close(0, PpoMath.MaskedVar(v, none), "unbiased var");
        Close(0, PpoMath.MaskedVar(v, none, unbiased: false), "biased var");
        Close([3, 4], PpoMath.MaskedWhiten(v, none), "whiten leaves values unchanged");
        Assert.True(float.IsNaN(PpoMath.MaskedMean(v, none, strictTrl: true).item<float>()));
        Assert.Throws<ArgumentException>(() => PpoMath.MaskedVar(v, none, strictTrl: true));
    }

    [Fact]
    public void MaskedStatisticsOfOneValidElement()
    {
        using var scope = NewDisposeScope();
        var v = F2(1, 3, 4, 10);
        var one = M2(1, 0, 1, 0);
        Close(4, PpoMath.MaskedMean(v, one), "mean");
        Close(0, PpoMath.MaskedVar(v, one), "unbiased var -> 0");
        Close([-1, 0, 6], PpoMath.MaskedWhiten(v, one), "whiten only shifts");
        Close([3, 4, 10], PpoMath.MaskedWhiten(v, one, shiftMean: false), "no shift: unchanged");
        Assert.True(float.IsNaN(PpoMath.MaskedVar(v, one, strictTrl: true).item<float>()), "strict: TRL's NaN");
        Assert.True(PpoMath.MaskedWhiten(v, one, strictTrl: true).isnan().all().item<bool>(), "strict: TRL's all-NaN");
    }

    [Fact]
    public void ClipByValueAndLogprobs()
    {
        using var scope = NewDisposeScope();
        Close([0, 1, 2], PpoMath.ClipByValue(F(-1, 1, 5), F(0, 0, 0), F(2, 2, 2)));
        var logits = tensor(new float[] { 0, (float)Math.Log(3) }).reshape(1, 1, 2); // p = [0.25, 0.75]
        Close(Math.Log(0.75), PpoMath.LogprobsFromLogits(logits, tensor(new long[] { 1 }).reshape(1, 1)));
        Close([Math.Log(0.25), Math.Log(0.75)], PpoMath.LogprobsFromLogits(logits, null, gather: false));
        Close(-(0.25 * Math.Log(0.25) + 0.75 * Math.Log(0.75)), PpoMath.EntropyFromLogits(logits));
    }

    // ---- rewards and KL penalties ----

    [Theory]
    [InlineData(KlPenaltyKind.Kl, 0.5, 0.0, -1.0)]
    [InlineData(KlPenaltyKind.Abs, 0.5, 0.0, 1.0)]
    [InlineData(KlPenaltyKind.Mse, 0.125, 0.0, 0.5)]
    public void ComputeRewardsPutsTheScoreAtTheLastValidPosition(KlPenaltyKind kind, double k0, double k1, double k2)
    {
        using var scope = NewDisposeScope();
        // Row 0: logprob - ref = [0.5, 0, -1]; rows 1 and 2: 0 and 0.5 everywhere (k(0.5) = k0).
        var lp = F2(3, -1, -2, -3, -1, -1, -1, -0.5f, -0.5f, -0.5f);
        var rf = F2(3, -1.5f, -2, -2, -1, -1, -1, -1, -1, -1);
        var masks = M2(3, 1, 1, 0, /* leading zero */ 0, 1, 0, /* empty */ 0, 0, 0);
        var (rewards, nonScore) = PpoMath.ComputeRewards(F(10, 20, 30), lp, rf, masks, 0.5, kind);
        var n = new[] { -0.5 * k0, -0.5 * k1, -0.5 * k2, 0, 0, 0, -0.5 * k0, -0.5 * k0, -0.5 * k0 };
        Close(n, nonScore, "non-score rewards: KL terms everywhere, padding included");
        var r = (double[])n.Clone();
        r[1] += 10; // row 0: last valid position 1
        r[4] += 20; // row 1: last valid position 1
        Close(r, rewards, "rewards: row 2 (empty mask) keeps only its KL terms");
        Assert.Throws<ArgumentException>(() => PpoMath.ComputeRewards(F(10, 20, 30), lp, rf, masks, 0.5, kind, strictTrl: true));
    }

    [Fact]
    public void FullKlPenaltyIsKlOfPolicyFromReference()
    {
        using var scope = NewDisposeScope();
        var p = tensor(new float[] { (float)Math.Log(0.5), (float)Math.Log(0.5) }).reshape(1, 1, 2);
        var q = tensor(new float[] { (float)Math.Log(0.25), (float)Math.Log(0.75) }).reshape(1, 1, 2);
        var kl = PpoMath.KlPenalty(p, q, KlPenaltyKind.Full);
        Assert.Equal(new long[] { 1, 1 }, kl.shape);
        Close(0.5 * Math.Log(2) + 0.5 * Math.Log(0.5 / 0.75), kl);
    }

    // ---- loss ----

    /// <summary>One row of two tokens: ratios [1.5, 0.9], advantages [1, -1], values 0, vpreds [0.5, 0.1], returns 1,
    /// uniform logits over 4 tokens.</summary>
    static (Tensor Old, Tensor Values, Tensor Logits, Tensor Vpreds, Tensor Logprobs, Tensor Adv, Tensor Returns) LossInputs()
    {
        var logprobs = F2(1, (float)Math.Log(1.5), (float)Math.Log(0.9)).requires_grad_();
        var vpreds = F2(1, 0.5f, 0.1f).requires_grad_();
        return (zeros(1, 2), zeros(1, 2), zeros(1, 2, 4), vpreds, logprobs, F2(1, 1, -1), F2(1, 1, 1));
    }

    [Fact]
    public void ClippedPolicyAndValueLosses()
    {
        using var scope = NewDisposeScope();
        var (old, values, logits, vpreds, logprobs, adv, ret) = LossInputs();
        var warnings = new List<string>();
        var r = PpoMath.Loss(old, values, logits, vpreds, logprobs, M2(1, 1, 1), adv, ret, new PpoConfig(), warnings.Add);
        // Policy: -A*ratio = [-1.5, 0.9], -A*clamp(ratio, 0.8, 1.2) = [-1.2, 0.9]; max -> [-1.2, 0.9], mean -0.15;
        // clipped (strictly greater) at token 0 only.
        Close(-0.15, r.PgLoss, "pg_loss");
        Close(0.5, r.Stats["policy/clipfrac"], "policy/clipfrac");
        // Value: vpred clipped to [0.2, 0.1]; losses1 [0.25, 0.81], losses2 [0.64, 0.81]; 0.5 * mean(max) = 0.3625.
        Close(0.3625, r.Stats["loss/value"], "loss/value");
        Close(0.03625, r.VfLossTimesCoef, "vf_coef * vf_loss");
        Close(0.5, r.Stats["val/clipfrac"], "val/clipfrac");
        Close(-0.15 + 0.03625, r.Stats["loss/total"], "loss/total");
        Close(Math.Log(4), r.Stats["policy/entropy"], "entropy");
        Close(0.5 * (Math.Pow(Math.Log(1.5), 2) + Math.Pow(Math.Log(0.9), 2)) / 2, r.Stats["policy/approxkl"], "approxkl");
        Close(-(Math.Log(1.5) + Math.Log(0.9)) / 2, r.Stats["policy/policykl"], "policykl");
        Close([1.5, 0.9], r.Stats["policy/ratio"], "ratio");
        Close(0, r.Stats["policy/advantages_mean"], "advantages_mean");
        Close(1, r.Stats["returns/mean"], "returns/mean");
        Close(0, r.Stats["returns/var"], "returns/var");
        Close(0.3, r.Stats["val/vpred"], "val/vpred");
        Close((0.25 + 0.81) / 2, r.Stats["val/error"], "val/error");
        Close(0, r.Stats["val/mean"], "val/mean");
        Assert.False(r.RatioThresholdExceeded);
        Assert.Empty(warnings);
    }

    [Fact]
    public void RatioThresholdZeroesTheLossesButKeepsTheStats()
    {
        using var scope = NewDisposeScope();
        var (old, values, logits, vpreds, logprobs, adv, ret) = LossInputs();
        var warnings = new List<string>();
        var r = PpoMath.Loss(old, values, logits, vpreds, logprobs, M2(1, 1, 1), adv, ret, new PpoConfig { RatioThreshold = 1.1 }, warnings.Add);
        Assert.True(r.RatioThresholdExceeded);
        Assert.Equal(new[] { "The average ratio of batch (1.20) exceeds threshold 1.10. Skipping batch." }, warnings);
        Close(0, r.PgLoss, "pg_loss");
        Close(0, r.VfLossTimesCoef, "vf loss");
        Close(0, r.Stats["loss/policy"], "loss/policy");
        Close(0, r.Stats["loss/value"], "loss/value");
        Close(0, r.Stats["loss/total"], "loss/total");
        Close(0.5, r.Stats["policy/clipfrac"], "clipfrac still reported");
        Close(0.5, r.Stats["val/clipfrac"], "val/clipfrac still reported");
        Close(Math.Log(4), r.Stats["policy/entropy"], "entropy still reported");
    }

    [Fact]
    public void AllMaskedMinibatchGivesZerosAndFiniteGradients()
    {
        using var scope = NewDisposeScope();
        var (old, values, logits, vpreds, logprobs, adv, ret) = LossInputs();
        var none = M2(1, 0, 0);
        var r = PpoMath.Loss(old, values, logits, vpreds, logprobs, none, adv, ret, new PpoConfig());
        Close(0, r.PgLoss, "pg_loss");
        Close(0, r.VfLossTimesCoef, "vf loss");
        Assert.False(r.RatioThresholdExceeded);
        foreach (var (key, value) in r.Stats)
        {
            Assert.True(value.isfinite().all().item<bool>(), $"{key} is not finite");
            if (key is not ("policy/ratio" or "policy/advantages")) Close(0, value, key);
        }
        (r.PgLoss + r.VfLossTimesCoef).backward();
        Close([0, 0], logprobs.grad!, "policy gradient");
        Close([0, 0], vpreds.grad!, "value gradient");
        Assert.Throws<ArgumentException>(() => PpoMath.Loss(old, values, logits, vpreds, logprobs, none, adv, ret, new PpoConfig(), strictTrl: true));
    }

    // ---- step statistics ----

    [Fact]
    public void StepStatsAverageMinibatchesAndConcatenateTokens()
    {
        using var scope = NewDisposeScope();
        var lp = F2(2, -1, -2, -3, -4);
        var rf = F2(2, -1.5f, -2, -3, -3);
        var masks = M2(2, 1, 1, 1, 0);
        var nonScore = F2(2, 0.1f, 0.2f, 0.3f, 0.4f);
        var mb1 = new Dictionary<string, Tensor>
        {
            ["loss/policy"] = tensor(1f), ["val/error"] = tensor(0.5f), ["returns/var"] = tensor(2f),
            ["policy/ratio"] = F2(1, 1, 2), ["policy/advantages"] = F2(1, float.NaN, 1),
        };
        var mb2 = new Dictionary<string, Tensor>
        {
            ["loss/policy"] = tensor(3f), ["val/error"] = tensor(1.5f), ["returns/var"] = tensor(2f),
            ["policy/ratio"] = F2(1, 3), ["policy/advantages"] = F2(1, 2),
        };
        var s = PpoMath.RecordStepStats(0.1, F(1, 3), lp, rf, nonScore, masks, [2, 4], [2, 1], [mb1, mb2]);

        Assert.Equal(new[] { 0.5, 0.0 }, s.Distributions["objective/kl_dist"]); // row 1's -1 is masked out
        Close(0.25, s.Scalars["objective/kl"], "objective/kl");
        Close(3, s.Scalars["objective/entropy"], "objective/entropy");
        Close(0.1, s.Scalars["objective/kl_coef"], "kl_coef");
        Close(0.2, s.Scalars["ppo/mean_non_score_reward"], "masked mean of the non-score rewards");
        Close(2, s.Scalars["ppo/mean_scores"], "mean_scores");
        Close(Math.Sqrt(2), s.Scalars["ppo/std_scores"], "std_scores (unbiased)");
        Close(3, s.Scalars["tokens/queries_len_mean"], "queries mean");
        Close(Math.Sqrt(2), s.Scalars["tokens/queries_len_std"], "queries std");
        Close(1.5, s.Scalars["tokens/responses_len_mean"], "responses mean");
        Close(Math.Sqrt(0.5), s.Scalars["tokens/responses_len_std"], "responses std");
        Assert.Equal(new[] { 2.0, 1.0 }, s.Distributions["tokens/responses_dist"]);
        Assert.Equal(4, s.Distributions["objective/logprobs"].Length);
        Close(2, s.Scalars["ppo/loss/policy"], "loss averaged over minibatches");
        Close(1, s.Scalars["ppo/val/error"], "val/error averaged");
        Close(0.5, s.Scalars["ppo/val/var_explained"], "1 - error / var");
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, s.Distributions["ppo/policy/ratio"]);
        Assert.Equal(new[] { -1.0, 1.0, 2.0 }, s.Distributions["ppo/policy/advantages"]); // NaN written as -1, as TRL
    }

    [Fact]
    public void StepStatsOfDegenerateBatchesStayFinite()
    {
        using var scope = NewDisposeScope();
        var warnings = new List<string>();
        var mb = new Dictionary<string, Tensor> { ["val/error"] = tensor(0.5f), ["returns/var"] = tensor(0f) };
        // One sample whose policy log-probabilities sit 2 below the reference: KL -2 triggers TRL's warning.
        var s = PpoMath.RecordStepStats(0.2, F(1.5f), F2(1, -3, -3), F2(1, -2, -2), F2(1, 0, 0), M2(1, 1, 1), [3], [2], [mb], warnings.Add);
        Close(0, s.Scalars["ppo/std_scores"], "std of one score");
        Close(0, s.Scalars["tokens/queries_len_std"], "std of one length");
        Close(0, s.Scalars["ppo/val/var_explained"], "no return variance");
        Assert.Single(warnings);
        Assert.StartsWith("KL divergence is starting to become negative: -2.00 - ", warnings[0]);
        var strict = PpoMath.RecordStepStats(0.2, F(1.5f), F2(1, -3, -3), F2(1, -2, -2), F2(1, 0, 0), M2(1, 1, 1), [3], [2], [mb], strictTrl: true);
        Assert.True(double.IsNaN(strict.Scalars["ppo/std_scores"]));
        Assert.True(double.IsNegativeInfinity(strict.Scalars["ppo/val/var_explained"]));
    }

    // ---- KL controllers ----

    [Fact]
    public void AdaptiveKlControllerFollowsTrlsFormula()
    {
        var ctl = new AdaptiveKlController(0.2, 6, 10000);
        ctl.Update(9, 1000); // error clip(0.5) = 0.2 -> 0.2 * (1 + 0.2 * 0.1)
        Close(0.204, ctl.Value, "above target");
        ctl.Update(3, 5000); // error clip(-0.5) = -0.2 -> * (1 - 0.2 * 0.5)
        Close(0.1836, ctl.Value, "below target");
        ctl.Update(6.6, 100); // error 0.1 -> * (1 + 0.1 * 0.01)
        Close(0.1836 * 1.001, ctl.Value, "inside the clip");
        ctl.Update(6, 12345); // on target: no change
        Close(0.1836 * 1.001, ctl.Value, "on target");
        ctl.Update(double.NaN, 100); // kit: ignored
        Close(0.1836 * 1.001, ctl.Value, "NaN ignored");
        ctl.Update(60, 20000); // n_steps / horizon = 2 is not bounded: * 1.4
        Close(0.1836 * 1.001 * 1.4, ctl.Value, "large n_steps");
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveKlController(0.2, 0, 10000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveKlController(0.2, 6, 0));
    }

    [Fact]
    public void FixedKlControllerNeverMoves()
    {
        var ctl = new FixedKlController(0.3);
        ctl.Update(100, 10000);
        ctl.Update(-5, 256);
        Assert.Equal(0.3, ctl.Value);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FixedKlController(-1));
    }

    // ---- configuration ----

    [Fact]
    public void ConfigDefaultsAreTrl071s()
    {
        var c = new PpoConfig();
        c.Validate();
        Assert.Equal(1e-5, c.LearningRate);
        Assert.Equal((256, 1, 1, 4), (c.BatchSize, c.MiniBatchSize, c.GradientAccumulationSteps, c.PpoEpochs));
        Assert.Equal((0.2, true, 6.0, 10000.0, KlPenaltyKind.Kl), (c.InitKlCoef, c.AdaptKlCtrl, c.Target, c.Horizon, c.KlPenalty));
        Assert.Equal((1.0, 0.95, 0.2, 0.2, 0.1), (c.Gamma, c.Lam, c.Cliprange, c.CliprangeValue, c.VfCoef));
        Assert.Equal((10.0, 0.1, 0), (c.RatioThreshold, c.TargetKl, c.Seed)); // target_kl 0.1 in TRL 0.7.1 (1 from 0.7.2 on)
        Assert.Null(c.MaxGradNorm);
        Assert.Null(c.ScoreClip);
        Assert.False(c.EarlyStopping || c.UseScoreScaling || c.UseScoreNorm || c.WhitenRewards || c.StrictTrl || c.ValueHeadDropout);
        Assert.Equal(1, c.BackwardBatchSize);
        Assert.IsType<AdaptiveKlController>(c.CreateKlController());
        var fixedCtl = (c with { AdaptKlCtrl = false, InitKlCoef = 0.05 }).CreateKlController();
        Assert.IsType<FixedKlController>(fixedCtl);
        Assert.Equal(0.05, fixedCtl.Value);
    }

    [Fact]
    public void BackwardBatchSizeIsMiniBatchTimesAccumulation()
    {
        var c = new PpoConfig { BatchSize = 64, MiniBatchSize = 8, GradientAccumulationSteps = 2 };
        c.Validate();
        Assert.Equal(16, c.BackwardBatchSize);
    }

    [Fact]
    public void BatchSizeMustDivideIntoBackwardBatches()
    {
        var e = Assert.Throws<ArgumentException>(() => new PpoConfig { BatchSize = 10, MiniBatchSize = 4 }.Validate());
        Assert.Equal("BatchSize", e.ParamName);
        Assert.Contains("BatchSize (10) must be a multiple of MiniBatchSize * GradientAccumulationSteps (4 * 1 = 4)", e.Message);
    }

    [Theory]
    [InlineData("LearningRate", 0.0)]
    [InlineData("LearningRate", -1e-5)]
    [InlineData("LearningRate", double.NaN)]
    [InlineData("Cliprange", 0.0)]
    [InlineData("CliprangeValue", -0.2)]
    [InlineData("Lam", 1.5)]
    [InlineData("Lam", -0.1)]
    [InlineData("Gamma", 1.01)]
    [InlineData("VfCoef", -0.1)]
    [InlineData("InitKlCoef", -0.2)]
    [InlineData("Target", 0.0)]
    [InlineData("Horizon", 0.0)]
    [InlineData("MiniBatchSize", 0.0)]
    [InlineData("GradientAccumulationSteps", 0.0)]
    [InlineData("PpoEpochs", 0.0)]
    [InlineData("RatioThreshold", 0.0)]
    [InlineData("TargetKl", 0.0)]
    [InlineData("MaxGradNorm", 0.0)]
    [InlineData("ScoreClip", -1.0)]
    public void InvalidOptionsAreNamed(string option, double value)
    {
        var c = option switch
        {
            "LearningRate" => new PpoConfig { LearningRate = value },
            "Cliprange" => new PpoConfig { Cliprange = value },
            "CliprangeValue" => new PpoConfig { CliprangeValue = value },
            "Lam" => new PpoConfig { Lam = value },
            "Gamma" => new PpoConfig { Gamma = value },
            "VfCoef" => new PpoConfig { VfCoef = value },
            "InitKlCoef" => new PpoConfig { InitKlCoef = value },
            "Target" => new PpoConfig { Target = value },
            "Horizon" => new PpoConfig { Horizon = value },
            "MiniBatchSize" => new PpoConfig { MiniBatchSize = (int)value },
            "GradientAccumulationSteps" => new PpoConfig { GradientAccumulationSteps = (int)value },
            "PpoEpochs" => new PpoConfig { PpoEpochs = (int)value },
            "RatioThreshold" => new PpoConfig { RatioThreshold = value },
            "TargetKl" => new PpoConfig { TargetKl = value },
            "MaxGradNorm" => new PpoConfig { MaxGradNorm = value },
            "ScoreClip" => new PpoConfig { ScoreClip = value },
            _ => throw new ArgumentException(option),
        };
        var e = Assert.Throws<ArgumentException>(c.Validate);
        Assert.Equal(option, e.ParamName);
        Assert.StartsWith(option + " must be", e.Message);
    }

    [Fact]
    public void FixedControllerNeedsNoTargetOrHorizon() =>
        new PpoConfig { AdaptKlCtrl = false, Target = 0, Horizon = 0 }.Validate();
}
