// BERT (Devlin et al. 2019) as in transformers' modeling_bert.py: post-norm encoder blocks with scaled dot-product
// attention, learned absolute positions and token types. RoBERTa reuses these blocks (Roberta.cs). Field names
// follow the Hugging Face state dict. Every linear layer runs through Autocast.Linear (bfloat16 products inside an
// Autocast region, plain otherwise).
using RlhfKit.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RlhfKit.Models;

#pragma warning disable IDE1006 // field names mirror the Hugging Face state dict

/// <summary>Word + position + token-type embeddings, then LayerNorm. RoBERTa numbers positions from pad+1 and skips padding.</summary>
public sealed class BertEmbeddings : nn.Module
{
    public readonly Embedding word_embeddings, position_embeddings, token_type_embeddings;
    public readonly LayerNorm LayerNorm;
    public readonly Dropout dropout;
    readonly bool _robertaPositions;
    readonly int _padTokenId;

    internal BertEmbeddings(BertLikeConfig c, bool robertaPositions) : base(nameof(BertEmbeddings))
    {
        word_embeddings = nn.Embedding(c.VocabSize, c.HiddenSize);
        position_embeddings = nn.Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        token_type_embeddings = nn.Embedding(c.TypeVocabSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropout = nn.Dropout(c.HiddenDropoutProb);
        _robertaPositions = robertaPositions;
        _padTokenId = c.PadTokenId;
        RegisterComponents();
    }

    /// <summary>RoBERTa's positions: pad+1, pad+2, ... over real tokens; padding keeps position pad.</summary>
    public Tensor PositionIds(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        if (!_robertaPositions)
        {
            using var length = inputIds.shape[1].ToScalar();
            return arange(Scalars.Zero, length, Scalars.One, dtype: int64, device: inputIds.device).unsqueeze(0).expand_as(inputIds).MoveToOuterDisposeScope();
        }
        using var pad = _padTokenId.ToScalar();
        var real = inputIds.ne(pad).to_type(int64);
        return (real.cumsum(1) * real).add(pad, Scalars.One).MoveToOuterDisposeScope();
    }

    public Tensor Forward(Tensor inputIds, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var positions = PositionIds(inputIds);
        var types = tokenTypeIds ?? zeros_like(inputIds);
        var sum = word_embeddings.forward(inputIds).Plus(position_embeddings.forward(positions)).Plus(token_type_embeddings.forward(types));
        return dropout.forward(LayerNorm.forward(sum)).MoveToOuterDisposeScope();
    }
}

public sealed class BertSelfAttention : nn.Module
{
    public readonly Linear query, key, value;
    public readonly Dropout dropout;
    readonly int _heads, _headSize;

    internal BertSelfAttention(BertLikeConfig c) : base(nameof(BertSelfAttention))
    {
        if (c.HiddenSize % c.NumAttentionHeads != 0)
            throw new ArgumentException($"hidden_size {c.HiddenSize} is not a multiple of num_attention_heads {c.NumAttentionHeads}.");
        _heads = c.NumAttentionHeads; _headSize = c.HiddenSize / c.NumAttentionHeads;
        query = nn.Linear(c.HiddenSize, c.HiddenSize);
        key = nn.Linear(c.HiddenSize, c.HiddenSize);
        value = nn.Linear(c.HiddenSize, c.HiddenSize);
        dropout = nn.Dropout(c.AttentionProbsDropoutProb);
        RegisterComponents();
    }

    Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, _headSize).transpose(1, 2);

    public Tensor Forward(Tensor hidden, Tensor additiveMask)
    {
        using var scope = NewDisposeScope();
        var q = Heads(Autocast.Linear(query, hidden));
        var k = Heads(Autocast.Linear(key, hidden));
        var v = Heads(Autocast.Linear(value, hidden));
        // softmax(q·kᵀ / sqrt(d) + mask)·v, fused by libtorch (reward scoring 1.1-1.25x faster; docs/performance.md).
        var attn = F.scaled_dot_product_attention(q, k, v, attn_mask: additiveMask, p: training ? dropout.p : 0);
        var context = attn.transpose(1, 2).contiguous().view(hidden.shape[0], hidden.shape[1], (long)_heads * _headSize);
        return context.MoveToOuterDisposeScope();
    }
}

