namespace RlhfKit.Models;
// TEMPORARY until the configs land.
public record BertConfig
{
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int IntermediateSize { get; init; }
    public string HiddenAct { get; init; } = "gelu";
    public int MaxPositionEmbeddings { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public double LayerNormEps { get; init; } = 1e-12;
    public int PadTokenId { get; init; }
    public double HiddenDropoutProb { get; init; } = 0.1;
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    public double? ClassifierDropout { get; init; }
    public IReadOnlyList<string> Id2Label { get; init; } = ["LABEL_0", "LABEL_1"];
    internal EncoderDims ToDims() => new(VocabSize, HiddenSize, NumHiddenLayers, NumAttentionHeads, IntermediateSize, HiddenAct, MaxPositionEmbeddings,
        TypeVocabSize, LayerNormEps, PadTokenId, HiddenDropoutProb, AttentionProbsDropoutProb, ClassifierDropout, Id2Label.Count);
    public static T FromJsonFile<T>(string path) where T : BertConfig, new()
    {
        var j = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        int I(string n) => j.GetProperty(n).GetInt32();
        var labels = j.TryGetProperty("id2label", out var l) ? l.EnumerateObject().OrderBy(p => int.Parse(p.Name)).Select(p => p.Value.GetString()!).ToList() : ["LABEL_0", "LABEL_1"];
        return new T { VocabSize = I("vocab_size"), HiddenSize = I("hidden_size"), NumHiddenLayers = I("num_hidden_layers"), NumAttentionHeads = I("num_attention_heads"),
            IntermediateSize = I("intermediate_size"), HiddenAct = j.GetProperty("hidden_act").GetString()!, MaxPositionEmbeddings = I("max_position_embeddings"),
            TypeVocabSize = I("type_vocab_size"), LayerNormEps = j.GetProperty("layer_norm_eps").GetDouble(), PadTokenId = I("pad_token_id"), Id2Label = labels };
    }
}
public sealed record RobertaConfig : BertConfig;
