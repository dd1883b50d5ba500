using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfKit.Models;

/// <summary>A T5 / FLAN-T5 configuration (<c>model_type: "t5"</c>), with Hugging Face's field names and defaults.</summary>
public sealed record T5Config : PretrainedConfig
{
    public override string ModelType => "t5";

    /// <summary><c>vocab_size</c> (required).</summary>
    public required int VocabSize { get; init; }
    /// <summary><c>d_model</c> (required).</summary>
    public required int DModel { get; init; }
    /// <summary><c>d_kv</c>, the size of one attention head (required).</summary>
    public required int DKv { get; init; }
    /// <summary><c>d_ff</c> (required).</summary>
    public required int DFf { get; init; }
    /// <summary><c>num_layers</c>, encoder blocks (required).</summary>
    public required int NumLayers { get; init; }
    int? _numDecoderLayers;
    /// <summary><c>num_decoder_layers</c>, decoder blocks; <see cref="NumLayers"/> unless set (absent or null in JSON).</summary>
    public int NumDecoderLayers { get => _numDecoderLayers ?? NumLayers; init => _numDecoderLayers = value; }
    /// <summary><c>num_heads</c> (required).</summary>
    public required int NumHeads { get; init; }
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public double DropoutRate { get; init; } = 0.1;
    public double LayerNormEpsilon { get; init; } = 1e-6;
    public double InitializerFactor { get; init; } = 1.0;
    /// <summary><c>feed_forward_proj</c>: <c>ACT</c> or <c>gated-ACT</c>, e.g. <c>relu</c> (T5) or <c>gated-gelu</c> (T5 v1.1, FLAN-T5).</summary>
    public string FeedForwardProj { get; init; } = "relu";
    /// <summary>Whether the feed-forward is gated (<c>gated-*</c>): <c>wo(act(wi_0 x) * wi_1 x)</c>.</summary>
    public bool IsGatedAct => ParseProj(FeedForwardProj).Gated;
    /// <summary>The activation, as transformers derives it: the part after <c>gated-</c>, except that
    /// <c>gated-gelu</c> means <c>gelu_new</c> (tanh approximation).</summary>
    public string DenseActFn => ParseProj(FeedForwardProj).Act;
    public bool TieWordEmbeddings { get; init; } = true;
    public bool IsEncoderDecoder { get; init; } = true;
    public bool UseCache { get; init; } = true;
    public int PadTokenId { get; init; }
    public int EosTokenId { get; init; } = 1;
    int? _decoderStartTokenId;
    /// <summary><c>decoder_start_token_id</c>; <see cref="PadTokenId"/> unless set (T5 starts decoding with pad).</summary>
    public int DecoderStartTokenId { get => _decoderStartTokenId ?? PadTokenId; init => _decoderStartTokenId = value; }
    public double ClassifierDropout { get; init; }

    public T5Config() => Architectures = ["T5ForConditionalGeneration"];

    /// <summary>encoder/decoder token embeddings are always <c>shared.weight</c>; <c>lm_head.weight</c> too when
    /// <see cref="TieWordEmbeddings"/>.</summary>
    public override IReadOnlyDictionary<string, string> TiedWeights
    {
        get
        {
            var tied = new Dictionary<string, string>
            {
                ["encoder.embed_tokens.weight"] = "shared.weight",
                ["decoder.embed_tokens.weight"] = "shared.weight",
            };
            if (TieWordEmbeddings) tied["lm_head.weight"] = "shared.weight";
            return tied;
        }
    }

    /// <summary>transformers 4.36 <c>T5ForConditionalGeneration._keys_to_ignore_on_load_unexpected</c>: the decoder's
    /// cross-attention never had a relative position bias of its own, but old checkpoints saved one.</summary>
    public override IReadOnlyList<string> IgnoredUnexpectedKeys => ["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"];

    /// <summary>Per encoder block q, k, v, o, two layer norms and the feed-forward's wi (wi_0 and wi_1 when gated) and
    /// wo; per decoder block also the cross-attention's four and a third layer norm; the first block of each stack adds
    /// its relative attention bias; then shared.weight, two final layer norms and an untied lm_head.weight.</summary>
    public override long MinimumTensorCount
    {
        get
        {
            long ff = IsGatedAct ? 3 : 2;
            long encoder = NumLayers * (4 + 2 + ff) + 1;
            long decoder = NumDecoderLayers * (8 + 3 + ff) + 1;
            return encoder + decoder + 1 + 2 + (TieWordEmbeddings ? 0 : 1);
        }
    }

    public static new T5Config Load(string folderOrConfigPath) => Load<T5Config>(folderOrConfigPath);

    public static new T5Config FromJson(string json, string sourceName = "config.json") => FromJson<T5Config>(json, sourceName);

