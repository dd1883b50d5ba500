using RlhfKit.Common;
using RlhfKit.Loading;
using RlhfKit.Generation;
using RlhfKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Ppo;

#pragma warning disable IDE1006 // field names mirror TRL's state dict (v_head.summary.*)

/// <summary>TRL's value head: dropout, then a linear map from the decoder's last hidden state to one value per
/// position, computed in float32 even when the model runs in half precision. In an <see cref="Autocast"/> region its
/// product runs in the region's type from the float32 states, as torch.autocast does to <c>nn.Linear</c>.</summary>
public sealed class ValueHead : nn.Module<Tensor, Tensor>
{
    public readonly Dropout dropout;
    public readonly Linear summary;
    long? _dropoutSeed;
    Generator? _dropoutGenerator;

    public ValueHead(long hiddenSize, double dropoutProb = 0.1) : base(nameof(ValueHead))
    {
        dropout = nn.Dropout(dropoutProb);
        summary = nn.Linear(hiddenSize, 1);
        RegisterComponents();
    }

    /// <summary>From now on, draws the dropout masks of train mode from a generator of this head's own, seeded with
    /// <paramref name="seed"/>: the same masks for the same seed, whatever else in the process (another thread, a test
    /// running beside, a notebook cell) draws from torch's global generator meanwhile. Until this is called, the masks
    /// come from the global generator, as <c>nn.Dropout</c>'s do.</summary>
    public void SeedDropout(long seed)
    {
        _dropoutGenerator?.Dispose();
        _dropoutGenerator = null;
        _dropoutSeed = seed;
    }

    /// <summary>Re-draws the weights as <c>nn.Linear</c>'s default initialisation does (uniform in ±1/sqrt(hidden)),
    /// from a generator of its own seeded with <paramref name="seed"/>: the same head for the same seed, whatever else
    /// in the process (another thread, a notebook cell) draws from torch's global generator meanwhile.</summary>
    public void Initialize(long seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed));
        using var noGrad = no_grad();
        var weight = summary.weight!;
        var bias = summary.bias!;
        using var bound = (1.0 / Math.Sqrt(weight.shape[1])).ToScalar();
        foreach (var p in new[] { weight, bias })
            p.copy_((rand(p.shape, generator: generator) * Scalars.Two - Scalars.One) * bound); // uniform on [-bound, bound)
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var dropped = training && dropout.p > 0 && _dropoutSeed is not null ? SeededDropout(hidden) : dropout.forward(hidden);
        var x = dropped.to_type(summary.weight!.dtype);
        return Autocast.Linear(summary, x).squeeze(-1).to_type(float32).MoveToOuterDisposeScope();
    }

    /// <summary>torch's dropout, <c>x · m / (1 - p)</c> with <c>m ~ Bernoulli(1 - p)</c>, the mask drawn from the
    /// head's own generator on <paramref name="hidden"/>'s device.</summary>
    Tensor SeededDropout(Tensor hidden)
    {
        if (_dropoutGenerator is null || _dropoutGenerator.device.type != hidden.device.type || _dropoutGenerator.device.index != hidden.device.index)
        {
            _dropoutGenerator?.Dispose();
            _dropoutGenerator = new Generator(unchecked((ulong)_dropoutSeed!.Value), hidden.device);
        }
        double p = dropout.p;
        using var keep = (1 - p).ToScalar();
        var noise = empty_like(hidden).bernoulli_(1 - p, _dropoutGenerator).div_(keep); // torch: noise.bernoulli_(1 - p).div_(1 - p)
        return hidden * noise;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _dropoutGenerator?.Dispose(); _dropoutGenerator = null; }
        base.Dispose(disposing);
    }
}

/// <summary>Logits and values of a teacher-forced pass over responses.</summary>
public sealed class PolicyOutput : IDisposable
{
    /// <summary>[B, T, vocab]: next-token logits at each decoder position.</summary>
    public required Tensor Logits { get; init; }
    /// <summary>[B, T]: the value of each decoder state.</summary>
    public required Tensor Values { get; init; }

    public void Dispose() { Logits.Dispose(); Values.Dispose(); }
}

