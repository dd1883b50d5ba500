using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfKit.Models;

/// <summary>
/// A Hugging Face model configuration (<c>config.json</c>). <see cref="Load"/> picks the concrete type by
/// <c>model_type</c>; fields the kit does not model are kept in <see cref="Extra"/> and written back by
/// <see cref="Save"/>, so a config survives a round trip through the kit unchanged for Python <c>transformers</c>.
/// </summary>
public abstract record PretrainedConfig
{
    static readonly Dictionary<string, Func<JsonDocument, string, PretrainedConfig>> Parsers = new()
    {
        ["t5"] = (doc, source) => T5Config.Parse(doc, source),
        ["roberta"] = (doc, source) => RobertaConfig.Parse(doc, source),
        ["bert"] = (doc, source) => BertConfig.Parse(doc, source),
    };

    /// <summary>The <c>model_type</c> values <see cref="Load"/> understands.</summary>
    public static IReadOnlyList<string> KnownModelTypes { get; } = Parsers.Keys.ToList();

    /// <summary>The <c>model_type</c> field (<c>t5</c>, <c>roberta</c>, <c>bert</c>).</summary>
    public abstract string ModelType { get; }

    /// <summary>The <c>architectures</c> field, e.g. <c>T5ForConditionalGeneration</c>.</summary>
    public IReadOnlyList<string> Architectures { get; init; } = [];

    /// <summary>Fields of config.json the kit does not model (e.g. <c>torch_dtype</c>, <c>transformers_version</c>),
    /// kept verbatim.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Extra { get; init; } = new Dictionary<string, JsonNode?>();

    /// <summary>Weights that are the same tensor as another (name -> the name it is tied to). Hugging Face leaves the
    /// left side out of <c>model.safetensors</c>; loaders re-tie it.</summary>
    public virtual IReadOnlyDictionary<string, string> TiedWeights => new Dictionary<string, string>();

    /// <summary>Checkpoint keys the model has no place for and ignores by design when loading, as transformers 4.36
    /// does (its <c>_keys_to_ignore_on_load_unexpected</c>, and buffers it no longer saves). Exact names; any other
    /// unexpected key is an error.</summary>
    public virtual IReadOnlyList<string> IgnoredUnexpectedKeys => [];

    /// <summary>Most encoder (or decoder) layers a config may ask for: far beyond any real checkpoint (the largest
    /// T5 and BERT models have 24 to 48), and small enough that building the modules stays cheap.</summary>
    public const int MaxLayers = 1024;

    /// <summary>The fewest tensors a checkpoint of this config can hold (tied copies left out, as Hugging Face saves
    /// them); a weights file with fewer cannot be this model's, whatever its byte size.</summary>
    public virtual long MinimumTensorCount => 0;

    /// <summary>Reads <c>config.json</c> from a model folder (or the given file) and returns the type its
    /// <c>model_type</c> names.</summary>
    /// <exception cref="InvalidDataException">not JSON, a required field missing or mistyped, or an unknown model_type.</exception>
    public static PretrainedConfig Load(string folderOrConfigPath)
    {
        var path = ConfigPath(folderOrConfigPath);
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text; <paramref name="sourceName"/> names it in errors.</summary>
    public static PretrainedConfig FromJson(string json, string sourceName = "config.json")
    {
        using var doc = ConfigFields.Parse(json, sourceName);
        if (!doc.RootElement.TryGetProperty("model_type", out var mt) || mt.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"config '{sourceName}' lacks the required field 'model_type' (one of {string.Join(", ", KnownModelTypes)})");
        var modelType = mt.GetString()!;
        if (!Parsers.TryGetValue(modelType, out var parse))
            throw new InvalidDataException($"config '{sourceName}' has model_type '{modelType}', which the kit does not know (known: {string.Join(", ", KnownModelTypes)})");
        return parse(doc, sourceName);
    }

    internal static string ConfigPath(string folderOrConfigPath)
    {
        if (Directory.Exists(folderOrConfigPath))
        {
            var path = Path.Combine(folderOrConfigPath, "config.json");
            return File.Exists(path) ? path : throw new FileNotFoundException($"model folder '{folderOrConfigPath}' has no config.json", path);
        }
        return File.Exists(folderOrConfigPath) ? folderOrConfigPath
            : throw new FileNotFoundException($"config '{folderOrConfigPath}' does not exist", folderOrConfigPath);
    }

    internal static T Load<T>(string folderOrConfigPath) where T : PretrainedConfig
    {
        var config = Load(folderOrConfigPath);
        return config as T ?? throw new InvalidDataException(
            $"config '{ConfigPath(folderOrConfigPath)}' has model_type '{config.ModelType}', not the {typeof(T).Name} expected");
    }

    internal static T FromJson<T>(string json, string sourceName) where T : PretrainedConfig
    {
        var config = FromJson(json, sourceName);
        return config as T ?? throw new InvalidDataException(
            $"config '{sourceName}' has model_type '{config.ModelType}', not the {typeof(T).Name} expected");
    }

    /// <summary>Writes <c>config.json</c> into <paramref name="folder"/> atomically (creating the folder).</summary>
    public void Save(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), ToJson());

