using RlhfKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RlhfKit.Tests.Models;

/// <summary>
/// The autocast region: linear layers multiply in bfloat16 inside it and exactly as before outside it, gradients reach
/// the float32 weights, and regions are scoped. Tolerances follow from bfloat16's 8-bit mantissa: rounding a float32
/// to bfloat16 moves it by at most 2^-9 of its magnitude (round to nearest), so a product Σ x_i·w_i computed from
/// rounded inputs and rounded once at the end is off by at most about (2·2^-9)·Σ|x_i·w_i| + 2^-9·|y|; the checks
/// allow twice that (2^-8 per factor) for the accumulation inside the kernel.
/// </summary>
public class AutocastTests
{
    static readonly double Eps = Math.Pow(2, -8);

    static (Linear Layer, Tensor X) Fixture(long seed)
    {
        var layer = nn.Linear(96, 40);
        SeededInitialization.InitializeRandomWeights(layer, seed);
        var x = randn([12, 96], generator: new Generator((ulong)seed + 1));
        return (layer, x);
    }

    [Fact]
    public void AutocastLinearMatchesFloat32WithinBfloat16Rounding()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Fixture(3);
        var exact = layer.forward(x);
        Tensor mixed;
        using (Autocast.Enable(ScalarType.BFloat16)) mixed = Autocast.Linear(layer, x);

        Assert.Equal(ScalarType.Float32, mixed.dtype);
        Assert.Equal(ScalarType.Float32, layer.weight!.dtype); // the master weights are not touched
        // It is the bfloat16 product, bit for bit: what F.linear gives on the rounded operands.
        var reference = F.linear(x.to_type(ScalarType.BFloat16), layer.weight!.to_type(ScalarType.BFloat16), layer.bias!.to_type(ScalarType.BFloat16)).to_type(ScalarType.Float32);
        Assert.True(mixed.equal(reference).all().item<bool>());
        Assert.False(mixed.equal(exact).all().item<bool>(), "the region changed nothing: the product ran in float32");
        // Element-wise bound (see the class summary).
        var magnitude = F.linear(x.abs(), layer.weight!.abs(), layer.bias!.abs());
        var bound = magnitude * (2 * Eps) + exact.abs() * Eps;
        var error = (mixed - exact).abs();
        Assert.True((error <= bound).all().item<bool>(), $"largest error {error.max().item<float>()} over its bound");

