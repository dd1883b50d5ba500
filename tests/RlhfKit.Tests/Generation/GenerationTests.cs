using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Tests.Models;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Generation;

public class GenerationTests
{
    static T5ForConditionalGeneration Model() => TestModels.LoadT5(Fixtures.PathOf("t5-gated"), "model.safetensors");

    static (Tensor Ids, Tensor Mask) Inputs()
    {
        using var doc = Fixtures.Json("t5-gated", "reference.json");
        var inputs = doc.RootElement.GetProperty("inputs");
        return (Fixtures.Tensor(inputs.GetProperty("input_ids")), Fixtures.Tensor(inputs.GetProperty("attention_mask")));
    }

    [Fact]
    public void SampledTokenLogprobsEqualAFullTeacherForcedPass()
    {
        var model = Model();
        var (ids, mask) = Inputs();
        using var scope = NewDisposeScope();
        using var output = Seq2SeqGenerator.Generate(model, ids, mask, GenerationConfig.PpoRollout(maxNewTokens: 12, seed: 7));
        // Recompute without the cache: logits at position t predict token t+1.
        using var full = model.Forward(ids, mask, decoderInputIds: output.Sequences[.., ..^1]);
        var expected = nn.functional.log_softmax(full.Logits, -1).gather(2, output.Sequences[.., 1..].unsqueeze(2)).squeeze(2) * output.ResponseMask.to_type(float32);
        Fixtures.AssertClose(expected, output.TokenLogprobs, 1e-4, what: "token logprobs");
        Assert.True(output.TokenLogprobs.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void SamplingIsReproducibleWithASeedAndVariesAcrossSeeds()
    {
        var model = Model();
        var (ids, mask) = Inputs();
        long[] Run(long seed)
        {
            using var o = Seq2SeqGenerator.Generate(model, ids, mask, GenerationConfig.PpoRollout(16, seed));
            return o.Sequences.data<long>().ToArray();
        }
        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
    }

    [Fact]
    public void TopKOneAndTinyTopPSampleTheGreedyPath()
    {
        var model = Model();
        var (ids, mask) = Inputs();
        using var greedy = Seq2SeqGenerator.Generate(model, ids, mask, new GenerationConfig { MaxNewTokens = 8 });
        using var topK = Seq2SeqGenerator.Generate(model, ids, mask, new GenerationConfig { MaxNewTokens = 8, DoSample = true, TopK = 1, Seed = 3 });
        using var topP = Seq2SeqGenerator.Generate(model, ids, mask, new GenerationConfig { MaxNewTokens = 8, DoSample = true, TopK = 0, TopP = 1e-6, Seed = 3 });
        Assert.Equal(greedy.Sequences.data<long>().ToArray(), topK.Sequences.data<long>().ToArray());
        Assert.Equal(greedy.Sequences.data<long>().ToArray(), topP.Sequences.data<long>().ToArray());
    }

    [Fact]
    public void ProcessorsFilterAsHuggingFaceDoes()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 1f, 4f, 2f, 3f, 0f }).unsqueeze(0);
        var topK = Seq2SeqGenerator.Process(logits, 5, 1, new GenerationConfig { DoSample = true, TopK = 2 });
        Assert.Equal(new[] { false, true, false, true, false }, topK.isfinite()[0].data<bool>().ToArray());
        // softmax([1,4,2,3,0]) = [.032,.636,.086,.234,.012]: top-p 0.8 keeps 4 and 3 (0.636 + 0.234 >= 0.8).
        var topP = Seq2SeqGenerator.Process(logits, 5, 1, new GenerationConfig { DoSample = true, TopK = 0, TopP = 0.8 });
        Assert.Equal(new[] { false, true, false, true, false }, topP.isfinite()[0].data<bool>().ToArray());
        var hot = Seq2SeqGenerator.Process(logits, 5, 1, new GenerationConfig { DoSample = true, TopK = 0, Temperature = 2 });
        Assert.Equal(new[] { 0.5f, 2f, 1f, 1.5f, 0f }, hot[0].data<float>().ToArray());
        var minLength = Seq2SeqGenerator.Process(logits, 0, 1, new GenerationConfig { MinNewTokens = 1 });
        Assert.True(float.IsNegativeInfinity(minLength[0, 1].item<float>()));
        Assert.Equal(4f, logits[0, 1].item<float>()); // the input is not modified
    }

    [Fact]
    public void FinishedRowsArePaddedAndMaskedAndGenerationStopsWhenAllFinish()
    {
        // Row 0 emits eos at step 1, row 1 at step 3; afterwards the scripted model would emit token 5.
        var scripted = new ScriptedLm(new[] { new[] { 4, 1, 5, 5, 5, 5 }, new[] { 6, 7, 8, 1, 5, 5 } });
        using var output = Seq2SeqGenerator.Generate(scripted, zeros(2, 3, dtype: int64), null, new GenerationConfig { MaxNewTokens = 6 });
        Assert.Equal(new long[] { 0, 4, 1, 0, 0, 0, 6, 7, 8, 1 }, output.Sequences.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 0, 0, 1, 1, 1, 1 }, output.ResponseMask.data<long>().ToArray());
        Assert.Equal(0f, output.TokenLogprobs[0, 2].item<float>());
        Assert.Equal(new[] { new long[] { 4, 1 }, new long[] { 6, 7, 8, 1 } }, output.ResponseIds());
        Assert.Equal(4, scripted.Steps); // stopped once both rows had finished
    }

    [Fact]
    public void MinNewTokensForbidsEarlyEos()
    {
        var scripted = new ScriptedLm(new[] { new[] { 1, 1, 1, 1 } }, secondChoice: 9);
        using var output = Seq2SeqGenerator.Generate(scripted, zeros(1, 3, dtype: int64), null, new GenerationConfig { MaxNewTokens = 4, MinNewTokens = 2 });
        Assert.Equal(new long[] { 0, 9, 9, 1 }, output.Sequences.data<long>().ToArray());
    }

    [Fact]
    public void RolloutSettingsThatBiasKlAreNamed()
    {
        Assert.Empty(GenerationConfig.PpoRollout().KlBiasWarnings());
        var workshop = new GenerationConfig { DoSample = true, MinNewTokens = 64, TopK = 0, MaxNewTokens = 128 };
        Assert.Contains(workshop.KlBiasWarnings(), w => w.Contains("min_new_tokens"));
        Assert.Contains(new GenerationConfig().KlBiasWarnings(), w => w.Contains("greedy"));
        Assert.Throws<ArgumentException>(() => new GenerationConfig { TopP = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new GenerationConfig { MinNewTokens = 30 }.Validate());
    }

    /// <summary>Emits a fixed token per row and step (with logit 10; <paramref name="secondChoice"/> gets 5).</summary>
    sealed class ScriptedLm(int[][] script, int secondChoice = 2) : ISeq2SeqLM
    {
        public int Steps { get; private set; }
        public int DecoderStartTokenId => 0;
        public int PadTokenId => 0;
        public int EosTokenId => 1;
        public int VocabSize => 10;
        public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, List<Tensor>? hiddenStates = null) => zeros(inputIds.shape[0], inputIds.shape[1], 4);
        public IDecoderCache NewCache(int capacity = 0) => new NoCache();
        public Tensor Step(Tensor newTokens, Tensor encoderStates, Tensor encoderAttentionMask, IDecoderCache cache)
        {
            var logits = zeros(script.Length, VocabSize);
            for (int b = 0; b < script.Length; b++)
            {
                logits[b, script[b][Steps]] = 10f;
                logits[b, secondChoice] = 5f;
            }
            Steps++;
            return logits;
        }
    }

    sealed class NoCache : IDecoderCache
    {
        public void Dispose() { }
    }
}
