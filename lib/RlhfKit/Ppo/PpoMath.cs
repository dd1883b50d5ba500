using RlhfKit.Common;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Ppo;

/// <summary>What <see cref="PpoMath.Loss"/> returns: TRL's <c>(pg_loss, vf_coef * vf_loss, stats)</c> plus whether
/// the ratio threshold skipped the minibatch.</summary>
/// <param name="PgLoss">The clipped policy-gradient loss (0-d, differentiable).</param>
/// <param name="VfLossTimesCoef">The clipped value loss already multiplied by <c>VfCoef</c> (0-d, differentiable).</param>
/// <param name="Stats">Detached statistics under TRL's flattened keys (see <see cref="PpoMath.Loss"/>).</param>
/// <param name="RatioThresholdExceeded">True when the masked mean ratio exceeded <c>RatioThreshold</c>: the losses
/// were multiplied by zero, and a trainer may skip the backward pass and optimizer step altogether.</param>
public sealed record PpoLossResult(Tensor PgLoss, Tensor VfLossTimesCoef, IReadOnlyDictionary<string, Tensor> Stats, bool RatioThresholdExceeded);

/// <summary>
/// TRL 0.7.1's PPO math (<c>trl.core</c> helpers and the math methods of the legacy <c>PPOTrainer</c>) on TorchSharp
/// tensors. Every function matches TRL number for number wherever TRL is well defined (checked against TRL's own
/// outputs in the tests). Where TRL returns NaN or raises, the kit returns a documented finite value instead; pass
/// <c>strictTrl: true</c> to get TRL's exact behaviour (NaN, or an exception where TRL raises).
/// Masks may be integer, boolean or floating-point; a position counts as valid when its mask is non-zero.
/// </summary>
public static class PpoMath
{
    /// <summary>Keys of per-token statistics that <see cref="RecordStepStats"/> concatenates instead of averaging.</summary>
    static readonly string[] PerTokenStats = ["policy/advantages", "policy/ratio"];

    // trl.core.logprobs_from_logits
    /// <summary>Log-softmax over the vocabulary; with <paramref name="gather"/> the log-probability of each label.</summary>
    public static Tensor LogprobsFromLogits(Tensor logits, Tensor? labels, bool gather = true)
    {
        using var scope = NewDisposeScope();
        var logp = logits.log_softmax(-1);
        if (!gather) return logp.MoveToOuterDisposeScope();
        ArgumentNullException.ThrowIfNull(labels);
        return logp.gather(-1, labels.to_type(ScalarType.Int64).unsqueeze(-1)).squeeze(-1).MoveToOuterDisposeScope();
    }

    // trl.core.entropy_from_logits
    /// <summary>Entropy of the softmax distribution over the last dimension: <c>logsumexp(l) - sum(softmax(l) * l)</c>.</summary>
    public static Tensor EntropyFromLogits(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var pd = logits.softmax(-1);
        return (logits.logsumexp(-1) - (pd * logits).sum(-1)).MoveToOuterDisposeScope();
    }

    // trl.core.masked_mean
    /// <summary>
    /// <c>sum(values * mask) / sum(mask)</c>, over everything or along <paramref name="axis"/>.
    /// Better than TRL: an empty mask (or an empty slice along <paramref name="axis"/>) gives 0 instead of NaN.
    /// </summary>
    public static Tensor MaskedMean(Tensor values, Tensor mask, long? axis = null, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        var m = mask.to_type(values.dtype);
        var total = axis is long a ? (values * m).sum(a) : (values * m).sum();
        var count = axis is long b ? m.sum(b) : m.sum();
        if (!strictTrl) count = where(count.eq(Scalars.Zero), ones_like(count), count);
        return (total / count).MoveToOuterDisposeScope();
    }

