using RlhfKit.Models;
using TorchSharp;
using RlhfKit.Checkpoints;

namespace RlhfKit.Tests.Models;

internal static class TestModels
{
    /// <summary>(folder, checkpoint file) for every fixture folder whose config has this model_type.</summary>
    public static TheoryData<string, string> CheckpointsOf(string modelType)
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in Directory.EnumerateDirectories(Fixtures.Root).OrderBy(d => d))
        {
            var config = Path.Combine(dir, "config.json");
            if (!File.Exists(config)) continue;
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(config));
            if (!doc.RootElement.TryGetProperty("model_type", out var type) || type.GetString() != modelType) continue;
            foreach (var file in new[] { "model.safetensors", "pytorch_model.bin", "pytorch_model_legacy.bin" })
                if (File.Exists(Path.Combine(dir, file))) data.Add(Path.GetFileName(dir), file);
        }
        return data;
    }

    public static RobertaForSequenceClassification LoadRoberta(string folder, string file)
    {
        var config = RobertaConfig.Load(folder);
        var model = new RobertaForSequenceClassification(config);
        Load(model, Path.Combine(folder, file), config.TiedWeights);
        model.eval();
        return model;
    }

    /// <summary>Strict loading through the kit's own reader, from the one file under test.</summary>
    static void Load(torch.nn.Module model, string path, IReadOnlyDictionary<string, string> tied)
    {
        var state = CheckpointReader.ReadStateDict(path);
        StateDictLoader.LoadInto(model, state, path, tied);
    }

    public static T5ForConditionalGeneration LoadT5(string folder, string file)
    {
        var config = T5Config.Load(folder);
        var model = new T5ForConditionalGeneration(config);
        Load(model, Path.Combine(folder, file), config.TiedWeights);
        model.eval();
        return model;
    }
}
