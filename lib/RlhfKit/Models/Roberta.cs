// RoBERTa (Liu et al. 2019) as in transformers' modeling_roberta.py: BERT's blocks (Bert.cs) with positions counted
// from pad+1 and a two-layer classification head on the <s> token. Field names follow the Hugging Face state dict.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Models;

#pragma warning disable IDE1006 // field names mirror the Hugging Face state dict

/// <summary>dropout, dense, tanh, dropout, out_proj on the first token's state.</summary>
public sealed class RobertaClassificationHead : nn.Module<Tensor, Tensor>
{
    public readonly Linear dense, out_proj;
    public readonly Dropout dropout;

    internal RobertaClassificationHead(BertLikeConfig c) : base(nameof(RobertaClassificationHead))
    {
        dense = nn.Linear(c.HiddenSize, c.HiddenSize);
        dropout = nn.Dropout(c.ClassifierDropout ?? c.HiddenDropoutProb);
        out_proj = nn.Linear(c.HiddenSize, c.NumLabels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var x = dropout.forward(hidden[.., 0]);
        x = dropout.forward(tanh(Autocast.Linear(dense, x)));
        return Autocast.Linear(out_proj, x).MoveToOuterDisposeScope();
    }
}

/// <summary>The model behind <c>cardiffnlp/twitter-roberta-base-sentiment</c> and <c>textattack/roberta-base-CoLA</c>.</summary>
public sealed class RobertaForSequenceClassification : nn.Module, ISequenceClassifier
{
    public readonly BertModel roberta;
    public readonly RobertaClassificationHead classifier;
    readonly BertLikeConfig _config;

    public RobertaConfig Config { get; }

    public RobertaForSequenceClassification(RobertaConfig config) : base(nameof(RobertaForSequenceClassification))
    {
        Config = config;
        _config = config;
        roberta = new BertModel(_config, addPoolingLayer: false, robertaPositions: true);
        classifier = new RobertaClassificationHead(_config);
        RegisterComponents();
    }

    public IReadOnlyList<string> Id2Label => Config.Id2Label;
    public int PadTokenId => _config.PadTokenId;
    /// <summary>Positions start at pad+1, so 514 position embeddings hold 512 tokens.</summary>
    public int MaxTokens => _config.MaxPositionEmbeddings - _config.PadTokenId - 1;

    public SequenceClassifierOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? labels = null, bool outputHiddenStates = false)
    {
        using var scope = NewDisposeScope();
        var states = outputHiddenStates ? new List<Tensor>() : null;
        var hidden = roberta.Forward(inputIds, attentionMask, null, states);
        var logits = classifier.forward(hidden);
        return SequenceClassifierOutput.Create(logits, labels, _config.NumLabels, hidden, states);
    }
}