    // trl.core.masked_var
    /// <summary>
    /// Masked variance around the masked mean; <paramref name="unbiased"/> applies Bessel's correction n / (n - 1)
    /// with n the number of valid elements.
    /// Better than TRL: with fewer than two valid elements the unbiased variance is 0 (TRL: NaN for one element,
    /// <c>ValueError</c> for none), and the biased variance of an empty mask is 0 (TRL: NaN). In strict mode an empty
    /// mask with <paramref name="unbiased"/> throws <see cref="ArgumentException"/>, as TRL raises.
    /// </summary>
    public static Tensor MaskedVar(Tensor values, Tensor mask, bool unbiased = true, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        var mean = MaskedMean(values, mask, strictTrl: strictTrl);
        var variance = MaskedMean((values - mean).Square(), mask, strictTrl: strictTrl);
        if (!unbiased) return variance.MoveToOuterDisposeScope();
        var n = mask.to_type(values.dtype).sum();
        if (strictTrl && ToDouble(n) == 0)
            throw new ArgumentException("The sum of the mask is zero, which can happen when `mini_batch_size=1`; " +
                "try increase the `mini_batch_size` or `gradient_accumulation_steps` (TRL masked_var, strict mode).", nameof(mask));
        var bessel = n / (n - Scalars.One);
        if (!strictTrl) bessel = where(n.gt(Scalars.One), bessel, zeros_like(bessel));
        return (variance * bessel).MoveToOuterDisposeScope();
    }

    // trl.core.whiten
    /// <summary>
    /// <c>(values - mean) / sqrt(var + 1e-8)</c> over all elements, with the unbiased <c>torch.var</c>; without
    /// <paramref name="shiftMean"/> the mean is added back.
    /// Better than TRL: a tensor with fewer than two elements is only shifted (TRL: NaN).
    /// </summary>
    public static Tensor Whiten(Tensor values, bool shiftMean = true)
    {
        using var scope = NewDisposeScope();
        var mean = values.mean();
        var whitened = values.numel() >= 2 ? (values - mean) * values.var().add(Scalars.VarianceEpsilon, Scalars.One).rsqrt() : values - mean;
        if (!shiftMean) whitened = whitened.Plus(mean);
        return whitened.MoveToOuterDisposeScope();
    }

    // trl.core.masked_whiten
    /// <summary>
    /// <c>(values - masked_mean) / sqrt(masked_var_unbiased + 1e-8)</c> applied to every position (masked ones too);
    /// without <paramref name="shiftMean"/> the mean is added back.
    /// Better than TRL: with exactly one valid element the values are only shifted by the mean (so the result is
    /// <c>values - mean</c>, or <paramref name="values"/> unchanged without <paramref name="shiftMean"/>); with none
    /// they are returned unchanged. TRL gives all NaN for one valid element and raises for none.
    /// </summary>
    public static Tensor MaskedWhiten(Tensor values, Tensor mask, bool shiftMean = true, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        var mean = MaskedMean(values, mask, strictTrl: strictTrl);
        var variance = MaskedVar(values, mask, unbiased: true, strictTrl: strictTrl);
        var whitened = (values - mean) * variance.add(Scalars.VarianceEpsilon, Scalars.One).rsqrt();
        if (!strictTrl)
        {
            var n = mask.to_type(values.dtype).sum();
            whitened = where(n.ge(Scalars.Two), whitened, values - mean); // mean is 0 for an empty mask
        }
        if (!shiftMean) whitened = whitened.Plus(mean);
        return whitened.MoveToOuterDisposeScope();
    }

    // trl.core.clip_by_value
    /// <summary>Elementwise <c>max(min(x, max), min)</c>.</summary>
    public static Tensor ClipByValue(Tensor x, Tensor tensorMin, Tensor tensorMax)
    {
        using var scope = NewDisposeScope();
        return x.minimum(tensorMax).maximum(tensorMin).MoveToOuterDisposeScope();
    }

    // PPOTrainer._kl_penalty
    /// <summary>
    /// Per-token KL penalty. For <see cref="KlPenaltyKind.Full"/> the inputs are log-softmax distributions
    /// <c>[..., vocab]</c> and the result is <c>sum_v p(v) * (log p(v) - log ref(v))</c>, KL(policy || reference).
    /// </summary>
    public static Tensor KlPenalty(Tensor logprob, Tensor refLogprob, KlPenaltyKind kind)
    {
        using var scope = NewDisposeScope();
        var result = kind switch
        {
            KlPenaltyKind.Kl => logprob - refLogprob,
            KlPenaltyKind.Abs => (logprob - refLogprob).abs(),
            KlPenaltyKind.Mse => (logprob - refLogprob).Square() * Scalars.Half,
            KlPenaltyKind.Full => (logprob.exp() * (logprob - refLogprob)).sum(-1),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown KL penalty"),
        };
        return result.MoveToOuterDisposeScope();
    }