/// <summary>dense, dropout, then LayerNorm of the residual sum (post-norm).</summary>
public sealed class BertResidualOutput : nn.Module
{
    public readonly Linear dense;
    public readonly LayerNorm LayerNorm;
    public readonly Dropout dropout;

    internal BertResidualOutput(long inputSize, BertLikeConfig c) : base(nameof(BertResidualOutput))
    {
        dense = nn.Linear(inputSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropout = nn.Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor residual)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(dropout.forward(Autocast.Linear(dense, hidden)).Plus(residual)).MoveToOuterDisposeScope();
    }
}

public sealed class BertAttention : nn.Module
{
    public readonly BertSelfAttention self;
    public readonly BertResidualOutput output;

    internal BertAttention(BertLikeConfig c) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(c);
        output = new BertResidualOutput(c.HiddenSize, c);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor additiveMask)
    {
        using var attended = self.Forward(hidden, additiveMask);
        return output.Forward(attended, hidden);
    }
}

public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    public readonly Linear dense;
    readonly string _act;

    internal BertIntermediate(BertLikeConfig c) : base(nameof(BertIntermediate))
    {
        dense = nn.Linear(c.HiddenSize, c.IntermediateSize);
        _act = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var h = Autocast.Linear(dense, x);
        return Activations.Apply(_act, h);
    }
}

/// <summary>One encoder block: attention, then the feed-forward (intermediate + output), each post-normed.</summary>
public sealed class BertLayer : nn.Module
{
    public readonly BertAttention attention;
    public readonly BertIntermediate intermediate;
    public readonly BertResidualOutput output;

    internal BertLayer(BertLikeConfig c) : base(nameof(BertLayer))
    {
        attention = new BertAttention(c);
        intermediate = new BertIntermediate(c);
        output = new BertResidualOutput(c.IntermediateSize, c);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor additiveMask)
    {
        using var scope = NewDisposeScope();
        var attended = attention.Forward(hidden, additiveMask);
        return output.Forward(intermediate.forward(attended), attended).MoveToOuterDisposeScope();
    }
}

public sealed class BertEncoder : nn.Module
{
    public readonly ModuleList<BertLayer> layer;

    internal BertEncoder(BertLikeConfig c) : base(nameof(BertEncoder))
    {
        layer = new ModuleList<BertLayer>();
        for (int i = 0; i < c.NumHiddenLayers; i++) layer.Add(new BertLayer(c));
        RegisterComponents();
    }
}

/// <summary>tanh(dense(first token)): BERT's sentence representation for classification.</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    public readonly Linear dense;

    internal BertPooler(BertLikeConfig c) : base(nameof(BertPooler))
    {
        dense = nn.Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var first = hidden[.., 0];
        using var d = Autocast.Linear(dense, first);
        return tanh(d);
    }
}

/// <summary>The bare encoder (BertModel / RobertaModel): embeddings, blocks, optional pooler.</summary>
public sealed class BertModel : nn.Module
{
    public readonly BertEmbeddings embeddings;
    public readonly BertEncoder encoder;
    public readonly BertPooler? pooler;

    internal BertModel(BertLikeConfig c, bool addPoolingLayer, bool robertaPositions) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(c, robertaPositions);
        encoder = new BertEncoder(c);
        if (addPoolingLayer) pooler = new BertPooler(c);
        RegisterComponents();
    }

    /// <summary>Last hidden state [B, T, H]. <paramref name="hiddenStates"/>, when given, receives the embedding
    /// output and each block's output, as transformers' <c>output_hidden_states</c>.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null, List<Tensor>? hiddenStates = null)
    {
        using var scope = NewDisposeScope();
        var hidden = embeddings.Forward(inputIds, tokenTypeIds);
        var mask = attentionMask ?? ones_like(inputIds);
        var additive = AttentionMask.Additive(mask, hidden.dtype).view(inputIds.shape[0], 1, 1, inputIds.shape[1]);
        hiddenStates?.Add(hidden.MoveToOuterDisposeScope());
        foreach (var block in encoder.layer)
        {
            hidden = block.Forward(hidden, additive);
            hiddenStates?.Add(hidden.MoveToOuterDisposeScope());
        }
        return hidden.MoveToOuterDisposeScope();
    }
}

