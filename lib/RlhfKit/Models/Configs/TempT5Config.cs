namespace RlhfKit.Models;
// TEMPORARY until the configs land.
public sealed record T5Config
{
    public int VocabSize { get; init; }
    public int DModel { get; init; }
    public int DKv { get; init; }
    public int DFf { get; init; }
    public int NumLayers { get; init; }
    public int NumDecoderLayers { get; init; }
    public int NumHeads { get; init; }
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public double DropoutRate { get; init; } = 0.1;
    public double LayerNormEpsilon { get; init; } = 1e-6;
    public string FeedForwardProj { get; init; } = "relu";
    public bool IsGatedAct => FeedForwardProj.StartsWith("gated-");
    public bool TieWordEmbeddings { get; init; } = true;
    public int PadTokenId { get; init; }
    public int EosTokenId { get; init; } = 1;
    public int DecoderStartTokenId { get; init; }
    public static T5Config FromJsonFile(string path)
    {
        var j = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        int I(string n) => j.GetProperty(n).GetInt32();
        return new T5Config { VocabSize = I("vocab_size"), DModel = I("d_model"), DKv = I("d_kv"), DFf = I("d_ff"), NumLayers = I("num_layers"),
            NumDecoderLayers = I("num_decoder_layers"), NumHeads = I("num_heads"), RelativeAttentionNumBuckets = I("relative_attention_num_buckets"),
            RelativeAttentionMaxDistance = I("relative_attention_max_distance"), DropoutRate = j.GetProperty("dropout_rate").GetDouble(),
            LayerNormEpsilon = j.GetProperty("layer_norm_epsilon").GetDouble(), FeedForwardProj = j.GetProperty("feed_forward_proj").GetString()!,
            TieWordEmbeddings = !j.TryGetProperty("tie_word_embeddings", out var tie) || tie.GetBoolean(), PadTokenId = I("pad_token_id"), EosTokenId = I("eos_token_id"), DecoderStartTokenId = I("decoder_start_token_id") };
    }
}