    // PPOTrainer.compute_rewards
    /// <summary>
    /// Per-token rewards: <c>non_score_rewards = -klCoef * KlPenalty(logprobs, refLogprobs)</c> at every position
    /// (padding included, nothing is masked here), and <c>rewards</c> = the same plus each row's score at the
    /// <b>last</b> position whose mask is non-zero. <paramref name="scores"/> is <c>[batch]</c>; the masks are
    /// <c>[batch, length]</c>.
    /// Better than TRL: a row whose mask is all zero has no position to credit, so its score is dropped and the row
    /// gets only its KL terms (TRL raises <c>IndexError</c>). Dropping is what the later steps would do anyway:
    /// <see cref="ComputeAdvantages"/> multiplies rewards by the mask, so a score put anywhere in such a row would
    /// be erased. In strict mode such a row throws <see cref="ArgumentException"/>.
    /// </summary>
    public static (Tensor Rewards, Tensor NonScoreRewards) ComputeRewards(
        Tensor scores, Tensor logprobs, Tensor refLogprobs, Tensor masks, double klCoef, KlPenaltyKind kind, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        using var coef = (-klCoef).ToScalar();
        var nonScore = KlPenalty(logprobs, refLogprobs, kind) * coef;
        var valid = masks.ne(Scalars.Zero);
        var hasValid = valid.any(-1);
        if (strictTrl && !hasValid.all().item<bool>())
            throw new ArgumentException("A mask row has no non-zero entry, so it has no last position for its score " +
                "(TRL compute_rewards raises IndexError; strict mode).", nameof(masks));
        using var length = masks.shape[^1].ToScalar();
        var positions = arange(Scalars.Zero, length, Scalars.One, dtype: ScalarType.Int64, device: masks.device);
        var lastIndex = (valid.to_type(ScalarType.Int64) * positions).argmax(-1); // 0 for an empty row
        var credited = scores.reshape(-1).to_type(nonScore.dtype) * hasValid.to_type(nonScore.dtype);
        var rewards = nonScore.clone();
        rewards.scatter_add_(1, lastIndex.unsqueeze(1), credited.unsqueeze(1));
        return (rewards.MoveToOuterDisposeScope(), nonScore.MoveToOuterDisposeScope());
    }

    // PPOTrainer.compute_advantages
    /// <summary>
    /// Generalised advantage estimation over every position of <c>[batch, length]</c> (TRL's loop, masked positions
    /// included): values and rewards are first multiplied by the mask, then
    /// <c>delta_t = r_t + gamma * V_{t+1} - V_t</c>, <c>A_t = delta_t + gamma * lam * A_{t+1}</c>, returns = A + V,
    /// and the advantages are whitened with <see cref="MaskedWhiten"/> (shifted mean, applied to every position).
    /// With <paramref name="whitenRewards"/> (not in TRL 0.7.1) the masked rewards are first whitened without
    /// shifting their mean. Returns the masked values, the whitened (detached) advantages and the returns.
    /// </summary>
    public static (Tensor Values, Tensor Advantages, Tensor Returns) ComputeAdvantages(
        Tensor values, Tensor rewards, Tensor mask, double gamma, double lam, bool whitenRewards = false, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        var m = mask.to_type(values.dtype);
        values = values * m;
        rewards = rewards * m;
        if (whitenRewards) rewards = MaskedWhiten(rewards, mask, shiftMean: false, strictTrl: strictTrl);
        var length = rewards.shape[^1];
        var reversed = new List<Tensor>();
        Tensor? lastGaeLam = null;
        using Scalar g = gamma.ToScalar(), gLam = (gamma * lam).ToScalar();
        for (var t = length - 1; t >= 0; t--)
        {
            var delta = t < length - 1
                ? rewards.select(1, t).Plus(values.select(1, t + 1) * g) - values.select(1, t)
                : rewards.select(1, t) - values.select(1, t);
            lastGaeLam = lastGaeLam is null ? delta : delta.Plus(lastGaeLam * gLam);
            reversed.Add(lastGaeLam);
        }
        reversed.Reverse();
        var advantages = stack(reversed, 1);
        var returns = advantages.Plus(values);
        advantages = MaskedWhiten(advantages, mask, strictTrl: strictTrl).detach();
        return (values.MoveToOuterDisposeScope(), advantages.MoveToOuterDisposeScope(), returns.MoveToOuterDisposeScope());
    }

