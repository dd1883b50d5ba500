using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Rewards;

/// <summary>What to apply to the logits, as the <c>function_to_apply</c> argument of Hugging Face's pipeline.</summary>
public enum FunctionToApply
{
    /// <summary>Hugging Face's rule: sigmoid for a single label (or multi-label problems), softmax otherwise.</summary>
    Default,
    None,
    Sigmoid,
    Softmax,
}

/// <summary>One label's score for one text.</summary>
public sealed record LabelScore(string Label, float Score);

/// <summary>
/// Hugging Face's text-classification pipeline for sequence classifiers (RoBERTa, BERT): tokenise with truncation to
/// the model's maximum length, run without gradients in length-sorted batches (less padding), and return results in
/// input order. <c>Classify(texts, topK: null, FunctionToApply.None)</c> is the raw-logit scoring the workshop's
/// rewards use.
/// </summary>
public sealed class TextClassificationPipeline
{
    readonly nn.Module _module;

    /// <param name="dtype">Compute type of the (frozen) classifier, e.g. <c>bfloat16</c> on CUDA to score faster; the
    /// weights are cast once, the logits come back as float32. Null keeps the model's type. Meant for GPUs (CPU
    /// half-precision matmuls are usually slower than float32); TorchSharp 0.107 has no autocast, so this casts.</param>
    public TextClassificationPipeline(ISequenceClassifier model, IHfTokenizer tokenizer, Device? device = null, int batchSize = 16, ScalarType? dtype = null)
    {
        if (model is not nn.Module module) throw new ArgumentException("The classifier must be a TorchSharp module.", nameof(model));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        Model = model;
        Tokenizer = tokenizer;
        Device = device ?? CPU;
        BatchSize = batchSize;
        _module = module;
        _module.eval();
        foreach (var p in _module.parameters()) p.requires_grad = false; // fast path: a reward model never builds graphs
        if (Device.type != DeviceType.CPU) _module.to(Device);
        if (dtype is ScalarType type && _module.parameters().Any(p => p.dtype != type)) _module.to(type);
    }