/// <summary>
/// The PPO policy: a T5 language model plus a value head on its decoder (TRL's
/// <c>AutoModelForSeq2SeqLMWithValueHead</c>; fields <c>pretrained_model</c> and <c>v_head</c> as there).
/// One forward pass gives both the logits and the values, so the encoder runs once for both.
/// </summary>
public sealed class Seq2SeqLMWithValueHead : nn.Module, ISeq2SeqLM
{
    public readonly T5ForConditionalGeneration pretrained_model;
    public readonly ValueHead v_head;

    public Seq2SeqLMWithValueHead(T5ForConditionalGeneration model, double summaryDropoutProb = 0.1) : base(nameof(Seq2SeqLMWithValueHead))
    {
        pretrained_model = model;
        v_head = new ValueHead(model.Config.DModel, summaryDropoutProb);
        RegisterComponents();
    }

    public T5Config Config => pretrained_model.Config;

    public PolicyOutput Forward(Tensor inputIds, Tensor attentionMask, Tensor decoderInputIds, Tensor? decoderAttentionMask = null)
    {
        using var scope = NewDisposeScope();
        var encoded = pretrained_model.Encode(inputIds, attentionMask);
        var decoded = pretrained_model.Decode(decoderInputIds, encoded, attentionMask, decoderAttentionMask);
        var logits = pretrained_model.LmLogits(decoded);
        var values = v_head.forward(decoded);
        return new PolicyOutput { Logits = logits.MoveToOuterDisposeScope(), Values = values.MoveToOuterDisposeScope() };
    }

    /// <summary>A frozen copy of the language model (no value head): eval mode, no gradients. PPO's KL penalty
    /// keeps the policy close to it.</summary>
    public T5ForConditionalGeneration CreateReferenceModel() => pretrained_model.FrozenCopy();

    /// <summary>File that holds the value head next to the Hugging Face files (transformers ignores it).</summary>
    public const string ValueHeadFile = "value_head.safetensors";

    /// <summary>
    /// The file TRL 0.7.1's <c>PreTrainedModelWrapper.from_pretrained</c> reads the value head from: it
    /// <c>torch.load</c>s <c>pytorch_model.bin</c> of the folder (or, when that is absent, the shards a
    /// <c>pytorch_model.bin.index.json</c> names for keys containing <c>v_head</c>), and takes the keys containing
    /// <c>v_head.</c> with that prefix removed. It does not look into safetensors files.
    /// </summary>
    public const string TrlValueHeadFile = "pytorch_model.bin";

    /// <summary>The prefix of the value head's keys in TRL's state dicts (<c>v_head.summary.weight</c>, <c>v_head.summary.bias</c>).</summary>
    public const string ValueHeadPrefix = "v_head.";

