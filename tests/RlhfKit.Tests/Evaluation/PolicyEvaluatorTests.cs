using RlhfKit.Common;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using static TorchSharp.torch;
using static RlhfKit.Tests.Evaluation.EvaluationTestData;

namespace RlhfKit.Tests.Evaluation;

public class PolicyEvaluatorTests
{
    const double T975Df5 = 2.5705818356363148; // Student t quantile, from mpmath

    /// <summary>Σ_t log p_policy(y_t) − log p_ref(y_t) for one article, without batching or padding.</summary>
    static double DirectKl(T5ForConditionalGeneration policy, T5ForConditionalGeneration reference, long[] query, long[] response) =>
        DirectLogprob(policy, query, response) - DirectLogprob(reference, query, response);

    /// <summary>Σ_t log p_model(y_t | y_&lt;t, x) for one article, without batching or padding.</summary>
    static double DirectLogprob(T5ForConditionalGeneration model, long[] query, long[] response)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(query).unsqueeze(0);
        var decoderInputs = tensor(new long[] { model.Config.DecoderStartTokenId }.Concat(response[..^1]).ToArray()).unsqueeze(0);
        var targets = tensor(response).unsqueeze(0).unsqueeze(2);
        model.eval();
        using var output = model.Forward(ids, decoderInputIds: decoderInputs);
        return nn.functional.log_softmax(output.Logits.to_type(float64), -1).gather(2, targets).sum().item<double>();
    }

    [Fact]
    public void IdenticalPoliciesGiveZeroDifferencesAndZeroKl()
    {
        var tok = Tokenizer();
        Assert.Equal(612, tok.VocabSize);
        var baseModel = Model(1, tok.VocabSize);
        var aligned = Copy(baseModel); // same weights, a separate module: the KL passes really run
        baseModel.train();
        var evaluator = new PolicyEvaluator(baseModel, aligned, tok, Reward()) { MaxInputLength = 48 };
        var result = evaluator.Evaluate(Articles(7), GenerationConfig.PpoRollout(maxNewTokens: 12, seed: 5), batchSize: 3);

        Assert.True(baseModel.training); // the training flag is restored
        Assert.Equal(7, result.Rows.Count);
        Assert.Contains(result.Rows, r => r.BaseSummary.Length > 0);
        Assert.True(result.Rows.Select(r => r.BaseSummary).Distinct().Count() > 1); // sampled, not constant
        foreach (var r in result.Rows)
        {
            Assert.Equal(r.BaseResponseIds, r.AlignedResponseIds);
            Assert.Equal(r.BaseSummary, r.AlignedSummary);
            Assert.Equal(0.0, r.BaseKl);
            Assert.True(Math.Abs(r.AlignedKl) < 1e-4, $"KL {r.AlignedKl}");
            Assert.Equal(r.BaseTokens, r.AlignedTokens);
        }
        foreach (var m in result.RewardMetrics.Append(EvaluationResult.Words).Append(EvaluationResult.RefLogLik))
        {
            var s = result.Metric(m);
            Assert.Equal(0.0, s.DiffMean);
            Assert.Equal(0.0, s.DiffCiLow);
            Assert.Equal(0.0, s.DiffCiHigh);
        }
        Assert.True(Math.Abs(result.Metric(EvaluationResult.Kl).AlignedMean) < 1e-4);
    }

    [Fact]
    public void SeveralSamplesPerArticleStartWithTheOneSampleRunAndDrawFreshSummariesAfterIt()
    {
        var tok = Tokenizer();
        var baseModel = Model(1, tok.VocabSize);
        var aligned = Model(2, tok.VocabSize);
        var evaluator = new PolicyEvaluator(baseModel, aligned, tok, Reward()) { MaxInputLength = 48 };
        var sampling = GenerationConfig.PpoRollout(maxNewTokens: 12, seed: 5);
        var one = evaluator.Evaluate(Articles(7), sampling, batchSize: 3);
        var three = evaluator.Evaluate(Articles(7), sampling, batchSize: 3, samplesPerArticle: 3);

        Assert.Equal(21, three.Rows.Count);
        Assert.Equal(3, three.SamplesPerArticle);
        Assert.Equal(Enumerable.Range(0, 21).Select(i => i / 7), three.Rows.Select(r => r.Sample));
        Assert.Equal(Enumerable.Range(0, 21).Select(i => Articles(7)[i % 7].Id), three.Rows.Select(r => r.Id));
        // Sample 0 is the one-sample evaluation, to the bit.
        for (int i = 0; i < 7; i++)
        {
            Assert.Equal(one.Rows[i].BaseResponseIds, three.Rows[i].BaseResponseIds);
            Assert.Equal(one.Rows[i].AlignedResponseIds, three.Rows[i].AlignedResponseIds);
            Assert.Equal(one.Rows[i].AlignedKl, three.Rows[i].AlignedKl);
        }
        // Later samples use other seeds: not a copy of sample 0.
        Assert.Contains(Enumerable.Range(7, 14), i => three.Rows[i].AlignedSummary != three.Rows[i % 7].AlignedSummary);
        Assert.Equal(7, three.Metric(EvaluationResult.Total).N);
        var perArticle = Enumerable.Range(0, 7).Select(i => new[] { 0, 1, 2 }.Average(s => three.Rows[s * 7 + i].DeltaTotal)).ToArray();
        Assert.Equal(perArticle.Average(), three.Metric(EvaluationResult.Total).DiffMean, 1e-9);

        // Greedy decoding would give the same summary every time: refused, naming the parameter.
        var greedy = Assert.Throws<ArgumentException>(() => evaluator.Evaluate(Articles(7), sampling with { DoSample = false }, samplesPerArticle: 2));
        Assert.Equal("samplesPerArticle", greedy.ParamName);
    }

    [Fact]
    public void PerturbedPolicyHasPositiveKlAndNumbersMatchADirectComputation()
    {
        var tok = Tokenizer();
        var baseModel = Model(2, tok.VocabSize);
        EncourageEos(baseModel);
        var alignedLm = Copy(baseModel);
        Perturb(alignedLm, 0.1, seed: 3);
        var policy = new Seq2SeqLMWithValueHead(alignedLm); // as PPO leaves it: the evaluator uses pretrained_model
        var reward = Reward();
        var articles = Articles(6);
        var generation = GenerationConfig.PpoRollout(maxNewTokens: 10, seed: 11);
        var evaluator = new PolicyEvaluator(baseModel, policy, tok, reward) { MaxInputLength = 40 };
        var result = evaluator.Evaluate(articles, generation, batchSize: 8); // one batch: seed used as given

        // Generation: exactly what the generator gives both models for the same prompts and config.
        var queries = PromptedBatch.Queries(articles.Select(a => a.Text), tok, evaluator.MaxInputLength);
        Assert.All(queries, q => Assert.True(q.Length <= 40 && q[^1] == tok.EosTokenId));
        Assert.Contains(queries, q => q.Length == 40); // truncation happened
        baseModel.eval(); alignedLm.eval();
        var (ids, mask) = Batching.PadRight(queries, 0);
        using (var b = Seq2SeqGenerator.Generate(baseModel, ids, mask, generation))
            Assert.Equal(b.ResponseIds(), result.Rows.Select(r => r.BaseResponseIds!));
        using (var a = Seq2SeqGenerator.Generate(alignedLm, ids, mask, generation))
            Assert.Equal(a.ResponseIds(), result.Rows.Select(r => r.AlignedResponseIds!));
        Assert.Contains(result.Rows, r => r.BaseSummary != r.AlignedSummary);
        // Summaries of different lengths: the teacher-forced passes see padded batches.
        Assert.True(result.Rows.Select(r => r.AlignedResponseIds!.Length).Distinct().Count() > 1);

        // KL: a direct unbatched teacher-forced computation; positive on average for a policy that moved.
        for (int i = 0; i < articles.Count; i++)
        {
            var r = result.Rows[i];
            Assert.Equal(tok.Decode(r.AlignedResponseIds!.Select(t => (int)t)), r.AlignedSummary);
            Assert.Equal(r.AlignedResponseIds!.Length - (r.AlignedResponseIds[^1] == 1 ? 1 : 0), r.AlignedTokens);
            var kl = DirectKl(alignedLm, baseModel, queries[i], r.AlignedResponseIds!);
            Assert.Equal(kl, r.AlignedKl, 1e-3);
            Assert.Equal(0.0, r.BaseKl); // the base model is the reference
            // Fluency under the reference: its mean log-probability per token of each summary.
            Assert.Equal(DirectLogprob(baseModel, queries[i], r.AlignedResponseIds!) / r.AlignedResponseIds!.Length, r.AlignedRefLogLik, 1e-4);
            Assert.Equal(DirectLogprob(baseModel, queries[i], r.BaseResponseIds!) / r.BaseResponseIds!.Length, r.BaseRefLogLik, 1e-4);
        }
        var meanKl = result.Metric(EvaluationResult.Kl).AlignedMean;
        Assert.True(meanKl > 0.1, $"mean KL {meanKl}");

        // Rewards: re-score the returned summaries and recompute the statistics directly.
        var baseScores = reward.Score(result.Rows.Select(r => r.BaseSummary).ToList());
        var alignedScores = reward.Score(result.Rows.Select(r => r.AlignedSummary).ToList());
        void Check(string metric, float[] b, float[] a)
        {
            var s = result.Metric(metric);
            for (int i = 0; i < b.Length; i++)
            {
                Assert.Equal(b[i], result.Rows[i].Base(metric), 1e-9);
                Assert.Equal(a[i], result.Rows[i].Aligned(metric), 1e-9);
            }
            var d = a.Zip(b, (x, y) => (double)x - y).ToArray();
            double mean = d.Average(), sd = Math.Sqrt(d.Sum(v => (v - mean) * (v - mean)) / (d.Length - 1));
            double half = T975Df5 * sd / Math.Sqrt(d.Length);
            Assert.Equal(b.Average(x => (double)x), s.BaseMean, 1e-9);
            Assert.Equal(a.Average(x => (double)x), s.AlignedMean, 1e-9);
            Assert.Equal(mean, s.DiffMean, 1e-9);
            Assert.Equal(mean - half, s.DiffCiLow, 1e-9);
            Assert.Equal(mean + half, s.DiffCiHigh, 1e-9);
            Assert.Equal(100 * (a.Average(x => (double)x) - b.Average(x => (double)x)) / Math.Abs(b.Average(x => (double)x)), s.RelativeGainPercent, 1e-9);
        }
        Check(EvaluationResult.Total, baseScores.Total, alignedScores.Total);
        Check("length", baseScores.Components["length"], alignedScores.Components["length"]);
        Check("e_count", baseScores.Components["e_count"], alignedScores.Components["e_count"]);

        // A separate reference (a copy of the base) gives the same KL, and ~0 for the base policy.
        var withReference = new PolicyEvaluator(baseModel, alignedLm, tok, reward, reference: Copy(baseModel)) { MaxInputLength = 40 }
            .Evaluate(articles, generation, batchSize: 8);
        for (int i = 0; i < articles.Count; i++)
        {
            Assert.True(Math.Abs(withReference.Rows[i].BaseKl) < 1e-4, $"base KL {withReference.Rows[i].BaseKl}");
            Assert.Equal(result.Rows[i].AlignedKl, withReference.Rows[i].AlignedKl, 1e-4);
        }
    }

    [Fact]
    public void BatchSizeDoesNotChangeGreedySummariesOrKl()
    {
        var tok = Tokenizer();
        var baseModel = Model(4, tok.VocabSize);
        EncourageEos(baseModel);
        var aligned = Copy(baseModel);
        Perturb(aligned, 0.02, seed: 9);
        var evaluator = new PolicyEvaluator(baseModel, aligned, tok, Reward()) { MaxInputLength = 64 };
        var greedy = new GenerationConfig { MaxNewTokens = 8 };
        var articles = Articles(5);
        var one = evaluator.Evaluate(articles, greedy, batchSize: 1);
        var all = evaluator.Evaluate(articles, greedy, batchSize: 5);
        Assert.Equal(one.Rows.Select(r => r.AlignedResponseIds!), all.Rows.Select(r => r.AlignedResponseIds!));
        Assert.Equal(one.Rows.Select(r => r.BaseSummary), all.Rows.Select(r => r.BaseSummary));
        for (int i = 0; i < articles.Count; i++) Assert.Equal(one.Rows[i].AlignedKl, all.Rows[i].AlignedKl, 1e-4);
        Assert.Contains(all.Rows, r => Math.Abs(r.AlignedKl) > 1e-3);
        Assert.True(all.Rows.Select(r => r.AlignedResponseIds!.Length).Distinct().Count() > 1, "all summaries have the same length: " + string.Join(",", all.Rows.Select(r => r.AlignedResponseIds!.Length)) + " base " + string.Join(",", all.Rows.Select(r => r.BaseResponseIds!.Length)));
        Assert.Equal(greedy, all.Generation);
    }

    [Fact]
    public void RejectsATokenizerLargerThanTheModelVocabularyAndARewardWithoutComponents()
    {
        var tok = Tokenizer();
        var small = Model(5, 512);
        Assert.Throws<ArgumentException>(() => new PolicyEvaluator(small, small, tok, Reward()));
        var model = Model(5, tok.VocabSize);
        var evaluator = new PolicyEvaluator(model, model, tok, new CompositeReward());
        Assert.Contains("no components", Assert.Throws<ArgumentException>(() => evaluator.Evaluate(Articles(2), new GenerationConfig { MaxNewTokens = 2 })).Message);
    }
}
