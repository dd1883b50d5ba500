using RlhfKit.Benchmarks;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

/// <summary>The half-precision option for rollouts and scoring is meant for CUDA; these check on the CPU that it runs,
/// tracks the trained weights and stays close to float32.</summary>
public class InferenceDTypeTests
{
    static T5Config TinyT5 => new()
    {
        VocabSize = 64, DModel = 32, DKv = 8, DFf = 64, NumLayers = 2, NumDecoderLayers = 2, NumHeads = 4,
        FeedForwardProj = "gated-gelu", TieWordEmbeddings = false,
    };

    [Fact]
    public void Bfloat16RolloutsUseACastCopyOfTheCurrentPolicyWeights()
    {
        var policy = new Seq2SeqLMWithValueHead(new T5ForConditionalGeneration(TinyT5));
        SeededInitialization.InitializeRandomWeights(policy, 0);
        using var trainer = new PpoTrainer(new PpoConfig { BatchSize = 2, MiniBatchSize = 1 }, policy) { RolloutDType = ScalarType.BFloat16 };
        long[][] queries = [[5, 6, 7, 1], [8, 9, 1]];
        var generation = GenerationConfig.PpoRollout(6, seed: 3) with { MinNewTokens = 6 };
        using (var output = trainer.Generate(queries, generation))
        {
            Assert.Equal([2L, 7L], output.Sequences.shape);
            Assert.Equal(ScalarType.Float32, output.TokenLogprobs.dtype);
            Assert.True(output.TokenLogprobs.isfinite().all().item<bool>());
        }
        // The copy follows the trained weights: refreshed (and cast) before every rollout.
        using (no_grad()) policy.pretrained_model.lm_head.weight!.mul_(3.0);
        var copy = (T5ForConditionalGeneration)trainer.RolloutModel();
        Assert.NotSame(policy, copy);
        Assert.Equal(ScalarType.BFloat16, copy.lm_head.weight!.dtype);
        Assert.True(policy.pretrained_model.lm_head.weight!.to_type(ScalarType.BFloat16).eq(copy.lm_head.weight!).all().item<bool>());
        trainer.RolloutDType = null;
        Assert.Same(policy, trainer.RolloutModel());
    }

    [Fact]
    public void Bfloat16ScoringStaysCloseToFloat32()
    {
        var config = BenchmarkOptions.RobertaBaseShape() with { VocabSize = 200, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64 };
        var tokenizer = new SyntheticWordTokenizer(config.VocabSize);
        string[] texts = ["w5 w6 w7", "w10 w11 w12 w13 w14 w15", "w20"];
        var a = new RobertaForSequenceClassification(config);
        var b = new RobertaForSequenceClassification(config);
        SeededInitialization.InitializeRandomWeights(a, 1);
        SeededInitialization.InitializeRandomWeights(b, 1);
        var float32 = new TextClassificationPipeline(a, tokenizer).Logits(texts);
        var bf16 = new TextClassificationPipeline(b, tokenizer, dtype: ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, b.classifier.out_proj.weight!.dtype);
        var half = bf16.Logits(texts);
        for (int i = 0; i < texts.Length; i++)
            for (int j = 0; j < 2; j++) Assert.Equal(float32[i][j], half[i][j], 0.1);
    }
}
