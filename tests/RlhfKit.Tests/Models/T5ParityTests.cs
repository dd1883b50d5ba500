using System.Text.Json;
using RlhfKit.Generation;
using RlhfKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Models;

/// <summary>T5 against Python transformers on every T5 fixture folder (any folder whose config says model_type t5),
/// loaded from each checkpoint file. Every expectation is read from reference.json.</summary>
public class T5ParityTests
{
    const double HiddenTol = 1e-5, LogitTol = 1e-4;

    public static TheoryData<string, string> Checkpoints()
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in Directory.EnumerateDirectories(Fixtures.Root).OrderBy(d => d))
        {
            var config = Path.Combine(dir, "config.json");
            if (!File.Exists(config) || !File.ReadAllText(config).Contains("\"t5\"")) continue;
            foreach (var file in new[] { "model.safetensors", "pytorch_model.bin", "pytorch_model_legacy.bin" })
                if (File.Exists(Path.Combine(dir, file))) data.Add(Path.GetFileName(dir), file);
        }
        return data;
    }

    static (T5ForConditionalGeneration Model, JsonElement Reference, JsonDocument Doc) Load(string folder, string file)
    {
        var model = TestModels.LoadT5(Fixtures.PathOf(folder), file);
        var doc = Fixtures.Json(folder, "reference.json");
        return (model, doc.RootElement, doc);
    }

    [Theory, MemberData(nameof(Checkpoints))]
    public void ForwardMatchesTransformers(string folder, string file)
    {
        var (model, r, doc) = Load(folder, file);
        using var _ = doc; using var __ = NewDisposeScope();
        var inputs = r.GetProperty("inputs");
        var outputs = r.GetProperty("outputs");
        using var output = model.Forward(Fixtures.Tensor(inputs.GetProperty("input_ids")), Fixtures.Tensor(inputs.GetProperty("attention_mask")),
            decoderInputIds: Fixtures.Tensor(inputs.GetProperty("decoder_input_ids")), outputHiddenStates: true);

        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("encoder_last_hidden_state")), output.EncoderLastHiddenState, HiddenTol, what: "encoder_last_hidden_state");
        var enc = outputs.GetProperty("encoder_hidden_states").EnumerateArray().ToList();
        Assert.Equal(enc.Count, output.EncoderHiddenStates!.Count);
        for (int i = 0; i < enc.Count; i++) Fixtures.AssertClose(Fixtures.Tensor(enc[i]), output.EncoderHiddenStates[i], HiddenTol, what: $"encoder_hidden_states[{i}]");
        var dec = outputs.GetProperty("decoder_hidden_states").EnumerateArray().ToList();
        Assert.Equal(dec.Count, output.DecoderHiddenStates!.Count);
        for (int i = 0; i < dec.Count; i++) Fixtures.AssertClose(Fixtures.Tensor(dec[i]), output.DecoderHiddenStates[i], HiddenTol, what: $"decoder_hidden_states[{i}]");
        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("logits")), output.Logits, LogitTol, what: "logits");
    }

    [Theory, MemberData(nameof(Checkpoints))]
    public void LabelsGiveShiftedInputsAndLoss(string folder, string file)
    {
        var (model, r, doc) = Load(folder, file);
        using var _ = doc; using var __ = NewDisposeScope();
        var inputs = r.GetProperty("inputs");
        var outputs = r.GetProperty("outputs");
        var labels = Fixtures.Tensor(inputs.GetProperty("labels"));
        Assert.Equal(Fixtures.Tensor(outputs.GetProperty("shifted_labels_decoder_input_ids")).data<long>().ToArray(), model.ShiftRight(labels).data<long>().ToArray());
        using var output = model.Forward(Fixtures.Tensor(inputs.GetProperty("input_ids")), Fixtures.Tensor(inputs.GetProperty("attention_mask")), labels: labels);
        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("logits_with_labels")), output.Logits, LogitTol, what: "logits_with_labels");
        var expectedLoss = outputs.GetProperty("loss_with_labels").GetDouble();
        Assert.InRange(output.Loss!.item<float>(), expectedLoss - LogitTol * Math.Max(1, Math.Abs(expectedLoss)), expectedLoss + LogitTol * Math.Max(1, Math.Abs(expectedLoss)));
    }

    /// <summary>The fixture's decoder inputs fed one token at a time through the cache; the logits stacked [B, T, vocab].</summary>
    static Tensor DecodeIncrementally(ISeq2SeqLM lm, JsonElement inputs, IDecoderCache cache)
    {
        var mask = Fixtures.Tensor(inputs.GetProperty("attention_mask"));
        var decoderIds = Fixtures.Tensor(inputs.GetProperty("decoder_input_ids"));
        var encoded = lm.Encode(Fixtures.Tensor(inputs.GetProperty("input_ids")), mask);
        var steps = new List<Tensor>();
        for (int t = 0; t < decoderIds.shape[1]; t++) steps.Add(lm.Step(decoderIds[.., t..(t + 1)], encoded, mask, cache));
        return stack(steps, 1);
    }

    [Theory, MemberData(nameof(Checkpoints))]
    public void CachedDecodingMatchesIncrementalReference(string folder, string file)
    {
        var (model, r, doc) = Load(folder, file);
        using var _ = doc; using var __ = NewDisposeScope();
        var inputs = r.GetProperty("inputs");
        ISeq2SeqLM lm = model;
        using var cache = lm.NewCache();
        var logits = DecodeIncrementally(lm, inputs, cache);
        Assert.Equal((int)Fixtures.Tensor(inputs.GetProperty("decoder_input_ids")).shape[1], ((T5Cache)cache).Length);
        Fixtures.AssertClose(Fixtures.Tensor(r.GetProperty("outputs").GetProperty("incremental_logits")), logits, LogitTol, what: "incremental_logits");
    }

    [Theory, MemberData(nameof(Checkpoints))]
    public void CachedDecodingGivesTheSameLogitsWhetherTheCacheIsPreallocatedOrGrows(string folder, string file)
    {
        var (model, r, doc) = Load(folder, file);
        using var _ = doc; using var __ = NewDisposeScope();
        var inputs = r.GetProperty("inputs");
        ISeq2SeqLM lm = model;
        float[] Run(int capacity)
        {
            using var cache = lm.NewCache(capacity);
            return DecodeIncrementally(lm, inputs, cache).data<float>().ToArray();
        }
        // Grown from 1 position (doubling at steps 2, 3, 5, ...), exactly sized, and larger than needed: the same bits.
        var preallocated = Run((int)Fixtures.Tensor(inputs.GetProperty("decoder_input_ids")).shape[1]);
        Assert.Equal(preallocated, Run(1));
        Assert.Equal(preallocated, Run(64));
    }

    [Theory, MemberData(nameof(Checkpoints))]
    public void GreedyGenerateMatchesTransformers(string folder, string file)
    {
        var (model, r, doc) = Load(folder, file);
        using var _ = doc; using var __ = NewDisposeScope();
        var inputs = r.GetProperty("inputs");
        var outputs = r.GetProperty("outputs");
        var expectedSequences = Fixtures.Tensor(outputs.GetProperty("generate_sequences"));
        var expectedScores = outputs.GetProperty("generate_scores").EnumerateArray().Select(Fixtures.Tensor).ToList();
        using var generated = Seq2SeqGenerator.Generate(model, Fixtures.Tensor(inputs.GetProperty("input_ids")), Fixtures.Tensor(inputs.GetProperty("attention_mask")),
            new GenerationConfig { MaxNewTokens = expectedScores.Count, DoSample = false, OutputScores = true });
        Assert.Equal(expectedSequences.data<long>().ToArray(), generated.Sequences.data<long>().ToArray());
        Assert.Equal(expectedScores.Count, generated.Scores!.Count);
        for (int i = 0; i < expectedScores.Count; i++) Fixtures.AssertClose(expectedScores[i], generated.Scores[i], LogitTol, what: $"generate_scores[{i}]");
    }

    [Theory, MemberData(nameof(Checkpoints))]
    public void RelativePositionBucketsAndBiasMatch(string folder, string file)
    {
        var (model, r, doc) = Load(folder, file);
        using var _ = doc; using var __ = NewDisposeScope();
        var outputs = r.GetProperty("outputs");
        var c = model.Config;
        var relative = Fixtures.Tensor(outputs.GetProperty("relative_position"));
        Assert.Equal(Fixtures.Tensor(outputs.GetProperty("relative_position_bucket_bidirectional")).data<long>().ToArray(),
            T5Attention.RelativePositionBucket(relative, true, c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance).data<long>().ToArray());
        Assert.Equal(Fixtures.Tensor(outputs.GetProperty("relative_position_bucket_unidirectional")).data<long>().ToArray(),
            T5Attention.RelativePositionBucket(relative, false, c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance).data<long>().ToArray());
        foreach (var (name, stack) in new[] { ("encoder_position_bias_", model.encoder), ("decoder_position_bias_", model.decoder) })
        {
            var key = outputs.EnumerateObject().Single(p => p.Name.StartsWith(name));
            var expected = Fixtures.Tensor(key.Value);
            var actual = stack.block[0].SelfAttention.ComputeBias(expected.shape[2], expected.shape[3], 0, CPU);
            Fixtures.AssertClose(expected, actual, HiddenTol, what: key.Name);
        }
    }
}
