using RlhfKit.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Models;

/// <summary>Loads models from Hugging Face folders (config.json + weights), strictly: every tensor must match.</summary>
public static class AutoModel
{
    /// <summary>A T5 language model from a folder holding config.json and model.safetensors or pytorch_model.bin.</summary>
    public static T5ForConditionalGeneration T5FromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = T5Config.Load(folder);
        var model = new T5ForConditionalGeneration(config);
        LoadWeights(model, folder, config.TiedWeights, dtype);
        model.eval();
        return Place(model, device, dtype);
    }

    /// <summary>A RoBERTa or BERT sequence classifier, chosen by the config's model_type.</summary>
    public static ISequenceClassifier SequenceClassifierFromPretrained(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var config = PretrainedConfig.Load(folder);
        nn.Module model = config switch
        {
            RobertaConfig r => new RobertaForSequenceClassification(r),
            BertConfig b => new BertForSequenceClassification(b),
            _ => throw new InvalidDataException($"{Path.Combine(folder, "config.json")}: model_type '{config.ModelType}' is not a sequence classifier the kit knows (roberta, bert)."),
        };
        LoadWeights(model, folder, config.TiedWeights, dtype);
        model.eval();
        return (ISequenceClassifier)Place(model, device, dtype);
    }

    internal static void LoadWeights(nn.Module model, string folder, IReadOnlyDictionary<string, string> tied, ScalarType? dtype)
    {
        var path = CheckpointReader.FindWeights(folder);
        var state = CheckpointReader.ReadStateDict(path, dtype);
        try { StateDictLoader.LoadInto(model, state, path, tied); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    static T Place<T>(T model, Device? device, ScalarType? dtype) where T : nn.Module
    {
        if (dtype is ScalarType d && d != ScalarType.Float32) model.to(d);
        if (device is not null && device.type != DeviceType.CPU) model.to(device);
        return model;
    }
}
