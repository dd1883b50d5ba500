using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfKit.Models;

/// <summary>The fields BERT and RoBERTa share (Hugging Face names and defaults), including the sequence-classification
/// labels.</summary>
public abstract record BertLikeConfig : PretrainedConfig
{
    /// <summary><c>vocab_size</c> (required).</summary>
    public required int VocabSize { get; init; }
    /// <summary><c>hidden_size</c> (required).</summary>
    public required int HiddenSize { get; init; }
    /// <summary><c>num_hidden_layers</c> (required).</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary><c>num_attention_heads</c> (required).</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary><c>intermediate_size</c> (required).</summary>
    public required int IntermediateSize { get; init; }
    public string HiddenAct { get; init; } = "gelu";
    public double HiddenDropoutProb { get; init; } = 0.1;
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public double InitializerRange { get; init; } = 0.02;
    public double LayerNormEps { get; init; } = 1e-12;
    public abstract int PadTokenId { get; init; }
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public string PositionEmbeddingType { get; init; } = "absolute";
    public bool UseCache { get; init; } = true;
    /// <summary><c>classifier_dropout</c>; null means <see cref="HiddenDropoutProb"/> is used.</summary>
    public double? ClassifierDropout { get; init; }
    /// <summary>Labels ordered by id (<c>id2label</c>); <c>LABEL_0..LABEL_{n-1}</c> from <c>num_labels</c> (default 2) when absent.</summary>
    public IReadOnlyList<string> Id2Label { get; init; } = ["LABEL_0", "LABEL_1"];
    public int NumLabels => Id2Label.Count;
    /// <summary><c>problem_type</c>: null, <c>regression</c>, <c>single_label_classification</c> or <c>multi_label_classification</c>.</summary>
    public string? ProblemType { get; init; }

    static readonly string[] ProblemTypes = ["regression", "single_label_classification", "multi_label_classification"];

    /// <summary>The state-dict prefix of the encoder (<c>roberta</c>, <c>bert</c>).</summary>
    private protected abstract string BasePrefix { get; }

    /// <summary>transformers 4.36 keeps <c>embeddings.position_ids</c> and <c>embeddings.token_type_ids</c> as
    /// non-persistent buffers and drops them from a checkpoint's unexpected keys; older versions saved them.</summary>
    public override IReadOnlyList<string> IgnoredUnexpectedKeys =>
        [$"{BasePrefix}.embeddings.position_ids", $"{BasePrefix}.embeddings.token_type_ids"];

    /// <summary>Per layer the query, key, value and three dense layers with their biases and two layer norms (16
    /// tensors); the embeddings' three tables and layer norm (5); a two-layer head (4: RoBERTa's dense and out_proj,
    /// BERT's pooler and classifier).</summary>
    public override long MinimumTensorCount => 16L * NumHiddenLayers + 5 + 4;

    private protected static T ParseCommon<T>(JsonDocument doc, string source, Func<ConfigFields, T> create) where T : BertLikeConfig
    {
        var f = ConfigFields.Of(doc, source);
        f.RequiredString("model_type");
        BertLikeConfig config = (BertLikeConfig)create(f) with
        {
            Architectures = f.StringList("architectures"),
            HiddenAct = f.String("hidden_act", "gelu"),
            HiddenDropoutProb = f.Double("hidden_dropout_prob", 0.1),
            AttentionProbsDropoutProb = f.Double("attention_probs_dropout_prob", 0.1),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", 512),
            TypeVocabSize = f.Int("type_vocab_size", 2),
            InitializerRange = f.Double("initializer_range", 0.02),
            LayerNormEps = f.Double("layer_norm_eps", 1e-12),
            PositionEmbeddingType = f.String("position_embedding_type", "absolute"),
            UseCache = f.Bool("use_cache", true),
            ClassifierDropout = f.OptionalDouble("classifier_dropout"),
            Id2Label = f.Labels(),
            ProblemType = f.OptionalString("problem_type"),
        };
        config = config with { Extra = f.Rest() };
        try { config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"config '{source}': {e.Message}"); }
        return (T)config;
    }

    private protected static (int Vocab, int Hidden, int Layers, int Heads, int Intermediate) Required(ConfigFields f) =>
        (f.RequiredInt("vocab_size"), f.RequiredInt("hidden_size"), f.RequiredInt("num_hidden_layers"),
         f.RequiredInt("num_attention_heads"), f.RequiredInt("intermediate_size"));

    private protected override void Validate()
    {
        void Positive(string name, int value) { if (value <= 0) throw new InvalidDataException($"field '{name}' must be positive, got {value}"); }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Layers("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("intermediate_size", IntermediateSize);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        Positive("type_vocab_size", TypeVocabSize);
        Epsilon("layer_norm_eps", LayerNormEps);
        Scale("initializer_range", InitializerRange);
        Probability("hidden_dropout_prob", HiddenDropoutProb);
        Probability("attention_probs_dropout_prob", AttentionProbsDropoutProb);
        if (ClassifierDropout is { } classifierDropout) Probability("classifier_dropout", classifierDropout);
        if (PadTokenId < 0 || PadTokenId >= VocabSize)
            throw new InvalidDataException($"field 'pad_token_id' {PadTokenId} is not an id of the vocabulary (vocab_size {VocabSize})");
        if (!Activations.IsKnown(HiddenAct))
            throw new InvalidDataException($"field 'hidden_act' '{HiddenAct}' is not an activation the kit knows (known: {string.Join(", ", Activations.Names)})");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        if (Id2Label.Count == 0) throw new InvalidDataException("id2label must hold at least one label");
        if (ProblemType is not null && !ProblemTypes.Contains(ProblemType))
            throw new InvalidDataException($"problem_type '{ProblemType}' is not one of {string.Join(", ", ProblemTypes)}");
    }

    private protected override void WriteFields(IDictionary<string, JsonNode?> o)
    {
        o["vocab_size"] = VocabSize;
        o["hidden_size"] = HiddenSize;
        o["num_hidden_layers"] = NumHiddenLayers;
        o["num_attention_heads"] = NumAttentionHeads;
        o["intermediate_size"] = IntermediateSize;
        o["hidden_act"] = HiddenAct;
        o["hidden_dropout_prob"] = Float(HiddenDropoutProb);
        o["attention_probs_dropout_prob"] = Float(AttentionProbsDropoutProb);
        o["max_position_embeddings"] = MaxPositionEmbeddings;
        o["type_vocab_size"] = TypeVocabSize;
        o["initializer_range"] = Float(InitializerRange);
        o["layer_norm_eps"] = Float(LayerNormEps);
        o["pad_token_id"] = PadTokenId;
        o["bos_token_id"] = BosTokenId;
        o["eos_token_id"] = EosTokenId;
        o["position_embedding_type"] = PositionEmbeddingType;
        o["use_cache"] = UseCache;
        o["classifier_dropout"] = Float(ClassifierDropout);
        o["id2label"] = Labels(Id2Label, byId: true);
        o["label2id"] = Labels(Id2Label, byId: false);
        o["problem_type"] = ProblemType;
    }
}