    /// <summary>The config.json text: every field (modelled and extra) with keys sorted, as transformers writes it.</summary>
    public string ToJson()
    {
        Validate();
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (k, v) in Extra) fields[k] = v?.DeepClone();
        fields["model_type"] = ModelType;
        fields["architectures"] = Architectures.Count == 0 ? null : new JsonArray(Architectures.Select(a => (JsonNode?)a).ToArray());
        WriteFields(fields);
        var obj = new JsonObject();
        foreach (var (k, v) in fields) obj[k] = v;
        return obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Adds this type's fields under their Hugging Face names.</summary>
    private protected abstract void WriteFields(IDictionary<string, JsonNode?> fields);

    /// <summary>Throws <see cref="InvalidDataException"/> when field values are inconsistent.</summary>
    private protected virtual void Validate() { }

    /// <summary>A layer-norm epsilon must be a finite number above zero: 0 divides by zero on a constant input and a
    /// negative one takes the square root of a negative number, so either gives NaN outputs without any error.</summary>
    private protected static void Epsilon(string name, double value)
    {
        if (!(double.IsFinite(value) && value > 0))
            throw new InvalidDataException($"field '{name}' must be a finite number above 0 (e.g. 1e-06), got {value}; " +
                "0 or a negative value makes layer normalisation produce NaN");
    }

    /// <summary>A scale used to initialise weights must be a finite number, not negative.</summary>
    private protected static void Scale(string name, double value)
    {
        if (!(double.IsFinite(value) && value >= 0)) throw new InvalidDataException($"field '{name}' must be a finite number >= 0, got {value}");
    }

    /// <summary>A layer count must be positive and at most <see cref="MaxLayers"/>.</summary>
    private protected static void Layers(string name, int value)
    {
        if (value <= 0) throw new InvalidDataException($"field '{name}' must be positive, got {value}");
        if (value > MaxLayers)
            throw new InvalidDataException($"field '{name}' is {value}, more than the {MaxLayers} layers the kit builds (real T5/BERT checkpoints have at most 48); the config is damaged");
    }

    /// <summary>A dropout probability must lie in [0, 1] (torch refuses to build the layer otherwise).</summary>
    private protected static void Probability(string name, double value)
    {
        if (!(value >= 0 && value <= 1)) throw new InvalidDataException($"field '{name}' must be a probability in [0, 1], got {value}");
    }

    /// <summary>A float the way Python's json writes it (<c>0.1</c>, <c>1.0</c>, <c>1e-06</c>), so transformers reads a
    /// float where it wrote one.</summary>
    private protected static JsonNode Float(double value)
    {
        if (!double.IsFinite(value)) throw new InvalidDataException($"a config value of {value} cannot be written as JSON");
        var text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace("E", "e");
        if (!text.Contains('.') && !text.Contains('e')) text += ".0";
        return JsonNode.Parse(text)!;
    }

    private protected static JsonNode? Float(double? value) => value is { } v ? Float(v) : null;

    private protected static JsonObject Labels(IReadOnlyList<string> labels, bool byId)
    {
        var o = new JsonObject();
        for (int i = 0; i < labels.Count; i++)
        {
            if (byId) o[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = labels[i];
            else o[labels[i]] = i;
        }
        return o;
    }
}
