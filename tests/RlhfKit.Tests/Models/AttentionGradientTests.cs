using RlhfKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Models;

/// <summary>
/// Attention runs through libtorch's fused <c>scaled_dot_product_attention</c>. Fused kernels may not propagate a
/// gradient to the additive mask, and T5's learned relative-position bias travels in that mask: if it got no
/// gradient, the bias would silently stop training. These tests check the float32 gradients of the bias and of the
/// attention projections against central finite differences of a float64 copy, on the fixture models with their
/// padded inputs.
/// </summary>
public class AttentionGradientTests
{
    /// <summary>Compares d(objective)/d(parameter) at a few entries: float32 autograd against float64 differences.</summary>
    static void AssertGradientsMatchFiniteDifferences(nn.Module model32, nn.Module model64, Func<nn.Module, Tensor> objective, IEnumerable<string> parameters)
    {
        model32.zero_grad();
        using (var loss = objective(model32)) loss.backward();
        var p32 = model32.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var p64 = model64.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var random = new Random(5);
        foreach (var name in parameters)
        {
            var grad = p32[name].grad ?? throw new Xunit.Sdk.XunitException($"{name} has no gradient");
            Assert.True(grad.abs().max().item<float>() > 0, $"{name}: gradient is all zero");
            var flat64 = p64[name].detach().view(-1);
            var flatGrad = grad.view(-1);
            for (int trial = 0; trial < 6; trial++)
            {
                long i = random.NextInt64(flat64.shape[0]);
                const double eps = 1e-6;
                double original = flat64[i].item<double>();
                double Eval(double value)
                {
                    using var noGrad = no_grad();
                    flat64[i] = value;
                    using var l = objective(model64);
                    return l.item<double>();
                }
                double numeric = (Eval(original + eps) - Eval(original - eps)) / (2 * eps);
                Eval(original);
                double analytic = flatGrad[i].item<float>();
                Assert.True(Math.Abs(analytic - numeric) <= 1e-4 + 1e-3 * Math.Abs(numeric),
                    $"{name}[{i}]: autograd {analytic:G6}, finite difference {numeric:G6}");
            }
        }
    }

    [Theory]
    [InlineData("t5-gated")]
    [InlineData("t5-relu")]
    public void T5PositionBiasAndProjectionsGetTheirGradients(string folder)
    {
        using var scope = NewDisposeScope();
        var model32 = TestModels.LoadT5(Fixtures.PathOf(folder), "model.safetensors");
        var model64 = TestModels.LoadT5(Fixtures.PathOf(folder), "model.safetensors");
        model64.to(float64);
        using var doc = Fixtures.Json(folder, "reference.json");
        var inputs = doc.RootElement.GetProperty("inputs");
        var ids = Fixtures.Tensor(inputs.GetProperty("input_ids"));
        var mask = Fixtures.Tensor(inputs.GetProperty("attention_mask"));
        var decoderIds = Fixtures.Tensor(inputs.GetProperty("decoder_input_ids"));
        // A fixed linear functional of the logits: its float64 differences are exact to ~1e-9.
        var weights = randn([ids.shape[0], decoderIds.shape[1], model32.Config.VocabSize], dtype: float64, generator: new Generator(3));
        Tensor Objective(nn.Module m)
        {
            var t5 = (T5ForConditionalGeneration)m;
            using var output = t5.Forward(ids, mask, decoderIds);
            return (output.Logits.to_type(float64) * weights).sum();
        }
        AssertGradientsMatchFiniteDifferences(model32, model64, Objective,
        [
            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            "encoder.block.1.layer.0.SelfAttention.q.weight",
            "decoder.block.1.layer.1.EncDecAttention.k.weight",
        ]);
    }

    [Fact]
    public void RobertaAttentionGetsItsGradients()
    {
        using var scope = NewDisposeScope();
        var model32 = TestModels.LoadRoberta(Fixtures.PathOf("roberta-cls"), "model.safetensors");
        var model64 = TestModels.LoadRoberta(Fixtures.PathOf("roberta-cls"), "model.safetensors");
        model64.to(float64);
        using var doc = Fixtures.Json("roberta-cls", "reference.json");
        var inputs = doc.RootElement.GetProperty("inputs");
        var ids = Fixtures.Tensor(inputs.GetProperty("input_ids"));
        var mask = Fixtures.Tensor(inputs.GetProperty("attention_mask"));
        var weights = randn([ids.shape[0], model32.Config.Id2Label.Count], dtype: float64, generator: new Generator(4));
        Tensor Objective(nn.Module m)
        {
            using var output = ((RobertaForSequenceClassification)m).Forward(ids, mask);
            return (output.Logits.to_type(float64) * weights).sum();
        }
        AssertGradientsMatchFiniteDifferences(model32, model64, Objective,
            ["roberta.encoder.layer.0.attention.self.query.weight", "roberta.encoder.layer.1.attention.self.key.weight", "roberta.encoder.layer.0.attention.self.value.weight"]);
    }
}