        // Outside a region, and for an input that is not float32, the layer runs as it always did.
        Assert.True(Autocast.Linear(layer, x).equal(exact).all().item<bool>());
        using (Autocast.Enable(ScalarType.BFloat16))
        {
            var wide = Autocast.Linear(layer.to(ScalarType.Float64), x.to_type(ScalarType.Float64));
            Assert.Equal(ScalarType.Float64, wide.dtype);
        }
    }

    [Fact]
    public void AutocastGradientsReachTheFloat32Weights()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Fixture(5);
        var target = randn([12, 40], generator: new Generator(9));
        Tensor[] Gradients(bool autocast)
        {
            layer.zero_grad();
            var input = x.detach().requires_grad_(true);
            using (Autocast.Enable(autocast ? ScalarType.BFloat16 : null))
                F.mse_loss(Autocast.Linear(layer, input), target).backward();
            return [layer.weight!.grad!.clone(), layer.bias!.grad!.clone(), input.grad!.clone()];
        }
        var exact = Gradients(autocast: false);
        var mixed = Gradients(autocast: true);
        foreach (var (e, m) in exact.Zip(mixed))
        {
            Assert.Equal(ScalarType.Float32, m.dtype);
            // Backward multiplies rounded operands again (grad_out, x or W): relative error a few 2^-8, checked in norm.
            var relative = ((m - e).norm() / e.norm()).item<float>();
            Assert.True(relative < 4 * Eps, $"relative gradient error {relative}");
            Assert.True(relative > 0, "identical gradients: the backward pass ran in float32");
        }
        // The gradients are usable by the optimiser as they are: a step moves the float32 weights.
        var before = layer.weight!.clone();
        using var sgd = optim.SGD(layer.parameters(), 0.1);
        sgd.step();
        Assert.Equal(ScalarType.Float32, layer.weight!.dtype);
        Assert.False(layer.weight!.equal(before).all().item<bool>());
    }

    [Fact]
    public void RegionsNestAndBelongToTheirOwnFlowOfControl()
    {
        Assert.Null(Autocast.DType);
        using (Autocast.Enable(ScalarType.BFloat16))
        {
            Assert.Equal(ScalarType.BFloat16, Autocast.DType);
            using (Autocast.Enable(null)) Assert.False(Autocast.IsEnabled); // an inner region can turn it off
            using (Autocast.Enable(ScalarType.Float32)) Assert.False(Autocast.IsEnabled);
            Assert.Equal(ScalarType.BFloat16, Autocast.DType); // restored
            ScalarType? seenByAnotherThread = ScalarType.Int8;
            var thread = new Thread(() => seenByAnotherThread = Autocast.DType);
            thread.UnsafeStart(); // UnsafeStart: no execution context flows, as for a thread another component started
            thread.Join();
            Assert.Null(seenByAnotherThread);
        }
        Assert.Null(Autocast.DType);
        Assert.Throws<ArgumentException>(() => Autocast.Enable(ScalarType.Float64));
    }

    [Fact]
    public void T5AndRobertaUnderAutocastKeepFloat32OutputsCloseToFloat32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var t5 = new T5ForConditionalGeneration(new T5Config
        {
            VocabSize = 64, DModel = 32, DKv = 8, DFf = 64, NumLayers = 2, NumDecoderLayers = 2, NumHeads = 4,
            FeedForwardProj = "gated-gelu", TieWordEmbeddings = false,
        });
        SeededInitialization.InitializeRandomWeights(t5, 2);
        t5.eval();
        var ids = randint(2, 64, [3, 10], generator: new Generator(4), dtype: int64);
        var decoderIds = randint(2, 64, [3, 6], generator: new Generator(5), dtype: int64);
        Tensor LogProbs() { using var o = t5.Forward(ids, decoderInputIds: decoderIds); return o.Logits.log_softmax(-1); }
        var exact = LogProbs();
        Tensor mixed;
        using (Autocast.Enable(ScalarType.BFloat16)) mixed = LogProbs();
        Assert.Equal(ScalarType.Float32, mixed.dtype);
        Assert.False(mixed.equal(exact).all().item<bool>());
        // 16 products (q, k, v, o, wi_0, wi_1, wo per layer, lm_head) each off by ~2^-8 relative, partly cancelling
        // through the norms: the log-probabilities (|log p| ≈ log 64 ≈ 4) move by a few hundredths at most.
        var diff = (mixed - exact).abs();
        Assert.True(diff.mean().item<float>() < 4 * Eps, $"mean |Δ log p| {diff.mean().item<float>()}");
        Assert.True(diff.max().item<float>() < 0.1, $"max |Δ log p| {diff.max().item<float>()}");

        var roberta = new RobertaForSequenceClassification(RlhfKit.Benchmarks.BenchmarkOptions.RobertaBaseShape() with
        {
            VocabSize = 200, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64,
        });
        SeededInitialization.InitializeRandomWeights(roberta, 6);
        roberta.eval();
        var tokens = randint(3, 200, [3, 12], generator: new Generator(7), dtype: int64);
        Tensor Logits() { using var o = roberta.Forward(tokens); return o.Logits.clone(); }
        var logits = Logits();
        Tensor mixedLogits;
        using (Autocast.Enable(ScalarType.BFloat16)) mixedLogits = Logits();
        Assert.Equal(ScalarType.Float32, mixedLogits.dtype);
        Assert.False(mixedLogits.equal(logits).all().item<bool>());
        Assert.True(((mixedLogits - logits).abs().max() <= 4 * Eps * (logits.abs().max() + 1)).item<bool>());
    }

    /// <summary>The probe reads CPUID itself; on Linux the kernel's view of the same bits is in /proc/cpuinfo.</summary>
    [Fact]
    public void CpuFeatureProbeAgreesWithProcCpuinfo()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported)
        {
            Assert.False(CpuFeatures.HasBf16);
            return;
        }
        if (!File.Exists("/proc/cpuinfo")) return; // nothing to compare with
        var flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(' ').ToHashSet();
        Assert.Equal(flags.Contains("avx512_bf16"), CpuFeatures.HasAvx512Bf16);
        Assert.Equal(flags.Contains("amx_bf16"), CpuFeatures.HasAmxBf16);
        Assert.Equal(CpuFeatures.HasAvx512Bf16 || CpuFeatures.HasAmxBf16, CpuFeatures.HasBf16);
    }
}