    /// <summary>Files a text classifier's folder needs besides its weights (tokenizer files differ by model type).</summary>
    static readonly string[] ConfigFiles = ["config.json"];
    static readonly string[] TokenizerFiles = ["vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>Loads a RoBERTa or BERT classifier and its tokenizer from a local folder or a Hub repo id
    /// (for example <c>cardiffnlp/twitter-roberta-base-sentiment</c>), as <c>pipeline("text-classification", model=...)</c>.</summary>
    public static async Task<TextClassificationPipeline> FromPretrainedAsync(string repoIdOrFolder, Device? device = null, int batchSize = 16,
        Hub.HubClient? hub = null, string revision = "main", IProgress<Hub.HubDownloadProgress>? progress = null, ScalarType? dtype = null)
    {
        var folder = await Hub.Pretrained.ResolveAsync(repoIdOrFolder, ConfigFiles, TokenizerFiles, weights: true, hub, revision, progress);
        var model = AutoModel.SequenceClassifierFromPretrained(folder, device, dtype);
        var tokenizer = AutoTokenizer.FromPretrained(folder);
        return new TextClassificationPipeline(model, tokenizer, device, batchSize, dtype);
    }

    public ISequenceClassifier Model { get; }
    public IHfTokenizer Tokenizer { get; }
    public Device Device { get; }
    public int BatchSize { get; }
    public IReadOnlyList<string> Labels => Model.Id2Label;

    /// <summary>Batches texts of similar length together (default), so short texts are not padded to the longest of
    /// the whole input: about 1.5x faster on mixed lengths (docs/performance.md). Results come back in input order either
    /// way, and equal to the last decimal, since every row is scored with its own attention mask.</summary>
    public bool SortByLength { get; set; } = true;

    /// <summary>The longest input in tokens: the smaller of the tokenizer's and the model's limits (RoBERTa's 514
    /// positions hold 512 tokens because its positions start after the pad id).</summary>
    public int MaxTokens => Math.Min(Tokenizer.ModelMaxLength, Model.MaxTokens);

    /// <summary>Raw logits [texts, labels], in input order.</summary>
    public float[][] Logits(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        for (int i = 0; i < texts.Count; i++)
            if (texts[i] is null) throw new ArgumentNullException(nameof(texts), $"texts[{i}] is null; pass an empty string to score nothing.");
        var encoded = texts.Select(t => Tokenizer.Encode(t, addSpecialTokens: true, maxLength: MaxTokens)).ToArray();
        // Longest first, so each batch holds texts of similar length and padding stays small.
        var order = SortByLength
            ? Enumerable.Range(0, texts.Count).OrderByDescending(i => encoded[i].Count).ThenBy(i => i).ToArray()
            : Enumerable.Range(0, texts.Count).ToArray();
        var result = new float[texts.Count][];
        using var noGrad = inference_mode(); // fast path: scoring never needs autograd (not even version counters)
        for (int start = 0; start < order.Length; start += BatchSize)
        {
            var rows = order.Skip(start).Take(BatchSize).ToArray();
            using var scope = NewDisposeScope();
            var (ids, mask) = Pad(rows.Select(r => encoded[r]).ToArray());
            using var output = Model.Forward(ids.to(Device), mask.to(Device));
            var logits = output.Logits.to_type(float32).cpu().data<float>().ToArray();
            int labels = (int)output.Logits.shape[1];
            for (int j = 0; j < rows.Length; j++) result[rows[j]] = logits.AsSpan(j * labels, labels).ToArray();
        }
        return result;
    }

    (Tensor Ids, Tensor Mask) Pad(IReadOnlyList<int>[] rows)
    {
        int length = Math.Max(1, rows.Max(r => r.Count));
        var ids = new long[rows.Length * length];
        var mask = new long[rows.Length * length];
        Array.Fill(ids, Model.PadTokenId);
        for (int b = 0; b < rows.Length; b++)
            for (int t = 0; t < rows[b].Count; t++) { ids[b * length + t] = rows[b][t]; mask[b * length + t] = 1; }
        return (tensor(ids).reshape(rows.Length, length), tensor(mask).reshape(rows.Length, length));
    }

    /// <summary>Scores per text, sorted from highest to lowest as Hugging Face returns them. <paramref name="topK"/>
    /// null returns every label; an integer returns that many.</summary>
    public IReadOnlyList<IReadOnlyList<LabelScore>> Classify(IReadOnlyList<string> texts, int? topK = 1, FunctionToApply function = FunctionToApply.Default)
    {
        if (topK is < 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, "topK must be at least 1, or null for every label.");
        var logits = Logits(texts);
        var labels = Labels;
        return logits.Select(row =>
        {
            var scores = Apply(row, function);
            if (scores.Length != labels.Count)
                throw new InvalidOperationException($"The model returned {scores.Length} logits but its config names {labels.Count} labels.");
            IReadOnlyList<LabelScore> sorted = scores.Select((s, i) => new LabelScore(labels[i], s))
                .OrderByDescending(s => s.Score).Take(topK ?? labels.Count).ToList();
            return sorted;
        }).ToList();
    }

    /// <summary>The score of one label (by name, e.g. <c>LABEL_1</c>) for each text.</summary>
    public float[] LabelScores(IReadOnlyList<string> texts, string label, FunctionToApply function = FunctionToApply.None)
    {
        int index = Labels.ToList().IndexOf(label);
        if (index < 0) throw new ArgumentException($"Label '{label}' is not one of this model's labels ({string.Join(", ", Labels)}).", nameof(label));
        return Logits(texts).Select(row => Apply(row, function)[index]).ToArray();
    }

    internal float[] Apply(float[] logits, FunctionToApply function)
    {
        var f = function == FunctionToApply.Default ? (logits.Length == 1 ? FunctionToApply.Sigmoid : FunctionToApply.Softmax) : function;
        switch (f)
        {
            case FunctionToApply.None: return (float[])logits.Clone();
            case FunctionToApply.Sigmoid: return logits.Select(x => (float)(1.0 / (1.0 + Math.Exp(-x)))).ToArray();
            default:
                double max = logits.Max();
                var exp = logits.Select(x => Math.Exp(x - max)).ToArray();
                double sum = exp.Sum();
                return exp.Select(e => (float)(e / sum)).ToArray();
        }
    }
}
