using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Checkpoints;

/// <summary>Every model folder of the fixture set (any folder under <see cref="Fixtures.Root"/> with a config.json) read
/// in all three weight forms, against the key lists and summaries in its reference.json and its config.json.</summary>
public class CheckpointParityTests
{
    public static TheoryData<string> ModelFolders()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(Fixtures.Root).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, "config.json")) && File.Exists(Path.Combine(dir, "reference.json")))
                data.Add(Path.GetFileName(dir));
        return data;
    }

    [Fact]
    public void FixtureSetHasModelFolders() => Assert.NotEmpty(ModelFolders());

    static List<string> Keys(JsonElement reference, string name) =>
        reference.GetProperty(name).EnumerateArray().Select(k => k.GetString()!).Order(StringComparer.Ordinal).ToList();

    static void AssertIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: shape {string.Join(",", actual.shape)}, expected {string.Join(",", expected.shape)}");
        Assert.True(expected.eq(actual).all().item<bool>(), $"{what}: values differ");
    }

    [Theory, MemberData(nameof(ModelFolders))]
    public void AllThreeWeightFormsGiveIdenticalTensors(string model)
    {
        using var reference = Fixtures.Json(model, "reference.json");
        var r = reference.RootElement;
        var st = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "model.safetensors"));
        var bin = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "pytorch_model.bin"));
        var legacy = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "pytorch_model_legacy.bin"));

        Assert.Equal(Keys(r, "safetensors_keys"), st.Keys.Order(StringComparer.Ordinal).ToList());
        Assert.Equal(Keys(r, "pytorch_model_bin_keys"), bin.Keys.Order(StringComparer.Ordinal).ToList());
        Assert.Equal(Keys(r, "pytorch_model_bin_keys"), legacy.Keys.Order(StringComparer.Ordinal).ToList());

        foreach (var (key, t) in bin) AssertIdentical(t, legacy[key], $"{model} legacy {key}");
        foreach (var (key, t) in st) AssertIdentical(bin[key], t, $"{model} safetensors {key}");

        // The tied duplicates safetensors leaves out are, in the .bin files, the very tensors they are tied to.
        var config = PretrainedConfig.Load(Fixtures.PathOf(model));
        foreach (var (key, target) in config.TiedWeights)
            if (bin.ContainsKey(key)) AssertIdentical(bin[target], bin[key], $"{model} tied {key}");
        foreach (var key in bin.Keys.Except(st.Keys))
            Assert.True(config.TiedWeights.ContainsKey(key), $"{model}: '{key}' is only in the .bin but the config does not tie it");
    }

    [Theory, MemberData(nameof(ModelFolders))]
    public void TensorsMatchTheStateDictSummary(string model)
    {
        using var reference = Fixtures.Json(model, "reference.json");
        var summary = reference.RootElement.GetProperty("state_dict_summary");
        var legacy = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "pytorch_model_legacy.bin"));
        Assert.Equal(summary.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), legacy.Keys.Order(StringComparer.Ordinal));
        foreach (var p in summary.EnumerateObject())
        {
            var t = legacy[p.Name];
            Assert.Equal(p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), t.shape);
            var sum = t.to_type(ScalarType.Float64).sum().item<double>();
            var expected = p.Value.GetProperty("sum").GetDouble();
            var absSum = p.Value.GetProperty("abs_sum").GetDouble();
            Assert.True(Math.Abs(sum - expected) <= 1e-6 * absSum + 1e-9, $"{model} {p.Name}: sum {sum}, expected {expected}");
            var first = p.Value.GetProperty("first").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            var actual = t.flatten().narrow(0, 0, first.Length).to_type(ScalarType.Float64).data<double>().ToArray();
            for (int i = 0; i < first.Length; i++)
                Assert.True(Math.Abs(actual[i] - first[i]) <= 1e-7 * Math.Max(1, Math.Abs(first[i])), $"{model} {p.Name}[{i}]: {actual[i]} vs {first[i]}");
        }
    }

    [Theory, MemberData(nameof(ModelFolders))]
    public void FormsAreDetectedByContentAndSafetensorsIsPreferred(string model)
    {
        Assert.Equal(CheckpointFormat.Safetensors, CheckpointReader.DetectFormat(Fixtures.PathOf(model, "model.safetensors")));
        Assert.Equal(CheckpointFormat.PyTorchZip, CheckpointReader.DetectFormat(Fixtures.PathOf(model, "pytorch_model.bin")));
        Assert.Equal(CheckpointFormat.PyTorchLegacy, CheckpointReader.DetectFormat(Fixtures.PathOf(model, "pytorch_model_legacy.bin")));
        Assert.Equal(Fixtures.PathOf(model, "model.safetensors"), CheckpointReader.FindWeights(Fixtures.PathOf(model)));
    }

    [Theory, MemberData(nameof(ModelFolders))]
    public void DtypeConversionOnRead(string model)
    {
        var f32 = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "model.safetensors"));
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            var converted = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "pytorch_model_legacy.bin"), dtype);
            foreach (var (key, t) in f32)
            {
                Assert.Equal(dtype, converted[key].dtype);
                Assert.True(t.to_type(dtype).eq(converted[key]).all().item<bool>(), $"{model} {key} as {dtype}");
            }
        }
    }

    [Theory, MemberData(nameof(ModelFolders))]
    public void ConfigParseMatchesConfigJson(string model)
    {
        using var json = Fixtures.Json(model, "config.json");
        var j = json.RootElement;
        int I(string name) => j.GetProperty(name).GetInt32();
        double D(string name) => j.GetProperty(name).GetDouble();
        string S(string name) => j.GetProperty(name).GetString()!;
        bool Has(string name) => j.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

        var config = PretrainedConfig.Load(Fixtures.PathOf(model));
        Assert.Equal(S("model_type"), config.ModelType);
        Assert.Equal(j.GetProperty("architectures").EnumerateArray().Select(a => a.GetString()), config.Architectures);
        switch (config)
        {
            case T5Config t5:
                Assert.Equal(I("vocab_size"), t5.VocabSize);
                Assert.Equal(I("d_model"), t5.DModel);
                Assert.Equal(I("d_kv"), t5.DKv);
                Assert.Equal(I("d_ff"), t5.DFf);
                Assert.Equal(I("num_layers"), t5.NumLayers);
                Assert.Equal(Has("num_decoder_layers") ? I("num_decoder_layers") : I("num_layers"), t5.NumDecoderLayers);
                Assert.Equal(I("num_heads"), t5.NumHeads);
                Assert.Equal(I("relative_attention_num_buckets"), t5.RelativeAttentionNumBuckets);
                Assert.Equal(Has("relative_attention_max_distance") ? I("relative_attention_max_distance") : 128, t5.RelativeAttentionMaxDistance);
                Assert.Equal(D("dropout_rate"), t5.DropoutRate);
                Assert.Equal(D("layer_norm_epsilon"), t5.LayerNormEpsilon);
                Assert.Equal(S("feed_forward_proj"), t5.FeedForwardProj);
                if (Has("dense_act_fn")) Assert.Equal(S("dense_act_fn"), t5.DenseActFn);
                if (Has("is_gated_act")) Assert.Equal(j.GetProperty("is_gated_act").GetBoolean(), t5.IsGatedAct);
                Assert.Equal(!Has("tie_word_embeddings") || j.GetProperty("tie_word_embeddings").GetBoolean(), t5.TieWordEmbeddings);
                Assert.Equal(I("pad_token_id"), t5.PadTokenId);
                Assert.Equal(I("eos_token_id"), t5.EosTokenId);
                Assert.Equal(Has("decoder_start_token_id") ? I("decoder_start_token_id") : I("pad_token_id"), t5.DecoderStartTokenId);
                Assert.Equal(t5.TieWordEmbeddings, t5.TiedWeights.ContainsKey("lm_head.weight"));
                break;
            case BertLikeConfig bert:
                Assert.Equal(I("vocab_size"), bert.VocabSize);
                Assert.Equal(I("hidden_size"), bert.HiddenSize);
                Assert.Equal(I("num_hidden_layers"), bert.NumHiddenLayers);
                Assert.Equal(I("num_attention_heads"), bert.NumAttentionHeads);
                Assert.Equal(I("intermediate_size"), bert.IntermediateSize);
                Assert.Equal(S("hidden_act"), bert.HiddenAct);
                Assert.Equal(I("max_position_embeddings"), bert.MaxPositionEmbeddings);
                Assert.Equal(I("type_vocab_size"), bert.TypeVocabSize);
                Assert.Equal(D("layer_norm_eps"), bert.LayerNormEps);
                Assert.Equal(I("pad_token_id"), bert.PadTokenId);
                Assert.Equal(D("hidden_dropout_prob"), bert.HiddenDropoutProb);
                Assert.Equal(D("attention_probs_dropout_prob"), bert.AttentionProbsDropoutProb);
                Assert.Equal(Has("classifier_dropout") ? D("classifier_dropout") : null, bert.ClassifierDropout);
                Assert.Equal(Has("problem_type") ? S("problem_type") : null, bert.ProblemType);
                var labels = Has("id2label")
                    ? j.GetProperty("id2label").EnumerateObject().OrderBy(p => int.Parse(p.Name)).Select(p => p.Value.GetString()!).ToList()
                    : Enumerable.Range(0, Has("num_labels") ? I("num_labels") : 2).Select(i => $"LABEL_{i}").ToList();
                Assert.Equal(labels, bert.Id2Label);
                break;
            default:
                Assert.Fail($"unexpected config type {config.GetType().Name}");
                break;
        }
    }

    /// <summary>The config.json the kit writes keeps every field of the original with the same value (so Python
    /// transformers reads the same model), whatever the kit models or not.</summary>
    [Theory, MemberData(nameof(ModelFolders))]
    public void SavedConfigKeepsEveryField(string model)
    {
        var original = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf(model, "config.json")))!.AsObject();
        var config = PretrainedConfig.Load(Fixtures.PathOf(model));
        var dir = Directory.CreateTempSubdirectory("ckpt-config-");
        try
        {
            config.Save(dir.FullName);
            var written = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.FullName, "config.json")))!.AsObject();
            foreach (var (key, value) in original)
            {
                if (key == "label2id" && value is null) continue; // the kit writes the one id2label implies
                Assert.True(written.ContainsKey(key), $"{model}: saved config lacks '{key}'");
                Assert.True(SameJson(value, written[key]), $"{model}: '{key}' was {value?.ToJsonString()}, saved {written[key]?.ToJsonString()}");
            }
            var reloaded = PretrainedConfig.Load(dir.FullName);
            Assert.Equal(config.ToJson(), reloaded.ToJson());
        }
        finally { dir.Delete(recursive: true); }
    }

    static bool SameJson(JsonNode? a, JsonNode? b)
    {
        if (a is JsonValue va && b is JsonValue vb && va.GetValueKind() == JsonValueKind.Number && vb.GetValueKind() == JsonValueKind.Number)
            return va.GetValue<double>() == vb.GetValue<double>();
        if (a is JsonObject oa && b is JsonObject ob)
            return oa.Count == ob.Count && oa.All(kv => ob.ContainsKey(kv.Key) && SameJson(kv.Value, ob[kv.Key]));
        return JsonNode.DeepEquals(a, b);
    }
}
