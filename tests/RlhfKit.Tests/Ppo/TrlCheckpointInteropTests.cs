using System.Text.Json;
using RlhfKit.Checkpoints;
using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Ppo;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

/// <summary>
/// PPO checkpoints both ways between the kit and TRL 0.7.1: the kit writes its value head where TRL's
/// <c>from_pretrained</c> finds it, and loads TRL's checkpoints (the T5 with <c>v_head.*</c> in the same file).
/// </summary>
public sealed class TrlCheckpointInteropTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rlhfkit-trl-interop-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>
    /// TRL 0.7.1's rule (<c>PreTrainedModelWrapper.from_pretrained</c> for a local folder, then
    /// <c>AutoModelForSeq2SeqLMWithValueHead.post_init</c>): <c>torch.load</c> the folder's <c>pytorch_model.bin</c>; when
    /// it is absent, a <c>pytorch_model.bin.index.json</c>'s shards holding keys that contain <c>v_head</c>; safetensors
    /// files are never looked at. Of the loaded keys, those containing <c>v_head.</c> lose that prefix and go into the
    /// value head with <c>strict=False</c>. Returns what the value head would receive (empty: "no v_head weight is
    /// found", a fresh head). The kit's reader stands in for <c>torch.load</c>.
    /// </summary>
    internal static Dictionary<string, Tensor> TrlValueHeadLookup(string folder)
    {
        var state = new Dictionary<string, Tensor>();
        var bin = Path.Combine(folder, "pytorch_model.bin");
        var index = Path.Combine(folder, "pytorch_model.bin.index.json");
        if (File.Exists(bin))
        {
            Assert.Equal(CheckpointFormat.PyTorchZip, CheckpointReader.DetectFormat(bin)); // what torch.save writes since 1.6
            state = CheckpointReader.ReadStateDict(bin);
        }
        else if (File.Exists(index))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            var shards = doc.RootElement.GetProperty("weight_map").EnumerateObject()
                .Where(p => p.Name.Contains("v_head", StringComparison.Ordinal)).Select(p => p.Value.GetString()!).ToHashSet();
            foreach (var shard in shards)
                foreach (var (k, v) in CheckpointReader.ReadStateDict(Path.Combine(folder, shard))) state[k] = v;
        }
        return state.Where(kv => kv.Key.Contains("v_head.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key.Replace("v_head.", "", StringComparison.Ordinal), kv => kv.Value);
    }

    static void AssertSameValueHead(ValueHead expected, ValueHead actual)
    {
        Assert.True(expected.summary.weight!.equal(actual.summary.weight!).all().item<bool>());
        Assert.True(expected.summary.bias!.equal(actual.summary.bias!).all().item<bool>());
    }

    [Fact]
    public void SavedPolicyPutsItsValueHeadWhereTrl071LooksForIt()
    {
        var policy = PpoTrainerTests.TinyPolicy(31);
        var folder = Path.Combine(_dir.FullName, "kit");
        policy.SavePretrained(folder);

        // The kit's own files stay, and transformers' rule still picks model.safetensors as the T5's weights.
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, Seq2SeqLMWithValueHead.ValueHeadFile)));
        Assert.Equal(Path.Combine(folder, "model.safetensors"), CheckpointReader.FindWeights(folder));

        var bin = Path.Combine(folder, Seq2SeqLMWithValueHead.TrlValueHeadFile);
        Assert.Equal(["v_head.summary.bias", "v_head.summary.weight"], CheckpointReader.TensorNames(bin).Order(StringComparer.Ordinal));
        var found = TrlValueHeadLookup(folder);
        Assert.Equal(["summary.bias", "summary.weight"], found.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(ScalarType.Float32, found["summary.weight"].dtype);
        Assert.Equal(policy.v_head.summary.weight!.shape, found["summary.weight"].shape);
        Assert.True(policy.v_head.summary.weight!.equal(found["summary.weight"]).all().item<bool>());
        Assert.True(policy.v_head.summary.bias!.equal(found["summary.bias"]).all().item<bool>());
    }

    [Fact]
    public void TheLookupRuleFindsNoValueHeadInAFolderWithSafetensorsOnly()
    {
        // The starting point, kept as a check of the rule itself: value_head.safetensors alone is invisible to TRL 0.7.1.
        var folder = Path.Combine(_dir.FullName, "old");
        PpoTrainerTests.TinyPolicy(32).SavePretrained(folder);
        File.Delete(Path.Combine(folder, Seq2SeqLMWithValueHead.TrlValueHeadFile));
        Assert.Empty(TrlValueHeadLookup(folder));
    }

    [Fact]
    public void KitCheckpointWithoutValueHeadSafetensorsLoadsTheHeadFromPytorchModelBin()
    {
        var policy = PpoTrainerTests.TinyPolicy(33);
        var folder = Path.Combine(_dir.FullName, "bin-only-head");
        policy.SavePretrained(folder);
        File.Delete(Path.Combine(folder, Seq2SeqLMWithValueHead.ValueHeadFile));
        var loaded = Seq2SeqLMWithValueHead.FromPretrained(folder);
        AssertSameValueHead(policy.v_head, loaded.v_head);
    }

    /// <summary>A TRL-saved PPO folder: the T5 fixture's weights and a value head in one state dict.</summary>
    string TrlFolder(string name, bool safetensors, out Tensor weight, out Tensor bias)
    {
        var folder = Path.Combine(_dir.FullName, name);
        Directory.CreateDirectory(folder);
        File.Copy(Fixtures.PathOf("t5-gated", "config.json"), Path.Combine(folder, "config.json"));
        var state = CheckpointReader.ReadStateDict(Fixtures.PathOf("t5-gated", "pytorch_model.bin"));
        var dModel = T5Config.Load(folder).DModel;
        weight = linspace(-0.5, 0.5, dModel).reshape(1, dModel);
        bias = tensor(new[] { 0.25f });
        state["v_head.summary.weight"] = weight;
        state["v_head.summary.bias"] = bias;
        if (safetensors)
        {
            var tied = T5Config.Load(folder).TiedWeights.Keys.Where(state.ContainsKey);
            CheckpointWriter.SaveSafetensors(state, Path.Combine(folder, "model.safetensors"), dropKeys: tied);
        }
        else CheckpointWriter.SavePyTorch(state, Path.Combine(folder, "pytorch_model.bin"));
        return folder;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void KitLoadsATrlPpoCheckpointWithItsValueHead(bool safetensors)
    {
        // TRL 0.7.1 saves through transformers' save_pretrained: pytorch_model.bin, or model.safetensors with transformers >= 4.35.
        var folder = TrlFolder(safetensors ? "trl-safetensors" : "trl-bin", safetensors, out var weight, out var bias);
        var policy = Seq2SeqLMWithValueHead.FromPretrained(folder);
        policy.eval();
        Assert.True(policy.v_head.summary.weight!.equal(weight).all().item<bool>());
        Assert.True(policy.v_head.summary.bias!.equal(bias).all().item<bool>());

        // The T5 is the fixture's, number for number.
        var reference = AutoModel.T5FromPretrained(Fixtures.PathOf("t5-gated"));
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 6, 7, 1 }).unsqueeze(0);
        var dec = tensor(new long[] { 0, 9, 10 }).unsqueeze(0);
        using var output = policy.Forward(ids, ones_like(ids), dec);
        Assert.True(reference.Forward(ids, ones_like(ids), dec).Logits.equal(output.Logits).all().item<bool>());
    }

    [Fact]
    public void AValueHeadOfTheWrongWidthInATrlCheckpointIsRefusedByName()
    {
        var folder = TrlFolder("trl-bad-head", safetensors: false, out _, out _);
        var state = CheckpointReader.ReadStateDict(Path.Combine(folder, "pytorch_model.bin"));
        state["v_head.summary.weight"] = zeros(1, 3);
        CheckpointWriter.SavePyTorch(state, Path.Combine(folder, "pytorch_model.bin"));
        var e = Assert.Throws<CheckpointMismatchException>(() => Seq2SeqLMWithValueHead.FromPretrained(folder));
        Assert.Contains("summary.weight", e.Message);
        Assert.Contains("pytorch_model.bin", e.Message);
    }
}
