using RlhfKit.Checkpoints;
using RlhfKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Loading;

/// <summary>Loads models from Hugging Face folders (config.json + weights), strictly: every tensor must match.</summary>
public static class AutoModel
{
    /// <summary>Why T5 is not run in float16.</summary>
    public const string T5Float16Refused = "T5 in float16 is refused: its gated feed-forward overflows float16 (transformers clamps T5's activations in float16, the kit does not), and the summaries come out as NaN or garbage. Use bfloat16, which has float32's range.";

    /// <summary>A T5 language model from a folder holding config.json and model.safetensors or pytorch_model.bin.</summary>
    public static T5ForConditionalGeneration T5FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        T5FromPretrained(folder, extraPrefix: null, out _, out _, device, dtype);

    /// <summary>
    /// A T5 language model from a folder whose weights file may also hold tensors of a wrapper around it (TRL saves its
    /// value head as <c>v_head.*</c> in the same file): checkpoint keys starting with <paramref name="extraPrefix"/> are
    /// taken out before the strict load and handed back in <paramref name="extras"/> (the caller disposes them), with
    /// <paramref name="weightsFile"/> naming the file they came from. Every other key must match as usual.
    /// </summary>
    internal static T5ForConditionalGeneration T5FromPretrained(string folder, string? extraPrefix, out Dictionary<string, Tensor> extras,
        out string weightsFile, Device? device = null, ScalarType? dtype = null)
    {
        if (dtype == ScalarType.Float16)
            throw new ArgumentException($"{Path.Combine(folder, "config.json")}: {T5Float16Refused}", nameof(dtype));
        var config = T5Config.Load(folder);
        CheckSizes(config, folder);
        WeightsCheck.CheckTensorCount(config, folder);
        var model = new T5ForConditionalGeneration(config);
        (extras, weightsFile) = LoadWeights(model, folder, config, dtype, extraPrefix);
        model.eval();
        return Place(model, device, dtype);
    }

    /// <summary>A RoBERTa or BERT sequence classifier, chosen by the config's model_type.</summary>
    public static ISequenceClassifier SequenceClassifierFromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = PretrainedConfig.Load(folder);
        CheckSizes(config, folder);
        WeightsCheck.CheckTensorCount(config, folder);
        nn.Module model = config switch
        {
            RobertaConfig r => new RobertaForSequenceClassification(r),
            BertConfig b => new BertForSequenceClassification(b),
            _ => throw new InvalidDataException($"{Path.Combine(folder, "config.json")}: model_type '{config.ModelType}' is not a sequence classifier the kit knows (roberta, bert)."),
        };
        LoadWeights(model, folder, config, dtype);
        model.eval();
        return (ISequenceClassifier)Place(model, device, dtype);
    }

    /// <summary>
    /// A lower bound on the number of weights a model of <paramref name="config"/>'s sizes stores (tied copies counted
    /// once), or null for a model type without one.
    /// </summary>
    internal static double? MinimumWeights(PretrainedConfig config)
    {
        switch (config)
        {
            case T5Config c:
                {
                    double d = c.DModel, inner = (double)c.NumHeads * c.DKv, ff = (c.IsGatedAct ? 2.0 : 1.0) * c.DFf + c.DFf;
                    var attention = 4 * d * inner;
                    var encoder = c.NumLayers * (attention + d * ff);
                    var decoder = c.NumDecoderLayers * (2 * attention + d * ff);
                    var embeddings = (double)c.VocabSize * d * (c.TieWordEmbeddings ? 1 : 2);
                    return embeddings + encoder + decoder + 2.0 * c.RelativeAttentionNumBuckets * c.NumHeads;
                }
            case BertLikeConfig c:
                {
                    double h = c.HiddenSize;
                    var embeddings = ((double)c.VocabSize + c.MaxPositionEmbeddings + c.TypeVocabSize) * h;
                    return embeddings + c.NumHiddenLayers * (4 * h * h + 2 * h * c.IntermediateSize) + (double)c.NumLabels * h;
                }
            default:
                return null;
        }
    }

    /// <summary>
    /// Refuses, before anything is allocated, a config.json whose sizes need more weights than the folder's weight
    /// files hold bytes (every stored weight takes at least one byte): a damaged or mismatched config would otherwise
    /// make the kit try to allocate a model of any size.
    /// </summary>
    internal static void CheckSizes(PretrainedConfig config, string folder)
    {
        if (MinimumWeights(config) is not { } needed) return;
        var weights = CheckpointReader.FindWeights(folder);
        // A shard index: every file of the folder bounds what its shards can hold.
        long bytes = weights.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)
            ? Directory.EnumerateFiles(folder).Sum(Length)
            : Length(weights);
        if (needed > bytes)
            throw new InvalidDataException(
                $"{Path.Combine(folder, "config.json")}: its sizes (model_type '{config.ModelType}') need at least {needed:N0} weights, " +
                $"but '{weights}' holds only {bytes:N0} bytes: the config and the weights disagree (one of them is damaged or truncated, or they belong to different models).");
    }

    /// <summary>The file's size, through symbolic links (Hub snapshots link to their blobs).</summary>
    static long Length(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Length : info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target && target.Exists ? target.Length : 0;
    }

    /// <summary>Loads the folder's weights into <paramref name="model"/> strictly, except that keys starting with
    /// <paramref name="extraPrefix"/> are set aside and returned (with the weights file's path) instead of being refused.</summary>
    internal static (Dictionary<string, Tensor> Extras, string Path) LoadWeights(nn.Module model, string folder, PretrainedConfig config, ScalarType? dtype,
        string? extraPrefix = null)
    {
        var path = CheckpointReader.FindWeights(folder);
        var state = CheckpointReader.ReadStateDict(path, dtype, WeightsCheck.ReadBudget(model));
        var extras = new Dictionary<string, Tensor>();
        if (extraPrefix is not null)
        {
            foreach (var key in state.Keys.Where(k => k.StartsWith(extraPrefix, StringComparison.Ordinal)).ToList())
            {
                extras[key] = state[key];
                state.Remove(key);
            }
        }
        try { StateDictLoader.LoadInto(model, state, path, config.TiedWeights, ignoreUnexpected: config.IgnoredUnexpectedKeys); }
        catch
        {
            foreach (var t in extras.Values) t.Dispose();
            throw;
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
        return (extras, path);
    }

    static T Place<T>(T model, Device? device, ScalarType? dtype) where T : nn.Module
    {
        if (dtype is ScalarType d && d != ScalarType.Float32) model.to(d);
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        return model;
    }
}
