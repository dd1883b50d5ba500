using RlhfKit.Loading;
using System.Buffers.Binary;
using System.Text;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using RlhfKit.Tests.Tokenization;
using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Reliability;

/// <summary>One test per bug the fuzzer (<see cref="FuzzTests"/>) found, each on the smallest input that showed it.</summary>
public sealed class FuzzRegressionTests : IDisposable
{
    readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    string ModelFolder(string model, Func<string, string>? editConfig = null, string weights = "model.safetensors")
    {
        var folder = Path.Combine(_dir.Path, $"{model}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var config = File.ReadAllText(Fixtures.PathOf(model, "config.json"));
        File.WriteAllText(Path.Combine(folder, "config.json"), editConfig is null ? config : editConfig(config));
        File.Copy(Fixtures.PathOf(model, weights), Path.Combine(folder, weights == "pytorch_model_legacy.bin" ? "pytorch_model.bin" : weights));
        return folder;
    }

    static string Set(string json, string field, string value) =>
        System.Text.RegularExpressions.Regex.Replace(json, $"\"{field}\": [^,\\n]+", $"\"{field}\": {value}");

    /// <summary>System.IO.Compression reads a zip's central directory lazily and throws InvalidDataException without
    /// the file's name; the reader now names it.</summary>
    [Fact]
    public void DamagedZipDirectoryNamesTheFile()
    {
        var bytes = File.ReadAllBytes(Fixtures.PathOf("t5-relu", "pytorch_model.bin"));
        var eocd = bytes.AsSpan().LastIndexOf(new byte[] { (byte)'P', (byte)'K', 5, 6 });
        Assert.True(eocd > 0);
        foreach (var at in new[] { eocd + 8, eocd + 10 })
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at)) + 1));
        // ... and the fuzzer's own case: 10 bytes deleted inside a storage entry shift the central directory.
        var original = File.ReadAllBytes(Fixtures.PathOf("t5-relu", "pytorch_model.bin"));
        var shifted = original[..315334].Concat(original[315344..]).ToArray();
        foreach (var (name, damaged) in new[] { ("count.bin", bytes), ("shifted.bin", shifted) })
        {
            var path = _dir.Write(name, damaged);
            var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadStateDict(path));
            Assert.Contains(path, e.Message);
            Assert.Equal(path, CheckpointError.FileOf(e));
        }
    }

    /// <summary>A config.json holding an array threw ObjectDisposedException (the document was read after disposal).</summary>
    [Fact]
    public void ConfigThatIsNotAnObjectIsReported()
    {
        var path = _dir.Write("config.json", "[{\"model_type\": \"t5\"}]");
        var e = Assert.Throws<InvalidDataException>(() => PretrainedConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("Array", e.Message);
    }

    /// <summary>Values torch refuses when the model is built (dropout outside [0, 1], a padding id outside the
    /// vocabulary, too few positions) or that only failed at the first forward pass (an unknown activation) are
    /// refused when config.json is read, naming the file and the field.</summary>
    [Theory]
    [InlineData("roberta-cls", "hidden_dropout_prob", "-1", "hidden_dropout_prob")]
    [InlineData("roberta-cls", "attention_probs_dropout_prob", "1.5", "attention_probs_dropout_prob")]
    [InlineData("roberta-cls", "pad_token_id", "300", "pad_token_id")]
    [InlineData("roberta-cls", "max_position_embeddings", "3", "max_position_embeddings")]
    [InlineData("roberta-cls", "hidden_act", "\"gelx\"", "hidden_act")]
    [InlineData("t5-gated", "dropout_rate", "-0.5", "dropout_rate")]
    [InlineData("t5-gated", "eos_token_id", "512", "eos_token_id")]
    [InlineData("t5-gated", "decoder_start_token_id", "-1", "decoder_start_token_id")]
    [InlineData("t5-gated", "feed_forward_proj", "\"gated-foo\"", "feed_forward_proj")]
    public void ConfigValuesTheModelCannotUseAreRefusedAtLoad(string model, string field, string value, string mention)
    {
        var folder = ModelFolder(model, c => Set(c, field, value));
        var e = Assert.Throws<InvalidDataException>(() => PretrainedConfig.Load(folder));
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains(mention, e.Message);
    }

    /// <summary>The feed-forward honours the configured activation (it was always relu, or always tanh-GELU when gated).</summary>
    [Fact]
    public void T5FeedForwardUsesTheConfiguredActivation()
    {
        var relu = AutoModel.T5FromPretrained(ModelFolder("t5-relu"));
        var gelu = AutoModel.T5FromPretrained(ModelFolder("t5-relu", c => Set(c, "feed_forward_proj", "\"gelu\"")));
        using var ids = TorchSharp.torch.tensor(new long[] { 5, 6, 7, 1 }).unsqueeze(0);
        using var dec = TorchSharp.torch.tensor(new long[] { 0, 5 }).unsqueeze(0);
        using var a = relu.Forward(ids, decoderInputIds: dec);
        using var b = gelu.Forward(ids, decoderInputIds: dec);
        Assert.False(a.Logits.allclose(b.Logits));
    }

    /// <summary>A config whose sizes the weights cannot hold is refused before the model is allocated (a vocabulary
    /// of 2^31 tokens used to be attempted).</summary>
    [Theory]
    [InlineData("t5-gated", "d_ff", "2147483647")]
    [InlineData("t5-gated", "vocab_size", "1000000")]
    [InlineData("roberta-cls", "num_hidden_layers", "1000")] // (above 1,024 layers the config alone is refused: ModelLoadGuardTests)
    public void SizesTheWeightsCannotHoldAreRefusedBeforeAllocating(string model, string field, string value)
    {
        var folder = ModelFolder(model, c => Set(c, field, value));
        // Refused by the size check, which names the config and the weights, not by a later shape mismatch.
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            if (model.StartsWith("t5", StringComparison.Ordinal)) AutoModel.T5FromPretrained(folder);
            else AutoModel.SequenceClassifierFromPretrained(folder);
        });
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("the config and the weights disagree", e.Message);
    }

    /// <summary>extra_ids of 1e30 in tokenizer_config.json made the T5 tokenizer loop over 2^31 sentinels.</summary>
    [Theory]
    [InlineData("1e30")]
    [InlineData("2147483647")]
    [InlineData("-5")]
    public void AbsurdExtraIdsAreRefused(string value)
    {
        File.Copy(Fixtures.PathOf("spiece", "spiece.model"), _dir.File("spiece.model"));
        var config = _dir.Write("tokenizer_config.json", $"{{\"tokenizer_class\": \"T5Tokenizer\", \"extra_ids\": {value}}}");
        var e = Assert.Throws<InvalidDataException>(() => AutoTokenizer.FromPretrained(_dir.Path));
        Assert.Contains(config, e.Message);
        Assert.Contains("extra_ids", e.Message);
    }

    /// <summary>Invalid UTF-8 inside a JSON string threw InvalidOperationException when the string was read.</summary>
    [Fact]
    public void TokenizerJsonThatIsNotUtf8IsReported()
    {
        MiniLmVocab.WriteTo(_dir);
        var bytes = Encoding.UTF8.GetBytes("{\"tokenizer_class\": \"BertTokenizer\"}");
        bytes[22] = 0xC3; // a lead byte without its continuation, inside the string
        var config = _dir.Write("tokenizer_config.json", bytes);
        var e = Assert.Throws<InvalidDataException>(() => AutoTokenizer.FromPretrained(_dir.Path));
        Assert.Contains(config, e.Message);

        using var roberta = new TempFolder();
        var (vocab, merges) = TinyRoberta.WriteTo(roberta);
        var v = File.ReadAllBytes(vocab);
        v[3] = 0xFF;
        File.WriteAllBytes(vocab, v);
        Assert.Contains(vocab, Assert.Throws<InvalidDataException>(() => RobertaTokenizer.FromFiles(vocab, merges)).Message);
    }
}