    internal static T5Config Parse(JsonDocument doc, string source)
    {
        var f = ConfigFields.Of(doc, source);
        f.RequiredString("model_type");
        // Derived from feed_forward_proj; read so they are not kept as extras (and re-derived on save).
        f.OptionalString("dense_act_fn");
        f.Has("is_gated_act");
        var proj = f.String("feed_forward_proj", "relu");
        try { ParseProj(proj); }
        catch (ArgumentException e) { throw new InvalidDataException($"config '{source}': {e.Message}"); }
        var config = new T5Config
        {
            Architectures = f.StringList("architectures"),
            VocabSize = f.RequiredInt("vocab_size"),
            DModel = f.RequiredInt("d_model"),
            DKv = f.RequiredInt("d_kv"),
            DFf = f.RequiredInt("d_ff"),
            NumLayers = f.RequiredInt("num_layers"),
            NumHeads = f.RequiredInt("num_heads"),
            RelativeAttentionNumBuckets = f.Int("relative_attention_num_buckets", 32),
            RelativeAttentionMaxDistance = f.Int("relative_attention_max_distance", 128),
            DropoutRate = f.Double("dropout_rate", 0.1),
            LayerNormEpsilon = f.Double("layer_norm_epsilon", 1e-6),
            InitializerFactor = f.Double("initializer_factor", 1.0),
            FeedForwardProj = proj,
            TieWordEmbeddings = f.Bool("tie_word_embeddings", true),
            IsEncoderDecoder = f.Bool("is_encoder_decoder", true),
            UseCache = f.Bool("use_cache", true),
            PadTokenId = f.Int("pad_token_id", 0),
            EosTokenId = f.Int("eos_token_id", 1),
            ClassifierDropout = f.Double("classifier_dropout", 0.0),
        };
        if (f.OptionalInt("num_decoder_layers") is { } decoderLayers) config = config with { NumDecoderLayers = decoderLayers };
        if (f.OptionalInt("decoder_start_token_id") is { } start) config = config with { DecoderStartTokenId = start };
        config = config with { Extra = f.Rest() };
        try { config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"config '{source}': {e.Message}"); }
        return config;
    }

    /// <summary>transformers' rule: <c>[gated-]ACT</c>; <c>gated-gelu</c> means <c>gelu_new</c>.</summary>
    static (bool Gated, string Act) ParseProj(string proj)
    {
        var parts = proj.Split('-');
        if (proj.Length == 0 || parts.Length > 2 || (parts.Length == 2 && parts[0] != "gated") || parts[^1].Length == 0)
            throw new ArgumentException($"feed_forward_proj '{proj}' is not a valid activation; use 'ACT' or 'gated-ACT', e.g. 'relu' or 'gated-gelu'");
        var gated = parts.Length == 2;
        return (gated, proj == "gated-gelu" ? "gelu_new" : parts[^1]);
    }

    private protected override void Validate()
    {
        void Positive(string name, int value) { if (value <= 0) throw new InvalidDataException($"field '{name}' must be positive, got {value}"); }
        Positive("vocab_size", VocabSize);
        Positive("d_model", DModel);
        Positive("d_kv", DKv);
        Positive("d_ff", DFf);
        Layers("num_layers", NumLayers);
        Layers("num_decoder_layers", NumDecoderLayers);
        Positive("num_heads", NumHeads);
        Positive("relative_attention_num_buckets", RelativeAttentionNumBuckets);
        Positive("relative_attention_max_distance", RelativeAttentionMaxDistance);
        Epsilon("layer_norm_epsilon", LayerNormEpsilon);
        Scale("initializer_factor", InitializerFactor);
        Probability("dropout_rate", DropoutRate);
        Probability("classifier_dropout", ClassifierDropout);
        try { ParseProj(FeedForwardProj); }
        catch (ArgumentException e) { throw new InvalidDataException(e.Message); }
        if (!Activations.IsKnown(DenseActFn))
            throw new InvalidDataException($"field 'feed_forward_proj' '{FeedForwardProj}' names the activation '{DenseActFn}', which the kit does not know (known: {string.Join(", ", Activations.Names)})");
        void TokenId(string name, int value)
        {
            if (value < 0 || value >= VocabSize) throw new InvalidDataException($"field '{name}' {value} is not an id of the vocabulary (vocab_size {VocabSize})");
        }
        TokenId("pad_token_id", PadTokenId);
        TokenId("eos_token_id", EosTokenId);
        TokenId("decoder_start_token_id", DecoderStartTokenId);
    }

    private protected override void WriteFields(IDictionary<string, JsonNode?> o)
    {
        o["vocab_size"] = VocabSize;
        o["d_model"] = DModel;
        o["d_kv"] = DKv;
        o["d_ff"] = DFf;
        o["num_layers"] = NumLayers;
        o["num_decoder_layers"] = NumDecoderLayers;
        o["num_heads"] = NumHeads;
        o["relative_attention_num_buckets"] = RelativeAttentionNumBuckets;
        o["relative_attention_max_distance"] = RelativeAttentionMaxDistance;
        o["dropout_rate"] = Float(DropoutRate);
        o["layer_norm_epsilon"] = Float(LayerNormEpsilon);
        o["initializer_factor"] = Float(InitializerFactor);
        o["feed_forward_proj"] = FeedForwardProj;
        o["dense_act_fn"] = DenseActFn;
        o["is_gated_act"] = IsGatedAct;
        o["tie_word_embeddings"] = TieWordEmbeddings;
        o["is_encoder_decoder"] = IsEncoderDecoder;
        o["use_cache"] = UseCache;
        o["pad_token_id"] = PadTokenId;
        o["eos_token_id"] = EosTokenId;
        o["decoder_start_token_id"] = DecoderStartTokenId;
        o["classifier_dropout"] = Float(ClassifierDropout);
    }
}