    // PPOTrainer.loss
    /// <summary>
    /// Clipped PPO policy and value losses of one minibatch, with TRL's statistics under its flattened keys:
    /// <c>loss/policy</c>, <c>loss/value</c> (without <c>VfCoef</c>), <c>loss/total</c>, <c>policy/entropy</c>,
    /// <c>policy/approxkl</c>, <c>policy/policykl</c>, <c>policy/clipfrac</c>, <c>policy/advantages</c> (the whole
    /// tensor), <c>policy/advantages_mean</c>, <c>policy/ratio</c> (the whole tensor), <c>returns/mean</c>,
    /// <c>returns/var</c>, <c>val/vpred</c>, <c>val/error</c>, <c>val/clipfrac</c>, <c>val/mean</c>, <c>val/var</c>.
    /// Reads <c>Cliprange</c>, <c>CliprangeValue</c>, <c>VfCoef</c> and <c>RatioThreshold</c> from
    /// <paramref name="config"/>. When the masked mean ratio exceeds <c>RatioThreshold</c>, TRL's warning goes to
    /// <paramref name="warn"/>, the policy loss, value loss and <c>loss/total</c> are multiplied by zero, the other
    /// statistics are still reported, and <see cref="PpoLossResult.RatioThresholdExceeded"/> is set.
    /// Better than TRL: an all-masked minibatch gives zero losses, zero gradients and zero statistics (TRL: NaN
    /// losses and a <c>ValueError</c> from <c>masked_var</c>).
    /// </summary>
    public static PpoLossResult Loss(
        Tensor oldLogprobs, Tensor values, Tensor logits, Tensor vpreds, Tensor logprobs, Tensor mask,
        Tensor advantages, Tensor returns, PpoConfig config, Action<string>? warn = null, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        Tensor Mean(Tensor x) => MaskedMean(x, mask, strictTrl: strictTrl);

        // The options as Scalars held to the end of the method (Common/Scalars).
        using Scalar clipValue = config.CliprangeValue.ToScalar(), ratioLow = (1.0 - config.Cliprange).ToScalar(),
            ratioHigh = (1.0 + config.Cliprange).ToScalar(), vfCoef = config.VfCoef.ToScalar(), zero = 0.0.ToScalar();

        var vpredClipped = ClipByValue(vpreds, values - clipValue, values.add(clipValue, Scalars.One));
        var vfLosses1 = (vpreds - returns).Square();
        var vfLosses2 = (vpredClipped - returns).Square();
        var vfLoss = Mean(vfLosses1.maximum(vfLosses2)) * Scalars.Half;
        var vfClipfrac = Mean(vfLosses2.gt(vfLosses1).to_type(values.dtype));

        var ratio = (logprobs - oldLogprobs).exp();
        var pgLosses = -advantages * ratio;
        var pgLosses2 = -advantages * ratio.clamp(ratioLow, ratioHigh);
        var pgLoss = Mean(pgLosses.maximum(pgLosses2));
        var pgClipfrac = Mean(pgLosses2.gt(pgLosses).to_type(values.dtype));

        var loss = pgLoss.Plus(vfLoss * vfCoef);

        var avgRatio = ToDouble(Mean(ratio));
        var exceeded = avgRatio > config.RatioThreshold;
        if (exceeded)
        {
            warn?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"The average ratio of batch ({avgRatio:F2}) exceeds threshold {config.RatioThreshold:F2}. Skipping batch."));
            pgLoss = pgLoss * zero;
            vfLoss = vfLoss * zero;
            loss = loss * zero;
        }

        var stats = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["loss/policy"] = pgLoss.detach(),
            ["loss/value"] = vfLoss.detach(),
            ["loss/total"] = loss.detach(),
            // Statistics only: without gradients, so no [rows, length, vocab] softmax is kept for the backward pass.
            ["policy/entropy"] = EntropyStat(logits, Mean),
            ["policy/approxkl"] = (Mean((logprobs - oldLogprobs).Square()) * Scalars.Half).detach(),
            ["policy/policykl"] = Mean(oldLogprobs - logprobs).detach(),
            ["policy/clipfrac"] = pgClipfrac.detach(),
            ["policy/advantages"] = advantages.detach(),
            ["policy/advantages_mean"] = Mean(advantages).detach(),
            ["policy/ratio"] = ratio.detach(),
            ["returns/mean"] = Mean(returns).detach(),
            ["returns/var"] = MaskedVar(returns, mask, strictTrl: strictTrl).detach(),
            ["val/vpred"] = Mean(vpreds).detach(),
            ["val/error"] = Mean((vpreds - returns).Square()).detach(),
            ["val/clipfrac"] = vfClipfrac.detach(),
            ["val/mean"] = Mean(values).detach(),
            ["val/var"] = MaskedVar(values, mask, strictTrl: strictTrl).detach(),
        };
        foreach (var s in stats.Values) s.MoveToOuterDisposeScope();
        var vfTimesCoef = vfLoss * vfCoef;
        return new PpoLossResult(pgLoss.MoveToOuterDisposeScope(), vfTimesCoef.MoveToOuterDisposeScope(), stats, exceeded);
    }

    static Tensor EntropyStat(Tensor logits, Func<Tensor, Tensor> mean)
    {
        using var noGrad = no_grad();
        return mean(EntropyFromLogits(logits.detach())).detach();
    }

    // PPOTrainer.record_step_stats (with the stack_dicts / reshaping that PPOTrainer.step does before it)
    /// <summary>
    /// The statistics of one PPO step, as plain doubles and arrays (what TRL logs after <c>stats_to_np</c> and
    /// <c>convert_to_scalar</c>): <c>objective/kl</c> (the mean over the batch of each row's summed
    /// <c>(logprobs - ref_logprobs) * mask</c>; the number to pass to <see cref="IKlController.Update"/>),
    /// <c>objective/kl_dist</c>, <c>objective/logprobs</c>, <c>objective/ref_logprobs</c> (flattened),
    /// <c>objective/kl_coef</c>, <c>objective/entropy</c> (mean over rows of the summed <c>-logprobs * mask</c>),
    /// <c>ppo/mean_non_score_reward</c> (masked mean of <paramref name="nonScoreReward"/>, as TRL 0.7.1),
    /// <c>ppo/mean_scores</c>, <c>ppo/std_scores</c> (unbiased), <c>tokens/queries_len_mean</c>,
    /// <c>tokens/queries_len_std</c>, <c>tokens/queries_dist</c>, and the same for responses, then every loss
    /// statistic of <paramref name="trainStats"/> (one dictionary per minibatch, all epochs) under <c>ppo/</c>:
    /// scalars averaged over the minibatches, <c>policy/advantages</c> and <c>policy/ratio</c> concatenated
    /// (advantages with NaN written as -1, TRL's <c>WANDB_PADDING</c>), and <c>ppo/val/var_explained</c> =
    /// <c>1 - ppo/val/error / ppo/returns/var</c>. Warns through <paramref name="warn"/>, as TRL does, when
    /// <c>objective/kl</c> is below -1.
    /// Better than TRL: the standard deviation of a single score or length is 0 (TRL: NaN); the explained variance
    /// is 0 when the returns have no variance (TRL: ±inf or NaN); an all-zero mask gives a zero
    /// <c>ppo/mean_non_score_reward</c> (TRL: NaN).
    /// </summary>
    public static PpoStepStats RecordStepStats(
        double klCoef, Tensor scores, Tensor logprobs, Tensor refLogprobs, Tensor nonScoreReward, Tensor masks,
        IReadOnlyList<int> queryLengths, IReadOnlyList<int> responseLengths,
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> trainStats, Action<string>? warn = null, bool strictTrl = false)
    {
        using var scope = NewDisposeScope();
        var stats = new PpoStepStats();
        var m = masks.to_type(logprobs.dtype);

        var klList = ((logprobs - refLogprobs) * m).sum(-1);
        var meanKl = ToDouble(klList.mean());
        stats.Scalars["objective/kl"] = meanKl;
        stats.Distributions["objective/kl_dist"] = ToDoubles(klList);
        stats.Distributions["objective/logprobs"] = ToDoubles(logprobs);
        stats.Distributions["objective/ref_logprobs"] = ToDoubles(refLogprobs);
        stats.Scalars["objective/kl_coef"] = klCoef;
        stats.Scalars["objective/entropy"] = ToDouble((-logprobs * m).sum(-1).mean());
        stats.Scalars["ppo/mean_non_score_reward"] = ToDouble(MaskedMean(nonScoreReward, masks, strictTrl: strictTrl));
        var s = scores.reshape(-1);
        stats.Scalars["ppo/mean_scores"] = ToDouble(s.mean());
        stats.Scalars["ppo/std_scores"] = s.numel() < 2 && !strictTrl ? 0.0 : ToDouble(s.std());
        if (meanKl < -1.0)
            warn?.Invoke(string.Create(CultureInfo.InvariantCulture, $"KL divergence is starting to become negative: {meanKl:F2}") +
                " - this might be a precursor for failed training. sometimes this happens because the generation kwargs are not " +
                "correctly set. Please make sure that the generation kwargs are set correctly, or review your training hyperparameters.");

        AddLengths(stats, "queries", queryLengths, strictTrl);
        AddLengths(stats, "responses", responseLengths, strictTrl);

        if (trainStats.Count > 0)
        {
            foreach (var key in trainStats[0].Keys)
            {
                var parts = trainStats.Select(d => d[key].detach().flatten()).ToList();
                if (PerTokenStats.Contains(key))
                {
                    var all = cat(parts, 0);
                    if (key == "policy/advantages") all = all.nan_to_num(-1);
                    stats.Distributions["ppo/" + key] = ToDoubles(all);
                    continue;
                }
                var mean = stack(parts, 0).mean([0L]);
                if (mean.numel() == 1) stats.Scalars["ppo/" + key] = ToDouble(mean);
                else stats.Distributions["ppo/" + key] = ToDoubles(mean);
            }
            if (stats.Scalars.TryGetValue("ppo/val/error", out var error) && stats.Scalars.TryGetValue("ppo/returns/var", out var returnsVar))
                stats.Scalars["ppo/val/var_explained"] = returnsVar == 0 && !strictTrl ? 0.0 : 1 - (float)error / (float)returnsVar;
        }
        return stats;
    }

    static void AddLengths(PpoStepStats stats, string name, IReadOnlyList<int> lengths, bool strictTrl)
    {
        var values = lengths.Select(x => (double)x).ToArray();
        var mean = values.Length == 0 ? 0.0 : values.Average();
        var std = values.Length < 2 ? (strictTrl ? double.NaN : 0.0) : Moments.SampleStd(values, mean);
        stats.Scalars[$"tokens/{name}_len_mean"] = strictTrl && values.Length == 0 ? double.NaN : mean;
        stats.Scalars[$"tokens/{name}_len_std"] = std;
        stats.Distributions[$"tokens/{name}_dist"] = values;
    }

    static double ToDouble(Tensor t)
    {
        using var d = t.detach().to_type(ScalarType.Float64).cpu();
        return d.item<double>();
    }

    static double[] ToDoubles(Tensor t)
    {
        using var d = t.detach().to_type(ScalarType.Float64).cpu().flatten();
        return d.data<double>().ToArray();
    }
}

/// <summary>One PPO step's statistics in a DataFrame-friendly shape: scalars as doubles, distributions (the
/// <c>*_dist</c> keys, per-token log-probabilities, advantages and ratios) as flat arrays.</summary>
public sealed class PpoStepStats
{
    public Dictionary<string, double> Scalars { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, double[]> Distributions { get; } = new(StringComparer.Ordinal);

    /// <summary>Every key, scalars first.</summary>
    public IEnumerable<string> Keys => Scalars.Keys.Concat(Distributions.Keys);
}
