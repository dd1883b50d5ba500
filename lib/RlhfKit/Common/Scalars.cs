using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Common;

/// <summary>
/// Numbers handed to torch that stay alive until the native call has returned.
/// <para>
/// TorchSharp 0.107 turns a number given to a tensor operation (<c>x * 0.5</c>, <c>x + eps</c>, <c>masked_fill(m, -inf)</c>,
/// the alpha of 1 behind <c>a + b</c> and <c>a.add(b)</c>, the 2 behind <c>square()</c>, the betas inside its Adam and AdamW)
/// into a native <see cref="Scalar"/> that only a finalizer frees, and drops the last managed reference to it before native
/// code has read it. A garbage collection during the call can then free the number under libtorch's feet: the suite failed
/// on it twice ("INTERNAL ASSERT FAILED at Scalar.h" inside pow, "Expected false to be true ... toFloat" inside add, both in
/// T5's layer norm while other tests allocated beside it).
/// </para>
/// <para>
/// So the core passes numbers to torch only as Scalars that something holds: the constants below (alive for the process),
/// or a <c>using var s = value.ToScalar()</c> for a value computed at run time (alive to the end of its block).
/// <c>ScalarLifetimeTests</c> reads the core's source with the compiler and fails on any other way in.
/// </para>
/// </summary>
public static class Scalars
{
    /// <summary>The integer 1: the alpha TorchSharp passes for <c>a + b</c>, and 1 in integer masks.</summary>
    public static readonly Scalar One = 1.ToScalar();
    /// <summary>The integer 0.</summary>
    public static readonly Scalar Zero = 0.ToScalar();
    /// <summary>The integer 2: the exponent of <see cref="Square"/>.</summary>
    public static readonly Scalar Two = 2.ToScalar();
    /// <summary>The double 0.5.</summary>
    public static readonly Scalar Half = 0.5.ToScalar();
    /// <summary>The double 1e-8 that TRL adds to a variance before its inverse square root.</summary>
    public static readonly Scalar VarianceEpsilon = 1e-8.ToScalar();
    /// <summary>The float -inf that removes a logit before sampling.</summary>
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();
    /// <summary>The int -100 that marks a label position the loss ignores (transformers' convention).</summary>
    public static readonly Scalar IgnoreIndex = (-100).ToScalar();

    /// <summary><c>a + b</c> with add's alpha of 1 held alive (the same operation, the same bits).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>1 - x</c> as TorchSharp computes <c>1 - x</c> (<c>-x + 1</c>), with the 1 and the alpha held.</summary>
    public static Tensor OneMinus(this Tensor x)
    {
        using var negated = x.negative();
        return negated.add(One, One);
    }

    /// <summary><c>x²</c> as TorchSharp's <c>square()</c> computes it, <c>pow(x, 2)</c>, with the exponent held alive.</summary>
    public static Tensor Square(this Tensor x) => x.pow(Two);
}
