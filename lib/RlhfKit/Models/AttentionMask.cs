using static TorchSharp.torch;

namespace RlhfKit.Models;

/// <summary>What masked attention positions add to the scores, as transformers does: the most negative finite value
/// of the compute type (<c>torch.finfo(dtype).min</c>), so a softmax gives them weight 0 without producing NaN.</summary>
internal static class AttentionMask
{
    public static double MinValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };
}
