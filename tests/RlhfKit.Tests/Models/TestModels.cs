using RlhfKit.Models;
using TorchSharp;
using TorchSharp.PyBridge;

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
        var model = new RobertaForSequenceClassification(BertConfig.FromJsonFile<RobertaConfig>(Path.Combine(folder, "config.json")));
        Load(model, Path.Combine(folder, file));
        model.eval();
        return model;
    }

    static void Load(torch.nn.Module model, string path)
    {
        if (path.EndsWith(".safetensors")) model.load_safetensors(path, strict: false);
        else model.load_py(path, strict: false);
    }

    public static T5ForConditionalGeneration LoadT5(string folder, string file)
    {
        var model = new T5ForConditionalGeneration(T5Config.FromJsonFile(Path.Combine(folder, "config.json")));
        var path = Path.Combine(folder, file);
        if (file.EndsWith(".safetensors")) model.load_safetensors(path, strict: false);
        else model.load_py(path, strict: false);
        model.eval();
        return model;
    }
}