/// <summary>Logits and (optionally) hidden states of a sequence classifier. Owns its tensors.</summary>
public sealed class SequenceClassifierOutput : IDisposable
{
    public required Tensor Logits { get; init; }
    public Tensor? Loss { get; init; }
    public required Tensor LastHiddenState { get; init; }
    public IReadOnlyList<Tensor>? HiddenStates { get; init; }

    /// <summary>Computes the loss when labels are given (transformers' rule without problem_type: MSE for one label,
    /// else cross-entropy) and moves everything out of the caller's dispose scope.</summary>
    internal static SequenceClassifierOutput Create(Tensor logits, Tensor? labels, int numLabels, Tensor hidden, List<Tensor>? states)
    {
        Tensor? loss = labels is null ? null : numLabels == 1
            ? F.mse_loss(logits.squeeze(-1), labels.to_type(logits.dtype))
            : F.cross_entropy(logits.view(-1, numLabels), labels.view(-1));
        return new SequenceClassifierOutput
        {
            Logits = logits.MoveToOuterDisposeScope(),
            Loss = loss?.MoveToOuterDisposeScope(),
            LastHiddenState = hidden.MoveToOuterDisposeScope(),
            HiddenStates = states?.Select(s => s.MoveToOuterDisposeScope()).ToList(),
        };
    }

    public void Dispose()
    {
        Logits.Dispose(); Loss?.Dispose(); LastHiddenState.Dispose();
        foreach (var t in HiddenStates ?? []) t.Dispose();
    }
}

/// <summary>A text classifier: what the reward pipeline needs from BERT- and RoBERTa-style models.</summary>
public interface ISequenceClassifier
{
    IReadOnlyList<string> Id2Label { get; }
    int PadTokenId { get; }
    /// <summary>The longest input in tokens, specials included.</summary>
    int MaxTokens { get; }
    SequenceClassifierOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null, bool outputHiddenStates = false);
}

/// <summary>BERT with a pooler and a linear classifier (transformers' BertForSequenceClassification).</summary>
public sealed class BertForSequenceClassification : nn.Module, ISequenceClassifier
{
    public readonly BertModel bert;
    public readonly Dropout dropout;
    public readonly Linear classifier;
    readonly BertLikeConfig _config;

    public BertConfig Config { get; }

    public BertForSequenceClassification(BertConfig config) : base(nameof(BertForSequenceClassification))
    {
        Config = config;
        _config = config;
        bert = new BertModel(_config, addPoolingLayer: true, robertaPositions: false);
        dropout = nn.Dropout(_config.ClassifierDropout ?? _config.HiddenDropoutProb);
        classifier = nn.Linear(_config.HiddenSize, _config.NumLabels);
        RegisterComponents();
    }

    public IReadOnlyList<string> Id2Label => Config.Id2Label;
    public int PadTokenId => _config.PadTokenId;
    public int MaxTokens => _config.MaxPositionEmbeddings;

    public SequenceClassifierOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null, bool outputHiddenStates = false)
    {
        using var scope = NewDisposeScope();
        var states = outputHiddenStates ? new List<Tensor>() : null;
        var hidden = bert.Forward(inputIds, attentionMask, null, states);
        var logits = Autocast.Linear(classifier, dropout.forward(bert.pooler!.forward(hidden)));
        return SequenceClassifierOutput.Create(logits, labels, _config.NumLabels, hidden, states);
    }
}
