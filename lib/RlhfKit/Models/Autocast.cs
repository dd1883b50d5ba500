// Mixed precision for CPUs with fast bfloat16 matmuls (AVX512-BF16, AMX): TorchSharp 0.107 has no torch.autocast, so
// the kit's models route their linear layers through Autocast.Linear, which does what autocast does to them.
using System.Runtime.Intrinsics.X86;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RlhfKit.Models;

/// <summary>
/// An autocast-style mixed-precision region for the kit's models. Inside <c>using (Autocast.Enable(ScalarType.BFloat16))</c>
/// every linear layer of T5, BERT/RoBERTa and the PPO value head computes its product in bfloat16 from float32 inputs
/// and float32 weights, and hands back float32: the weights stay float32 (the optimiser's master copy) and their
/// gradients flow back through the casts in float32. Everything else (layer norms, softmax, attention, log-softmax,
/// losses) runs in float32 as before. Outside a region (the default) the layers run as plain <c>Linear.forward</c>.
/// </summary>
/// <remarks>
/// The region belongs to the current logical flow of control (an <see cref="AsyncLocal{T}"/>, as torch's autocast state
/// belongs to its thread): threads and tests outside it are not affected (a task started inside it inherits it, as
/// AsyncLocal values flow), and regions nest (the inner one wins, the outer one
/// is restored on dispose). Only layers whose input and weight are both float32 are cast, so a model already cast to
/// bfloat16 (a rollout copy, a bf16 reward model) and float64 models run unchanged.
/// </remarks>
public static class Autocast
{
    static readonly AsyncLocal<ScalarType?> _dtype = new();

    /// <summary>The compute type of the current region, or null outside any region.</summary>
    public static ScalarType? DType => _dtype.Value;

    /// <summary>Whether linear layers run in a lower precision here.</summary>
    public static bool IsEnabled => _dtype.Value is not null;

    /// <summary>
    /// Opens a region in which linear layers compute in <paramref name="dtype"/>; dispose the result to close it.
    /// Null or float32 opens a region without autocast (so a caller can pass an optional setting straight through, and
    /// an inner <c>Enable(null)</c> turns an outer region off, as <c>torch.autocast(enabled=False)</c> does).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not bfloat16, float16, float32 or null.</exception>
    public static IDisposable Enable(ScalarType? dtype)
    {
        ScalarType? lower = dtype switch
        {
            null or ScalarType.Float32 => null,
            ScalarType.BFloat16 or ScalarType.Float16 => dtype,
            _ => throw new ArgumentException($"Autocast computes in bfloat16 or float16 (or float32 = off), not {dtype}.", nameof(dtype)),
        };
        var region = new Region(_dtype.Value);
        _dtype.Value = lower;
        return region;
    }

    /// <summary>
    /// <paramref name="layer"/> applied to <paramref name="x"/>. In a region, with float32 input and weights:
    /// y = linear(x_low, W_low, b_low) cast back to float32, where _low is the region's type; differentiable with
    /// respect to x, W and b (the casts pass the gradient through, converted back to float32). Otherwise
    /// <c>layer.forward(x)</c>.
    /// </summary>
    public static Tensor Linear(Linear layer, Tensor x)
    {
        var weight = layer.weight!;
        // provenance: torch.autocast ("CPU Ops that can autocast to lower precision") casts the floating inputs of
        // linear/matmul to the region's type; the outputs stay in it there. Here the output goes back to float32 at once,
        // so what follows (residual sums, norms, softmax, log-softmax, losses: autocast's float32 list) stays float32.
        if (_dtype.Value is not ScalarType low || x.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32)
            return layer.forward(x);
        using var scope = NewDisposeScope();
        var bias = layer.bias;
        var y = F.linear(x.to_type(low), weight.to_type(low), bias?.to_type(low));
        return y.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    sealed class Region(ScalarType? previous) : IDisposable
    {
        bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _dtype.Value = previous;
        }
    }
}

/// <summary>What the CPU offers for bfloat16 arithmetic (x86 CPUID); false on other architectures.</summary>
public static class CpuFeatures
{
    /// <summary>AVX512_BF16 (CPUID leaf 7 subleaf 1, EAX bit 5): bfloat16 dot products in AVX-512 registers (Intel Cooper
    /// Lake and Sapphire Rapids on, AMD Zen 4 on). Also requires the OS to enable AVX-512 state (<c>Avx512F.IsSupported</c>).</summary>
    public static bool HasAvx512Bf16 { get; } = Probe(leaf: 7, subleaf: 1, register: 0, bit: 5) && Avx512F.IsSupported;

    /// <summary>AMX_BF16 (CPUID leaf 7 subleaf 0, EDX bit 22): bfloat16 tile matrix multiplies (Intel Sapphire Rapids on).</summary>
    public static bool HasAmxBf16 { get; } = Probe(leaf: 7, subleaf: 0, register: 3, bit: 22);

    /// <summary>Whether the CPU computes bfloat16 products natively (<see cref="HasAvx512Bf16"/> or <see cref="HasAmxBf16"/>):
    /// where libtorch's bfloat16 matmuls (oneDNN) beat float32. Without either, bfloat16 is emulated and usually slower.</summary>
    public static bool HasBf16 => HasAvx512Bf16 || HasAmxBf16;

    /// <summary>One bit of CPUID(<paramref name="leaf"/>, <paramref name="subleaf"/>); register 0..3 = EAX, EBX, ECX, EDX.</summary>
    static bool Probe(int leaf, int subleaf, int register, int bit)
    {
        if (!X86Base.IsSupported) return false;
        if (X86Base.CpuId(0, 0).Eax < leaf) return false; // the highest standard leaf
        if (subleaf > 0 && X86Base.CpuId(leaf, 0).Eax < subleaf) return false; // leaf 7: EAX of subleaf 0 = highest subleaf
        var (eax, ebx, ecx, edx) = X86Base.CpuId(leaf, subleaf);
        int value = register switch { 0 => eax, 1 => ebx, 2 => ecx, _ => edx };
        return (value >> bit & 1) == 1;
    }
}