/// <summary>A RoBERTa configuration (<c>model_type: "roberta"</c>); pad 1, bos 0, eos 2 by default.</summary>
public sealed record RobertaConfig : BertLikeConfig
{
    public override string ModelType => "roberta";
    public override int PadTokenId { get; init; } = 1;
    private protected override string BasePrefix => "roberta";

    public RobertaConfig()
    {
        Architectures = ["RobertaForSequenceClassification"];
        BosTokenId = 0;
        EosTokenId = 2;
    }

    public static new RobertaConfig Load(string folderOrConfigPath) => Load<RobertaConfig>(folderOrConfigPath);

    private protected override void Validate()
    {
        base.Validate();
        // Positions start at pad + 1: the table must hold at least <s> and </s> after them.
        if (MaxPositionEmbeddings - PadTokenId - 1 < 2)
            throw new InvalidDataException($"field 'max_position_embeddings' {MaxPositionEmbeddings} leaves no room for a sequence: RoBERTa's positions start at pad_token_id + 1 = {PadTokenId + 1}");
    }

    public static new RobertaConfig FromJson(string json, string sourceName = "config.json") => FromJson<RobertaConfig>(json, sourceName);

    internal static RobertaConfig Parse(JsonDocument doc, string source) => ParseCommon(doc, source, f =>
    {
        var r = Required(f);
        return new RobertaConfig
        {
            VocabSize = r.Vocab, HiddenSize = r.Hidden, NumHiddenLayers = r.Layers, NumAttentionHeads = r.Heads, IntermediateSize = r.Intermediate,
            PadTokenId = f.Int("pad_token_id", 1),
            BosTokenId = f.Has("bos_token_id") ? f.OptionalInt("bos_token_id") : 0,
            EosTokenId = f.Has("eos_token_id") ? f.OptionalInt("eos_token_id") : 2,
        };
    });
}

/// <summary>A BERT configuration (<c>model_type: "bert"</c>); pad 0 by default.</summary>
public sealed record BertConfig : BertLikeConfig
{
    public override string ModelType => "bert";
    public override int PadTokenId { get; init; }
    private protected override string BasePrefix => "bert";

    public BertConfig() => Architectures = ["BertForSequenceClassification"];

    public static new BertConfig Load(string folderOrConfigPath) => Load<BertConfig>(folderOrConfigPath);

    public static new BertConfig FromJson(string json, string sourceName = "config.json") => FromJson<BertConfig>(json, sourceName);

    internal static BertConfig Parse(JsonDocument doc, string source) => ParseCommon(doc, source, f =>
    {
        var r = Required(f);
        return new BertConfig
        {
            VocabSize = r.Vocab, HiddenSize = r.Hidden, NumHiddenLayers = r.Layers, NumAttentionHeads = r.Heads, IntermediateSize = r.Intermediate,
            PadTokenId = f.Int("pad_token_id", 0),
            BosTokenId = f.OptionalInt("bos_token_id"),
            EosTokenId = f.OptionalInt("eos_token_id"),
        };
    });
}
