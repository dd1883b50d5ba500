using RlhfKit.Checkpoints;
using RlhfKit.Models;

namespace RlhfKit.Loading;

/// <summary>Checks a config against its weights file before a model is built or a tensor read, so a damaged or
/// mismatched config.json cannot make the kit build (or read) far more than the files justify.</summary>
internal static class WeightsCheck
{
    /// <summary>
    /// Refuses a config whose architecture needs more tensors than the weights file holds: a config asking for thousands
    /// of tiny layers passes the byte-size check (<c>AutoModel.CheckSizes</c>) but would still build a module tree of
    /// that size. Reads only the file's header or pickle.
    /// </summary>
    public static void CheckTensorCount(PretrainedConfig config, string folder)
    {
        var needed = config.MinimumTensorCount;
        if (needed <= 0) return;
        var weights = CheckpointReader.FindWeights(folder);
        var held = CheckpointReader.TensorNames(weights).Count;
        if (held < needed)
            throw new InvalidDataException(
                $"{Path.Combine(folder, "config.json")}: its layer counts ({Layers(config)}) need at least {needed:N0} tensors, " +
                $"but '{weights}' holds {held:N0}: the config and the weights disagree (one of them is damaged, or they belong to different models).");
    }

    static string Layers(PretrainedConfig config) => config switch
    {
        T5Config t => $"num_layers {t.NumLayers}, num_decoder_layers {t.NumDecoderLayers}",
        BertLikeConfig b => $"num_hidden_layers {b.NumHiddenLayers}",
        _ => config.ModelType,
    };

    /// <summary>The most bytes of tensor data worth reading into <paramref name="model"/>: every tensor of its state dict
    /// at 8 bytes an element (the widest type a checkpoint may store), plus 1 MiB for buffers it does not keep.</summary>
    public static long ReadBudget(TorchSharp.torch.nn.Module model)
    {
        long elements = 0;
        foreach (var (_, t) in model.state_dict()) elements += t.numel();
        return checked(elements * 8 + (1L << 20));
    }
}
