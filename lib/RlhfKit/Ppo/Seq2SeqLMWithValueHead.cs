using RlhfKit.Loading;
using RlhfKit.Generation;
using RlhfKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Ppo;

#pragma warning disable IDE1006 // field names mirror TRL's state dict (v_head.summary.*)

/// <summary>TRL's value head: dropout, then a linear map from the decoder's last hidden state to one value per
/// position, computed in float32 even when the model runs in half precision.</summary>
public sealed class ValueHead : nn.Module<Tensor, Tensor>
{
    public readonly Dropout dropout;
    public readonly Linear summary;

    public ValueHead(long hiddenSize, double dropoutProb = 0.1) : base(nameof(ValueHead))
    {
        dropout = nn.Dropout(dropoutProb);
        summary = nn.Linear(hiddenSize, 1);
        RegisterComponents();
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
        var bound = 1.0 / Math.Sqrt(weight.shape[1]);
        foreach (var p in new[] { weight, bias })
            p.copy_((rand(p.shape, generator: generator) * 2 - 1) * bound);
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var x = dropout.forward(hidden).to_type(summary.weight!.dtype);
        return summary.forward(x).squeeze(-1).to_type(float32).MoveToOuterDisposeScope();
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
    public T5ForConditionalGeneration CreateReferenceModel()
    {
        var reference = new T5ForConditionalGeneration(Config);
        using (no_grad())
        {
            var source = pretrained_model.state_dict();
            foreach (var (name, target) in reference.state_dict()) target.copy_(source[name]);
        }
        foreach (var p in reference.parameters()) p.requires_grad = false;
        reference.eval();
        var device = pretrained_model.parameters().First().device;
        if (device.type != DeviceType.CPU) reference.to(device);
        return reference;
    }

    /// <summary>File that holds the value head next to the Hugging Face files (transformers ignores it).</summary>
    public const string ValueHeadFile = "value_head.safetensors";

    /// <summary>Writes a Hugging Face folder that Python <c>transformers</c> loads as a T5 model (config.json +
    /// model.safetensors + <paramref name="extraFiles"/> such as spiece.model), with the value head in its own file.</summary>
    public void SavePretrained(string folder, IReadOnlyDictionary<string, byte[]>? extraFiles = null)
    {
        using var scope = NewDisposeScope();
        var cpu = pretrained_model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu());
        Checkpoints.CheckpointWriter.SaveSafetensors(
            v_head.state_dict().ToDictionary(kv => "v_head." + kv.Key, kv => kv.Value.detach().cpu()), Path.Combine(folder, ValueHeadFile));
        Loading.PretrainedFolder.Save(folder, Config, cpu, extraFiles);
    }

    /// <summary>Loads a policy saved by <see cref="SavePretrained"/>, or a plain T5 folder (the value head then starts fresh).</summary>
    public static Seq2SeqLMWithValueHead FromPretrained(string folder, Device? device = null)
    {
        var lm = AutoModel.T5FromPretrained(folder);
        var policy = new Seq2SeqLMWithValueHead(lm);
        var head = Path.Combine(folder, ValueHeadFile);
        if (File.Exists(head))
        {
            var state = Checkpoints.CheckpointReader.ReadStateDict(head).ToDictionary(kv => kv.Key.StartsWith("v_head.") ? kv.Key["v_head.".Length..] : kv.Key, kv => kv.Value);
            Checkpoints.StateDictLoader.LoadInto(policy.v_head, state, head);
        }
        if (device is not null && device.type != DeviceType.CPU) policy.to(device);
        return policy;
    }

    int ISeq2SeqLM.DecoderStartTokenId => Config.DecoderStartTokenId;
    int ISeq2SeqLM.PadTokenId => Config.PadTokenId;
    int ISeq2SeqLM.EosTokenId => Config.EosTokenId;
    int ISeq2SeqLM.VocabSize => Config.VocabSize;
    public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, List<Tensor>? hiddenStates = null) => pretrained_model.Encode(inputIds, attentionMask, hiddenStates);
    public T5Cache NewCache() => pretrained_model.NewCache();
    IDecoderCache ISeq2SeqLM.NewCache() => NewCache();
    Tensor ISeq2SeqLM.Step(Tensor newTokens, Tensor encoderStates, Tensor encoderAttentionMask, IDecoderCache cache) =>
        ((ISeq2SeqLM)pretrained_model).Step(newTokens, encoderStates, encoderAttentionMask, cache);
}
