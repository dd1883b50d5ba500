// T5 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer"),
// as in Hugging Face transformers' modeling_t5.py: pre-norm blocks with an RMS layer norm, no biases, unscaled
// dot-product attention with a learned relative position bias shared by all layers of a stack, and either a ReLU
// (T5 v1.0) or gated-GELU (T5 v1.1 / FLAN-T5) feed-forward. Field names follow the Hugging Face state dict.
// Every linear layer runs through Autocast.Linear: bfloat16 products inside an Autocast region, plain otherwise.
using RlhfKit.Common;
using RlhfKit.Generation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RlhfKit.Models;

#pragma warning disable IDE1006 // field names mirror the Hugging Face state dict

/// <summary>Root mean square layer norm: no mean subtraction and no bias (T5 section 2.1).</summary>
public sealed class T5LayerNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly Scalar _eps; // held by the module: see Common/Scalars

    public T5LayerNorm(long hiddenSize, double eps) : base(nameof(T5LayerNorm))
    {
        weight = nn.Parameter(ones(hiddenSize));
        _eps = eps.ToScalar();
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        // Variance in at least float32: half-precision inputs are widened, as transformers does (float64 stays float64).
        var wide = hidden.dtype == float16 || hidden.dtype == bfloat16 ? hidden.to_type(float32) : hidden;
        var variance = wide.Square().mean([-1], keepdim: true);
        var normed = hidden * rsqrt(variance.add(_eps, Scalars.One));
        if (weight.dtype == float16 || weight.dtype == bfloat16) normed = normed.to_type(weight.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}

/// <summary>Feed-forward of T5 v1.0: wo(act(wi(x))), act = relu for T5 (the config's <c>feed_forward_proj</c>).</summary>
public sealed class T5DenseActDense : nn.Module<Tensor, Tensor>
{
    public readonly Linear wi, wo;
    public readonly Dropout dropout;
    readonly string _act;

    public T5DenseActDense(T5Config c) : base(nameof(T5DenseActDense))
    {
        wi = nn.Linear(c.DModel, c.DFf, hasBias: false);
        wo = nn.Linear(c.DFf, c.DModel, hasBias: false);
        dropout = nn.Dropout(c.DropoutRate);
        _act = c.DenseActFn;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var pre = Autocast.Linear(wi, x);
        using var h = Activations.Apply(_act, pre);
        using var d = dropout.forward(h);
        return Autocast.Linear(wo, d);
    }
}

/// <summary>Gated feed-forward of T5 v1.1 and FLAN-T5: wo(act(wi_0(x)) * wi_1(x)), act = gelu_new (tanh GELU) for gated-gelu.</summary>
public sealed class T5DenseGatedActDense : nn.Module<Tensor, Tensor>
{
    public readonly Linear wi_0, wi_1, wo;
    public readonly Dropout dropout;
    readonly string _act;

    public T5DenseGatedActDense(T5Config c) : base(nameof(T5DenseGatedActDense))
    {
        wi_0 = nn.Linear(c.DModel, c.DFf, hasBias: false);
        wi_1 = nn.Linear(c.DModel, c.DFf, hasBias: false);
        wo = nn.Linear(c.DFf, c.DModel, hasBias: false);
        dropout = nn.Dropout(c.DropoutRate);
        _act = c.DenseActFn;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gate = Activations.Apply(_act, Autocast.Linear(wi_0, x));
        var h = dropout.forward(gate * Autocast.Linear(wi_1, x));
        return Autocast.Linear(wo, h).MoveToOuterDisposeScope();
    }
}

/// <summary>x + dropout(FF(norm(x))).</summary>
public sealed class T5LayerFF : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> DenseReluDense;
    public readonly T5LayerNorm layer_norm;
    public readonly Dropout dropout;

    public T5LayerFF(T5Config c) : base(nameof(T5LayerFF))
    {
        DenseReluDense = c.IsGatedAct ? new T5DenseGatedActDense(c) : new T5DenseActDense(c);
        layer_norm = new T5LayerNorm(c.DModel, c.LayerNormEpsilon);
        dropout = nn.Dropout(c.DropoutRate);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var ff = DenseReluDense.forward(layer_norm.forward(hidden));
        return hidden.Plus(dropout.forward(ff)).MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head attention without the 1/sqrt(d) scaling (T5 folds it into the initialisation).
/// The layer that owns <c>relative_attention_bias</c> computes the position bias that the stack then shares.</summary>
public sealed class T5Attention : nn.Module
{
    public readonly Linear q, k, v, o;
    public readonly Embedding? relative_attention_bias;
    readonly int _heads, _dKv, _buckets, _maxDistance;
    readonly Scalar _sqrtDKv; // the query's factor below, held by the module (Common/Scalars)
    readonly bool _isDecoder;
    readonly double _dropout;

    public T5Attention(T5Config c, bool isDecoder, bool hasRelativeAttentionBias) : base(nameof(T5Attention))
    {
        _heads = c.NumHeads; _dKv = c.DKv; _isDecoder = isDecoder; _dropout = c.DropoutRate;
        _sqrtDKv = Math.Sqrt(_dKv).ToScalar();
        _buckets = c.RelativeAttentionNumBuckets; _maxDistance = c.RelativeAttentionMaxDistance;
        long inner = (long)c.NumHeads * c.DKv; // need not equal d_model
        q = nn.Linear(c.DModel, inner, hasBias: false);
        k = nn.Linear(c.DModel, inner, hasBias: false);
        v = nn.Linear(c.DModel, inner, hasBias: false);
        o = nn.Linear(inner, c.DModel, hasBias: false);
        if (hasRelativeAttentionBias) relative_attention_bias = nn.Embedding(_buckets, _heads);
        RegisterComponents();
    }

    /// <summary>Maps signed distances (key - query) to bucket ids: exact for small distances, logarithmic up to
    /// <paramref name="maxDistance"/>, then one shared bucket. Bidirectional buckets also encode the sign.</summary>
    public static Tensor RelativePositionBucket(Tensor relativePosition, bool bidirectional, int numBuckets, int maxDistance)
    {
        using var scope = NewDisposeScope();
        var buckets = zeros_like(relativePosition);
        Tensor distance;
        if (bidirectional)
        {
            numBuckets /= 2;
            using var offset = numBuckets.ToScalar();
            buckets = buckets.Plus(relativePosition.gt(Scalars.Zero).to_type(int64) * offset);
            distance = relativePosition.abs();
        }
        else
        {
            distance = -minimum(relativePosition, zeros_like(relativePosition)); // only the past is visible
        }
        int maxExact = numBuckets / 2;
        using Scalar exact = maxExact.ToScalar(), logRange = Math.Log((double)maxDistance / maxExact).ToScalar(),
            logBuckets = (numBuckets - maxExact).ToScalar(), last = (numBuckets - 1).ToScalar();
        var isSmall = distance.lt(exact);
        // maxExact + (log(distance / maxExact) / log(maxDistance / maxExact) · (numBuckets - maxExact)) as int64
        var large = (log(distance.to_type(float32) / exact) / logRange * logBuckets).to_type(int64).add(exact, Scalars.One);
        large = minimum(large, full_like(large, last));
        return buckets.Plus(where(isSmall, distance, large)).MoveToOuterDisposeScope();
    }

    /// <summary>Bias of shape [1, heads, queryLength, keyLength] for queries at positions
    /// <paramref name="queryOffset"/>.. and keys at 0..keyLength-1.</summary>
    public Tensor ComputeBias(long queryLength, long keyLength, long queryOffset, Device device)
    {
        if (relative_attention_bias is null)
            throw new InvalidOperationException("This attention layer has no relative_attention_bias; the stack's first layer computes the bias.");
        using var scope = NewDisposeScope();
        using Scalar from = queryOffset.ToScalar(), to = (queryOffset + queryLength).ToScalar(), keys = keyLength.ToScalar();
        var context = arange(from, to, Scalars.One, dtype: int64, device: device).unsqueeze(1);
        var memory = arange(Scalars.Zero, keys, Scalars.One, dtype: int64, device: device).unsqueeze(0);
        var bucket = RelativePositionBucket(memory - context, bidirectional: !_isDecoder, _buckets, _maxDistance);
        var values = relative_attention_bias.forward(bucket);          // [q, k, heads]
        return values.permute(2, 0, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    Tensor Shape(Tensor x) => x.view(x.shape[0], -1, _heads, _dKv).transpose(1, 2); // [B, H, T, dKv]

    /// <summary>Attention of <paramref name="hidden"/> over itself (keyValueStates null) or over encoder states.
    /// <paramref name="positionBias"/> already contains the additive mask. With a cache, self-attention appends
    /// the new keys/values and cross-attention computes its keys/values once.</summary>
    public Tensor Forward(Tensor hidden, Tensor positionBias, Tensor? keyValueStates = null, T5LayerCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var query = Shape(Autocast.Linear(q, hidden));
        Tensor key, value;
        if (keyValueStates is null)
        {
            key = Shape(Autocast.Linear(k, hidden));
            value = Shape(Autocast.Linear(v, hidden));
            if (cache is not null) (key, value) = cache.AppendSelf(key, value);
        }
        else if (cache?.CrossKey is not null)
        {
            (key, value) = (cache.CrossKey, cache.CrossValue!);
        }
        else
        {
            key = Shape(Autocast.Linear(k, keyValueStates));
            value = Shape(Autocast.Linear(v, keyValueStates));
            cache?.SetCross(key, value);
        }

        // softmax(q·kᵀ + bias)·v in one fused libtorch call (faster, and no [B, H, q, k] weights kept for backward).
        // T5 does not scale the scores; the kernel divides by sqrt(d_kv), so the query is multiplied by it first
        // (TorchSharp 0.107 has no `scale` argument). The bias still gets its gradient (AttentionGradientTests).
        var attended = F.scaled_dot_product_attention(query * _sqrtDKv, key, value, attn_mask: positionBias, p: training ? _dropout : 0);
        var context = attended.transpose(1, 2).contiguous().view(hidden.shape[0], -1, (long)_heads * _dKv);
        return Autocast.Linear(o, context).MoveToOuterDisposeScope();
    }
}

/// <summary>x + dropout(SelfAttention(norm(x))).</summary>
public sealed class T5LayerSelfAttention : nn.Module
{
    public readonly T5Attention SelfAttention;
    public readonly T5LayerNorm layer_norm;
    public readonly Dropout dropout;

    public T5LayerSelfAttention(T5Config c, bool isDecoder, bool hasRelativeAttentionBias) : base(nameof(T5LayerSelfAttention))
    {
        SelfAttention = new T5Attention(c, isDecoder, hasRelativeAttentionBias);
        layer_norm = new T5LayerNorm(c.DModel, c.LayerNormEpsilon);
        dropout = nn.Dropout(c.DropoutRate);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor positionBias, T5LayerCache? cache)
    {
        using var scope = NewDisposeScope();
        var attended = SelfAttention.Forward(layer_norm.forward(hidden), positionBias, null, cache);
        return hidden.Plus(dropout.forward(attended)).MoveToOuterDisposeScope();
    }
}

/// <summary>x + dropout(EncDecAttention(norm(x), encoder states)).</summary>
public sealed class T5LayerCrossAttention : nn.Module
{
    public readonly T5Attention EncDecAttention;
    public readonly T5LayerNorm layer_norm;
    public readonly Dropout dropout;

    public T5LayerCrossAttention(T5Config c) : base(nameof(T5LayerCrossAttention))
    {
        EncDecAttention = new T5Attention(c, isDecoder: true, hasRelativeAttentionBias: false);
        layer_norm = new T5LayerNorm(c.DModel, c.LayerNormEpsilon);
        dropout = nn.Dropout(c.DropoutRate);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor encoderStates, Tensor crossBias, T5LayerCache? cache)
    {
        using var scope = NewDisposeScope();
        var attended = EncDecAttention.Forward(layer_norm.forward(hidden), crossBias, encoderStates, cache);
        return hidden.Plus(dropout.forward(attended)).MoveToOuterDisposeScope();
    }
}

/// <summary>One block: self-attention, cross-attention (decoder only), feed-forward, held in <c>layer</c> as in HF.</summary>
public sealed class T5Block : nn.Module
{
    public readonly ModuleList<nn.Module> layer;
    readonly bool _isDecoder;

    public T5Block(T5Config c, bool isDecoder, bool hasRelativeAttentionBias) : base(nameof(T5Block))
    {
        _isDecoder = isDecoder;
        layer = new ModuleList<nn.Module>();
        layer.Add(new T5LayerSelfAttention(c, isDecoder, hasRelativeAttentionBias));
        if (isDecoder) layer.Add(new T5LayerCrossAttention(c));
        layer.Add(new T5LayerFF(c));
        RegisterComponents();
    }

    internal T5Attention SelfAttention => ((T5LayerSelfAttention)layer[0]).SelfAttention;

    public Tensor Forward(Tensor hidden, Tensor selfBias, Tensor? encoderStates, Tensor? crossBias, T5LayerCache? cache)
    {
        using var scope = NewDisposeScope();
        hidden = ((T5LayerSelfAttention)layer[0]).Forward(hidden, selfBias, cache);
        if (_isDecoder) hidden = ((T5LayerCrossAttention)layer[1]).Forward(hidden, encoderStates!, crossBias!, cache);
        hidden = ((T5LayerFF)layer[^1]).forward(hidden);
        return hidden.MoveToOuterDisposeScope();
    }
}

/// <summary>An encoder or decoder: embeddings, blocks, final norm. The first block's self-attention owns the
/// relative position bias; every block reuses it.</summary>
public sealed class T5Stack : nn.Module
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<T5Block> block;
    public readonly T5LayerNorm final_layer_norm;
    public readonly Dropout dropout;
    readonly bool _isDecoder;

    public T5Stack(T5Config c, Embedding sharedEmbedding, bool isDecoder) : base(nameof(T5Stack))
    {
        _isDecoder = isDecoder;
        embed_tokens = sharedEmbedding;
        int depth = isDecoder ? c.NumDecoderLayers : c.NumLayers;
        block = new ModuleList<T5Block>();
        for (int i = 0; i < depth; i++) block.Add(new T5Block(c, isDecoder, hasRelativeAttentionBias: i == 0));
        final_layer_norm = new T5LayerNorm(c.DModel, c.LayerNormEpsilon);
        dropout = nn.Dropout(c.DropoutRate);
        RegisterComponents();
    }

    /// <summary>Runs the stack. Masks are 1 for real tokens, 0 for padding. For the decoder, a cache makes
    /// <paramref name="inputIds"/> the new tokens only; their positions continue after the cached ones.</summary>
    /// <param name="hiddenStates">When not null, receives the embedding output and each block's input, then the
    /// final normed output, as transformers' <c>output_hidden_states</c>.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? encoderStates = null,
        Tensor? encoderAttentionMask = null, T5Cache? cache = null, List<Tensor>? hiddenStates = null)
    {
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0], length = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        var device = inputIds.device;

        var hidden = dropout.forward(embed_tokens.forward(inputIds));

        // Self-attention bias: relative positions plus padding mask (and causal mask in the decoder). While decoding
        // with a cache and no decoder mask, it is the same matrix at every step: computed once, then sliced.
        Tensor selfBias;
        if (_isDecoder && cache is not null && attentionMask is null)
        {
            if (cache.CausalBias is null || cache.CausalBias.shape[2] < past + length)
            {
                long n = Math.Max(past + length, Math.Max(cache.Capacity, 2 * (cache.CausalBias?.shape[2] ?? 0)));
                cache.SetCausalBias(SelfBias(1, n, 0, null, hidden.dtype, device));
            }
            selfBias = cache.CausalBias!.narrow(2, past, length).narrow(3, 0, past + length);
        }
        else selfBias = SelfBias(batch, length, past, attentionMask, hidden.dtype, device);

        Tensor? crossBias = null;
        if (_isDecoder)
        {
            if (encoderStates is null) throw new ArgumentException("The decoder needs encoder hidden states.", nameof(encoderStates));
            crossBias = cache?.CrossBias ?? CrossBias(encoderStates, encoderAttentionMask, hidden.dtype);
            if (cache is not null && cache.CrossBias is null) cache.SetCrossBias(crossBias);
        }

        for (int i = 0; i < block.Count; i++)
        {
            hiddenStates?.Add(hidden.MoveToOuterDisposeScope());
            hidden = block[i].Forward(hidden, selfBias, encoderStates, crossBias, cache?.Layers[i]);
        }
        hidden = dropout.forward(final_layer_norm.forward(hidden));
        hiddenStates?.Add(hidden.MoveToOuterDisposeScope());
        cache?.Advance(length);
        return hidden.MoveToOuterDisposeScope();
    }

    /// <summary>Relative position bias of queries <paramref name="past"/>.. over keys 0..past+length-1, plus the
    /// additive mask: padding (1 = real token) and, in the decoder, causal. [batch or 1, H, length, past + length].</summary>
    Tensor SelfBias(long batch, long length, long past, Tensor? attentionMask, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var bias = block[0].SelfAttention.ComputeBias(length, past + length, past, device).to_type(dtype);
        var keyMask = (attentionMask ?? ones(batch, past + length, dtype: int64, device: device)).view(batch, 1, 1, past + length);
        if (_isDecoder)
        {
            using Scalar from = past.ToScalar(), to = (past + length).ToScalar();
            var queryPos = arange(from, to, Scalars.One, dtype: int64, device: device).unsqueeze(1);
            var keyPos = arange(Scalars.Zero, to, Scalars.One, dtype: int64, device: device).unsqueeze(0);
            keyMask = keyMask * (keyPos <= queryPos).to_type(int64).view(1, 1, length, past + length); // causal
        }
        var additive = AttentionMask.Additive(keyMask, dtype);
        return bias.Plus(additive).MoveToOuterDisposeScope();
    }

    /// <summary>The encoder's padding as an additive mask [B, 1, 1, source]; no position bias across.</summary>
    static Tensor CrossBias(Tensor encoderStates, Tensor? encoderAttentionMask, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long batch = encoderStates.shape[0], sourceLength = encoderStates.shape[1];
        var sourceMask = encoderAttentionMask ?? ones(batch, sourceLength, dtype: int64, device: encoderStates.device);
        return AttentionMask.Additive(sourceMask, dtype).view(batch, 1, 1, sourceLength).MoveToOuterDisposeScope();
    }
}

/// <summary>Outputs of a T5 forward pass. Owns its tensors: dispose it (or move what you keep).</summary>
public sealed class Seq2SeqLMOutput : IDisposable
{
    public required Tensor Logits { get; init; }
    public Tensor? Loss { get; init; }
    public required Tensor EncoderLastHiddenState { get; init; }
    public required Tensor DecoderLastHiddenState { get; init; }
    public IReadOnlyList<Tensor>? EncoderHiddenStates { get; init; }
    public IReadOnlyList<Tensor>? DecoderHiddenStates { get; init; }

    public void Dispose()
    {
        Logits.Dispose(); Loss?.Dispose(); EncoderLastHiddenState.Dispose(); DecoderLastHiddenState.Dispose();
        foreach (var t in EncoderHiddenStates ?? []) t.Dispose();
        foreach (var t in DecoderHiddenStates ?? []) t.Dispose();
    }
}

/// <summary>T5 with a language-modelling head, the model behind <c>google/flan-t5-*</c> and <c>t5-*</c>.</summary>
public sealed class T5ForConditionalGeneration : nn.Module, ISeq2SeqLM
{
    public readonly Embedding shared;
    public readonly T5Stack encoder, decoder;
    public readonly Linear lm_head;

    public T5Config Config { get; }

    public T5ForConditionalGeneration(T5Config config) : base(nameof(T5ForConditionalGeneration))
    {
        Config = config;
        shared = nn.Embedding(config.VocabSize, config.DModel);
        encoder = new T5Stack(config, shared, isDecoder: false);
        decoder = new T5Stack(config, shared, isDecoder: true);
        lm_head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);
        if (config.TieWordEmbeddings) lm_head.weight = shared.weight!;
        RegisterComponents();
    }

    /// <summary>State-dict keys that checkpoints may leave out because they alias <c>shared.weight</c>.</summary>
    public IReadOnlyDictionary<string, string> TiedWeights => Config.TieWordEmbeddings
        ? new Dictionary<string, string> { ["encoder.embed_tokens.weight"] = "shared.weight", ["decoder.embed_tokens.weight"] = "shared.weight", ["lm_head.weight"] = "shared.weight" }
        : new Dictionary<string, string> { ["encoder.embed_tokens.weight"] = "shared.weight", ["decoder.embed_tokens.weight"] = "shared.weight" };

    public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null, List<Tensor>? hiddenStates = null) =>
        encoder.Forward(inputIds, attentionMask, hiddenStates: hiddenStates);

    /// <summary>Decoder hidden states (after the final norm) for <paramref name="decoderInputIds"/>.</summary>
    public Tensor Decode(Tensor decoderInputIds, Tensor encoderStates, Tensor? encoderAttentionMask,
        Tensor? decoderAttentionMask = null, T5Cache? cache = null, List<Tensor>? hiddenStates = null) =>
        decoder.Forward(decoderInputIds, decoderAttentionMask, encoderStates, encoderAttentionMask, cache, hiddenStates);

    /// <summary>Vocabulary logits from decoder hidden states; tied models rescale by d_model^-0.5 first (T5 v1.0).</summary>
    public Tensor LmLogits(Tensor decoderStates)
    {
        if (!Config.TieWordEmbeddings) return Autocast.Linear(lm_head, decoderStates);
        using var factor = Math.Pow(Config.DModel, -0.5).ToScalar();
        using var scaled = decoderStates * factor;
        return Autocast.Linear(lm_head, scaled);
    }

    /// <summary>Teacher-forced forward pass. With <paramref name="labels"/> (-100 = ignore) and no decoder inputs,
    /// the decoder inputs are the labels shifted right, and the mean cross-entropy is returned as <c>Loss</c>.</summary>
    public Seq2SeqLMOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? decoderInputIds = null,
        Tensor? labels = null, Tensor? decoderAttentionMask = null, bool outputHiddenStates = false, Tensor? encoderOutputs = null)
    {
        using var scope = NewDisposeScope();
        var encoderStates = outputHiddenStates ? new List<Tensor>() : null;
        var decoderStates = outputHiddenStates ? new List<Tensor>() : null;
        var encoded = encoderOutputs?.alias() ?? Encode(inputIds, attentionMask, encoderStates);
        if (decoderInputIds is null)
        {
            if (labels is null) throw new ArgumentException("Pass decoderInputIds or labels.");
            decoderInputIds = ShiftRight(labels);
        }
        var decoded = Decode(decoderInputIds, encoded, attentionMask, decoderAttentionMask, null, decoderStates);
        var logits = LmLogits(decoded);
        Tensor? loss = labels is null ? null
            : F.cross_entropy(logits.view(-1, logits.shape[^1]).to_type(float32), labels.view(-1), ignore_index: -100);
        return new Seq2SeqLMOutput
        {
            Logits = logits.MoveToOuterDisposeScope(),
            Loss = loss?.MoveToOuterDisposeScope(),
            EncoderLastHiddenState = encoded.MoveToOuterDisposeScope(),
            DecoderLastHiddenState = decoded.MoveToOuterDisposeScope(),
            EncoderHiddenStates = encoderStates?.Select(t => t.MoveToOuterDisposeScope()).ToList(),
            DecoderHiddenStates = decoderStates?.Select(t => t.MoveToOuterDisposeScope()).ToList(),
        };
    }

    /// <summary>Decoder inputs for teacher forcing: labels shifted one step right behind the decoder start token,
    /// with -100 replaced by the pad token.</summary>
    public Tensor ShiftRight(Tensor labels)
    {
        using var scope = NewDisposeScope();
        using Scalar startId = Config.DecoderStartTokenId.ToScalar(), padId = Config.PadTokenId.ToScalar();
        var start = full(labels.shape[0], 1, startId, dtype: int64, device: labels.device);
        var shifted = cat([start, labels[.., ..^1]], 1);
        return shifted.masked_fill(shifted.eq(Scalars.IgnoreIndex), padId).MoveToOuterDisposeScope();
    }

    /// <summary>A decoding cache with room for <paramref name="capacity"/> decoder positions (0: grown as needed).</summary>
    public T5Cache NewCache(int capacity = 0) => new(decoder.block.Count, capacity);

    /// <summary>A frozen copy of this model's weights on its device: eval mode, no gradients. The reference that PPO's KL
    /// penalty and DPO's log-ratios measure the policy against.</summary>
    public T5ForConditionalGeneration FrozenCopy()
    {
        var copy = new T5ForConditionalGeneration(Config);
        using (no_grad())
        {
            var source = state_dict();
            foreach (var (name, target) in copy.state_dict()) target.copy_(source[name]);
        }
        foreach (var p in copy.parameters()) p.requires_grad = false;
        copy.eval();
        var device = parameters().First().device;
        if (device.type != DeviceType.CPU) copy.to(device);
        return copy;
    }

    int ISeq2SeqLM.DecoderStartTokenId => Config.DecoderStartTokenId;
    int ISeq2SeqLM.PadTokenId => Config.PadTokenId;
    int ISeq2SeqLM.EosTokenId => Config.EosTokenId;
    int ISeq2SeqLM.VocabSize => Config.VocabSize;

    IDecoderCache ISeq2SeqLM.NewCache(int capacity) => NewCache(capacity);

    Tensor ISeq2SeqLM.Step(Tensor newTokens, Tensor encoderStates, Tensor encoderAttentionMask, IDecoderCache cache)
    {
        using var scope = NewDisposeScope();
        var decoded = Decode(newTokens, encoderStates, encoderAttentionMask, null, cache as T5Cache
            ?? throw new ArgumentException($"T5 decodes with the T5Cache its NewCache() made, not a {cache.GetType().Name}.", nameof(cache)));
        return LmLogits(decoded[.., ^1..]).squeeze(1).MoveToOuterDisposeScope();
    }
}
