using RlhfKit.Common;
using TorchSharp;
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

    // One Scalar per compute type, alive for the process (see Common/Scalars): the same double values as MinValue.
    static readonly Scalar Half = MinValue(ScalarType.Float16).ToScalar(), BFloat = MinValue(ScalarType.BFloat16).ToScalar(),
        Double = MinValue(ScalarType.Float64).ToScalar(), Single = MinValue(ScalarType.Float32).ToScalar();

    /// <summary><see cref="MinValue"/> as a Scalar that outlives any call it is passed to.</summary>
    public static Scalar MinScalar(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => Half,
        ScalarType.BFloat16 => BFloat,
        ScalarType.Float64 => Double,
        _ => Single,
    };

    /// <summary>The additive mask of a 0/1 mask: <c>(1 - mask) · finfo(dtype).min</c>, in <paramref name="dtype"/>.</summary>
    public static Tensor Additive(Tensor mask, ScalarType dtype)
    {
        using var m = mask.to_type(dtype);
        using var inverted = m.OneMinus();
        return inverted.mul(MinScalar(dtype));
    }
}
