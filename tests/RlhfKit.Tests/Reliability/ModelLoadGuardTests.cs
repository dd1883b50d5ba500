using RlhfKit.Loading;
using System.Text.Json.Nodes;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using RlhfKit.Tests.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Reliability;

/// <summary>What <c>AutoModel</c> refuses before building a model (layer counts the weights cannot hold, numeric fields
/// that would give NaN outputs), what it refuses while loading (tied weights at odds), and the keys it accepts by design
/// (transformers' <c>_keys_to_ignore_on_load_unexpected</c> and non-persistent buffers).</summary>
public sealed class ModelLoadGuardTests : IDisposable
{
    readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A copy of a fixture folder with config.json edited and the weights (optionally) edited.</summary>
    string Folder(string model, Action<JsonObject>? editConfig = null, Action<Dictionary<string, Tensor>>? editWeights = null)
    {
        var folder = Path.Combine(_dir.Path, $"{model}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var config = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf(model, "config.json")))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        var weights = Path.Combine(folder, "model.safetensors");
        if (editWeights is null) File.Copy(Fixtures.PathOf(model, "model.safetensors"), weights);
        else
        {
            var sd = CheckpointReader.ReadStateDict(Fixtures.PathOf(model, "model.safetensors"));
            try
            {
                editWeights(sd);
                CheckpointWriter.SaveSafetensors(sd, weights);
            }
            finally { foreach (var t in sd.Values) t.Dispose(); }
        }
        return folder;
    }

    static bool Same(Tensor a, Tensor b)
    {
        return a.shape.SequenceEqual(b.shape) && a.allclose(b, rtol: 0, atol: 0);
    }

    // ---- many tiny layers ----

    [Fact]
    public void TwentyThousandTinyLayersAreRefusedBeforeBuilding()
    {
        var folder = Folder("t5-relu", c => { c["num_layers"] = 20000; c["num_decoder_layers"] = 20000; c["d_model"] = 1; c["d_kv"] = 1; c["num_heads"] = 1; c["d_ff"] = 1; });
        var e = Assert.Throws<InvalidDataException>(() => AutoModel.T5FromPretrained(folder));
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains("num_layers", e.Message);
        Assert.Contains("20000", e.Message);
    }

    [Fact]
    public void LayerCountTheWeightsCannotHoldIsRefusedBeforeBuilding()
    {
        // 300 + 300 layers of d_model 1 need about 5,400 weights: the file's 780 KB pass the byte check, but it holds
        // 47 tensors where such a model needs 6,305.
        var folder = Folder("t5-relu", c => { c["num_layers"] = 300; c["num_decoder_layers"] = 300; c["d_model"] = 1; c["d_kv"] = 1; c["num_heads"] = 1; c["d_ff"] = 1; });
        var e = Assert.Throws<InvalidDataException>(() => AutoModel.T5FromPretrained(folder));
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains("num_layers 300, num_decoder_layers 300", e.Message);
        Assert.Contains("need at least 6,305 tensors", e.Message);
        Assert.Contains("holds 47", e.Message);

        var bert = Folder("roberta-cls", c => { c["num_hidden_layers"] = 200; c["hidden_size"] = 4; c["num_attention_heads"] = 1; c["intermediate_size"] = 4; });
        var e2 = Assert.Throws<InvalidDataException>(() => AutoModel.SequenceClassifierFromPretrained(bert));
        Assert.Contains(Path.Combine(bert, "config.json"), e2.Message);
        Assert.Contains("num_hidden_layers 200", e2.Message);
    }

    [Theory]
    [InlineData("t5-relu", "model.safetensors")]
    [InlineData("t5-relu", "pytorch_model.bin")]
    [InlineData("t5-relu", "pytorch_model_legacy.bin")]
    [InlineData("t5-gated", "model.safetensors")]
    [InlineData("t5-gated", "pytorch_model.bin")]
    [InlineData("roberta-cls", "model.safetensors")]
    [InlineData("roberta-cls", "pytorch_model.bin")]
    [InlineData("roberta-cls", "pytorch_model_legacy.bin")]
    public void TheMinimumTensorCountIsExactForRealCheckpoints(string model, string file)
    {
        var config = PretrainedConfig.Load(Fixtures.PathOf(model));
        var names = CheckpointReader.TensorNames(Fixtures.PathOf(model, file));
        // Extra tensors a real file may carry: tied duplicates and buffers older transformers versions saved.
        var extra = names.Count(n => config.TiedWeights.ContainsKey(n) || config.IgnoredUnexpectedKeys.Contains(n));
        Assert.Equal(config.MinimumTensorCount, names.Count - extra);
    }

    // ---- numeric fields that give silent NaN ----

    [Theory]
    [InlineData("t5-relu", "layer_norm_epsilon", "0")]
    [InlineData("t5-relu", "layer_norm_epsilon", "-1e-06")]
    [InlineData("t5-relu", "layer_norm_epsilon", "1e400")]
    [InlineData("t5-relu", "initializer_factor", "-1")]
    [InlineData("roberta-cls", "layer_norm_eps", "0")]
    [InlineData("roberta-cls", "layer_norm_eps", "-1e-05")]
    [InlineData("roberta-cls", "layer_norm_eps", "1e999")]
    [InlineData("roberta-cls", "initializer_range", "-0.02")]
    public void NumericFieldsThatBreakTheModelAreRefusedNamingConfigAndField(string model, string field, string value)
    {
        var folder = Folder(model, c => c[field] = JsonNode.Parse(value));
        var e = Assert.Throws<InvalidDataException>(() => PretrainedConfig.Load(folder));
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains($"'{field}'", e.Message);
    }

    [Fact]
    public void BertConfigEpsilonIsCheckedToo()
    {
        const string json = """{"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "layer_norm_eps": 0.0}""";
        var e = Assert.Throws<InvalidDataException>(() => PretrainedConfig.FromJson(json, "bert/config.json"));
        Assert.Contains("bert/config.json", e.Message);
        Assert.Contains("'layer_norm_eps'", e.Message);
    }

    // ---- tied weights at odds ----

    [Fact]
    public void TiedLmHeadThatDiffersFromSharedIsAnErrorNamingBoth()
    {
        // t5-relu ties lm_head to shared; the checkpoint brings its own, different head.
        var folder = Folder("t5-relu", editWeights: sd => sd["lm_head.weight"] = sd["shared.weight"] + 0.5f);
        var e = Assert.Throws<CheckpointMismatchException>(() => AutoModel.T5FromPretrained(folder));
        var conflict = Assert.Single(e.TiedConflicts);
        Assert.Contains("lm_head.weight vs shared.weight", conflict);
        Assert.Contains("0.5", conflict);
        Assert.Contains("tie_word_embeddings", conflict);
        Assert.Contains("lm_head.weight vs shared.weight", e.Message);
        Assert.Empty(e.Missing);
        Assert.Empty(e.Unexpected);
    }

    [Fact]
    public void TiedLmHeadEqualToSharedLoads()
    {
        var folder = Folder("t5-relu", editWeights: sd => sd["lm_head.weight"] = sd["shared.weight"].clone());
        using var model = AutoModel.T5FromPretrained(folder);
        using var reference = AutoModel.T5FromPretrained(Fixtures.PathOf("t5-relu"));
        Assert.True(Same(model.shared.weight!, reference.shared.weight!));
    }

    [Fact]
    public void UntiedHeadMayDifferFromShared()
    {
        // t5-gated is untied: its lm_head.weight is its own and already differs from shared.weight.
        using var model = AutoModel.T5FromPretrained(Fixtures.PathOf("t5-gated"));
        Assert.False(Same(model.lm_head.weight!, model.shared.weight!));
    }

    // ---- keys ignored by design ----

    const string OldT5Key = "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight";

    [Fact]
    public void OldT5CheckpointWithCrossAttentionBiasLoads()
    {
        var folder = Folder("t5-relu", editWeights: sd => sd[OldT5Key] = torch.randn(32, 4));
        using var model = AutoModel.T5FromPretrained(folder);
        using var reference = AutoModel.T5FromPretrained(Fixtures.PathOf("t5-relu"));
        Assert.True(Same(model.shared.weight!, reference.shared.weight!));
    }

    [Fact]
    public void OtherUnexpectedKeysAreStillErrors()
    {
        foreach (var key in new[] { "decoder.block.1.layer.1.EncDecAttention.relative_attention_bias.weight", "encoder.position_ids", "extra.weight" })
        {
            var folder = Folder("t5-relu", editWeights: sd => sd[key] = torch.zeros(2, 2));
            var e = Assert.Throws<CheckpointMismatchException>(() => AutoModel.T5FromPretrained(folder));
            Assert.Contains(e.Unexpected, u => u.StartsWith(key + " "));
        }
        // The T5 key means nothing to RoBERTa.
        var roberta = Folder("roberta-cls", editWeights: sd => sd[OldT5Key] = torch.zeros(32, 4));
        Assert.Throws<CheckpointMismatchException>(() => AutoModel.SequenceClassifierFromPretrained(roberta));
    }

    [Fact]
    public void RobertaBuffersOlderTransformersSavedAreIgnored()
    {
        var folder = Folder("roberta-cls", editWeights: sd =>
        {
            sd["roberta.embeddings.position_ids"] = torch.arange(514).unsqueeze(0);
            sd["roberta.embeddings.token_type_ids"] = torch.zeros(1, 514, ScalarType.Int64);
        });
        var model = AutoModel.SequenceClassifierFromPretrained(folder);
        ((nn.Module)model).Dispose();
    }
}
