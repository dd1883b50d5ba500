using RlhfKit.Models;
using TorchSharp;
using TorchSharp.PyBridge;

namespace RlhfKit.Tests.Models;

internal static class TestModels
{
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
