using RlhfKit.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Dpo;

/// <summary>What <see cref="DpoMath.Loss"/> returns: the mean loss (0-d, differentiable) and the implicit rewards
/// <c>β (log π - log π_ref)</c> of each chosen and rejected response (detached, [batch]).</summary>
public sealed record DpoLossResult(Tensor Loss, Tensor ChosenRewards, Tensor RejectedRewards);

/// <summary>
/// TRL's DPO math (<c>trl.trainer.dpo_trainer.DPOTrainer</c>, 0.7.x) on TorchSharp tensors, public so a notebook cell can
/// call it on numbers of its own. With <c>z = (log π(y_c) - log π(y_r)) - (log π_ref(y_c) - log π_ref(y_r))</c> per pair:
/// sigmoid <c>-(1-ε) log σ(βz) - ε log σ(-βz)</c>, hinge <c>relu(1 - βz)</c>, ipo <c>(z - 1/(2β))²</c>, averaged over
/// the batch.
/// </summary>
public static class DpoMath
{
    // trl.trainer.dpo_trainer.DPOTrainer.get_batch_logps
    /// <summary>
    /// Log-probability of each response under <paramref name="logits"/> [B, T, V]: <c>Σ_t mask[b,t] · log softmax(logits[b,t])[labels[b,t]]</c>
    /// over the response tokens (a seq2seq decoder's logits at position t predict label t, so there is no shift), or that
    /// sum divided by <c>Σ_t mask[b,t]</c> with <paramref name="average"/>. Returns [B].
    /// </summary>
    public static Tensor SequenceLogProbs(Tensor logits, Tensor labels, Tensor mask, bool average = false)
    {
        using var scope = NewDisposeScope();
        var m = mask.to_type(logits.dtype);
        var perToken = logits.log_softmax(-1).gather(-1, labels.to_type(ScalarType.Int64).unsqueeze(-1)).squeeze(-1);
        var sum = (perToken * m).sum(-1);
        return (average ? sum / m.sum(-1).clamp_min(Scalars.One) : sum).MoveToOuterDisposeScope();
    }

    // trl.trainer.dpo_trainer.DPOTrainer.dpo_loss
    /// <summary>
    /// The preference loss on summed (or averaged) response log-probabilities, each [B]:
    /// <c>z = (policyChosen - policyRejected) - (referenceChosen - referenceRejected)</c> (the reference term is 0 when
    /// <see cref="DpoConfig.ReferenceFree"/>), then the loss of <see cref="DpoConfig.LossType"/> averaged over pairs.
    /// Rewards: <c>β (policy - reference)</c> per response, detached.
    /// </summary>
    public static DpoLossResult Loss(Tensor policyChosen, Tensor policyRejected, Tensor referenceChosen, Tensor referenceRejected, DpoConfig config)
    {
        using var scope = NewDisposeScope();
        // β and the smoothing as Scalars held to the end of the method (Common/Scalars).
        using Scalar beta = config.Beta.ToScalar(), negBeta = (-config.Beta).ToScalar(), ipoShift = (1 / (2 * config.Beta)).ToScalar(),
            keep = (1 - config.LabelSmoothing).ToScalar(), smoothing = config.LabelSmoothing.ToScalar();
        var piLogRatios = policyChosen - policyRejected;
        var refLogRatios = config.ReferenceFree ? zeros_like(piLogRatios) : referenceChosen - referenceRejected;
        var z = piLogRatios - refLogRatios;
        var losses = config.LossType switch
        {
            // -log σ(βz)·(1 - ε) - log σ(-βz)·ε
            DpoLossType.Sigmoid => -nn.functional.logsigmoid(z * beta) * keep - nn.functional.logsigmoid(z * negBeta) * smoothing,
            // relu(1 - βz)
            DpoLossType.Hinge => nn.functional.relu((z * beta).OneMinus()),
            // (z - 1/(2β))²
            DpoLossType.Ipo => (z - ipoShift).Square(),
            _ => throw new ArgumentException($"Unknown loss type {config.LossType}.", nameof(config)),
        };
        var chosenRewards = ((policyChosen - referenceChosen) * beta).detach();
        var rejectedRewards = ((policyRejected - referenceRejected) * beta).detach();
        return new DpoLossResult(losses.mean().MoveToOuterDisposeScope(), chosenRewards.MoveToOuterDisposeScope(), rejectedRewards.MoveToOuterDisposeScope());
    }

    // trl.trainer.dpo_trainer.DPOTrainer.get_batch_metrics
    /// <summary>
    /// TRL's logged statistics of one batch, under TRL's names (prefix <c>eval_</c> for evaluation):
    /// <c>rewards/chosen</c>, <c>rewards/rejected</c> (mean implicit rewards), <c>rewards/accuracies</c> (fraction of pairs
    /// with chosen reward &gt; rejected reward), <c>rewards/margins</c> (mean of chosen - rejected reward),
    /// <c>logps/chosen</c>, <c>logps/rejected</c> (mean policy log-probabilities of the responses), and
    /// <c>logits/chosen</c>, <c>logits/rejected</c> (mean policy logit over the vocabulary at the response positions).
    /// TRL averages the logits over the padded batch tensor, pad positions included, so its value depends on how a
    /// batch was padded; the kit averages over real response positions only (the two agree on unpadded batches).
    /// </summary>
    public static Dictionary<string, double> Statistics(DpoLossResult loss, Tensor policyChosen, Tensor policyRejected,
        Tensor chosenLogits, Tensor chosenMask, Tensor rejectedLogits, Tensor rejectedMask, string prefix = "")
    {
        using var scope = NewDisposeScope();
        static double D(Tensor t) => t.to_type(ScalarType.Float64).cpu().item<double>();
        static double MeanLogit(Tensor logits, Tensor mask)
        {
            var m = mask.to_type(logits.dtype).unsqueeze(-1);
            using var vocab = logits.shape[^1].ToScalar();
            var count = m.sum() * vocab;
            return D((logits.detach() * m).sum() / count.clamp_min(Scalars.One));
        }
        return new Dictionary<string, double>
        {
            [prefix + "loss"] = D(loss.Loss.detach()),
            [prefix + "rewards/chosen"] = D(loss.ChosenRewards.mean()),
            [prefix + "rewards/rejected"] = D(loss.RejectedRewards.mean()),
            [prefix + "rewards/accuracies"] = D(loss.ChosenRewards.gt(loss.RejectedRewards).to_type(ScalarType.Float32).mean()),
            [prefix + "rewards/margins"] = D((loss.ChosenRewards - loss.RejectedRewards).mean()),
            [prefix + "logps/rejected"] = D(policyRejected.detach().mean()),
            [prefix + "logps/chosen"] = D(policyChosen.detach().mean()),
            [prefix + "logits/rejected"] = MeanLogit(rejectedLogits, rejectedMask),
            [prefix + "logits/chosen"] = MeanLogit(chosenLogits, chosenMask),
        };
    }
}