    /// <summary>
    /// Writes a Hugging Face folder that Python <c>transformers</c> loads as a T5 model (config.json +
    /// model.safetensors + <paramref name="extraFiles"/> such as spiece.model), with the value head in its own file
    /// (<see cref="ValueHeadFile"/>) and again where TRL 0.7.1 looks for it: <see cref="TrlValueHeadFile"/>, a PyTorch
    /// zip pickle holding only <c>v_head.summary.weight</c> and <c>v_head.summary.bias</c>. transformers prefers
    /// model.safetensors, so it never reads that small file as the model's weights; TRL's
    /// <c>AutoModelForSeq2SeqLMWithValueHead.from_pretrained(folder)</c> then continues with this value head.
    /// </summary>
    public void SavePretrained(string folder, IReadOnlyDictionary<string, byte[]>? extraFiles = null)
    {
        if (extraFiles is not null && extraFiles.Keys.Any(k => k is ValueHeadFile or TrlValueHeadFile))
            throw new ArgumentException($"extra files cannot be named {ValueHeadFile} or {TrlValueHeadFile}: the value head is written there", nameof(extraFiles));
        using var scope = NewDisposeScope();
        var cpu = pretrained_model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu());
        var head = v_head.state_dict().Select(kv => KeyValuePair.Create(ValueHeadPrefix + kv.Key, kv.Value.detach().cpu())).ToList();
        Directory.CreateDirectory(folder);
        Checkpoints.CheckpointWriter.SaveSafetensors(head.ToDictionary(), Path.Combine(folder, ValueHeadFile));
        Checkpoints.CheckpointWriter.SavePyTorch(head, Path.Combine(folder, TrlValueHeadFile));
        Loading.PretrainedFolder.Save(folder, Config, cpu, extraFiles);
    }

    /// <summary>
    /// Loads a policy saved by <see cref="SavePretrained"/>, a PPO checkpoint saved by TRL, or a plain T5 folder (the
    /// value head then starts fresh). The value head comes from the first of: <see cref="ValueHeadFile"/> (the kit's);
    /// <c>v_head.*</c> keys in the weights file the T5 is loaded from (TRL's <c>save_pretrained</c> writes them beside
    /// the T5's, in <c>pytorch_model.bin</c> or, with newer transformers, <c>model.safetensors</c>); <c>v_head.*</c>
    /// keys in <see cref="TrlValueHeadFile"/> or its shard index when the T5 came from another file.
    /// </summary>
    /// <exception cref="Checkpoints.CheckpointMismatchException">the value head found does not fit (names or shapes).</exception>
    public static Seq2SeqLMWithValueHead FromPretrained(string folder, Device? device = null)
    {
        var lm = AutoModel.T5FromPretrained(folder, ValueHeadPrefix, out var inWeights, out var weightsFile);
        var policy = new Seq2SeqLMWithValueHead(lm);
        try
        {
            var kitHead = Path.Combine(folder, ValueHeadFile);
            if (File.Exists(kitHead)) LoadValueHeadFrom(policy, kitHead);
            else if (inWeights.Count > 0) LoadValueHead(policy, inWeights, weightsFile);
            else if (TrlHeadFile(folder, weightsFile) is { } trlFile) LoadValueHeadFrom(policy, trlFile);
        }
        finally { foreach (var t in inWeights.Values) t.Dispose(); }
        if (device is not null && device.type != DeviceType.CPU) policy.to(device);
        return policy;
    }

    /// <summary>TRL's value-head file of the folder when it is not the file the T5 came from and holds <c>v_head.*</c> keys.</summary>
    static string? TrlHeadFile(string folder, string weightsFile)
    {
        foreach (var name in new[] { TrlValueHeadFile, TrlValueHeadFile + ".index.json" })
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path) || Path.GetFullPath(path) == Path.GetFullPath(weightsFile)) continue;
            if (Checkpoints.CheckpointReader.TensorNames(path).Any(k => k.StartsWith(ValueHeadPrefix, StringComparison.Ordinal))) return path;
        }
        return null;
    }

    static void LoadValueHeadFrom(Seq2SeqLMWithValueHead policy, string file)
    {
        var state = Checkpoints.CheckpointReader.ReadStateDict(file);
        try { LoadValueHead(policy, state, file); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    /// <summary>Loads the <c>v_head.*</c> keys of <paramref name="state"/> (or, in the kit's own file, keys without the
    /// prefix) strictly into the value head; other keys (the T5's, in a TRL file) are left alone.</summary>
    static void LoadValueHead(Seq2SeqLMWithValueHead policy, Dictionary<string, Tensor> state, string source)
    {
        var prefixed = state.Where(kv => kv.Key.StartsWith(ValueHeadPrefix, StringComparison.Ordinal)).ToList();
        var head = prefixed.Count > 0
            ? prefixed.ToDictionary(kv => kv.Key[ValueHeadPrefix.Length..], kv => kv.Value)
            : state;
        Checkpoints.StateDictLoader.LoadInto(policy.v_head, head, source);
    }

    int ISeq2SeqLM.DecoderStartTokenId => Config.DecoderStartTokenId;
    int ISeq2SeqLM.PadTokenId => Config.PadTokenId;
    int ISeq2SeqLM.EosTokenId => Config.EosTokenId;
    int ISeq2SeqLM.VocabSize => Config.VocabSize;
    public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, List<Tensor>? hiddenStates = null) => pretrained_model.Encode(inputIds, attentionMask, hiddenStates);
    public T5Cache NewCache(int capacity = 0) => pretrained_model.NewCache(capacity);
    IDecoderCache ISeq2SeqLM.NewCache(int capacity) => NewCache(capacity);
    Tensor ISeq2SeqLM.Step(Tensor newTokens, Tensor encoderStates, Tensor encoderAttentionMask, IDecoderCache cache) =>
        ((ISeq2SeqLM)pretrained_model).Step(newTokens, encoderStates, encoderAttentionMask, cache);
}
