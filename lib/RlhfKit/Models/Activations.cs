using static TorchSharp.torch;

namespace RlhfKit.Models;

internal static class Activations
{
    /// <summary>GELU with the tanh approximation (transformers' <c>gelu_new</c>), used by gated-GELU T5 models.</summary>
    public static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = (x + 0.044715 * x.pow(3)) * Math.Sqrt(2.0 / Math.PI);
        return (0.5 * x * (1.0 + tanh(inner))).MoveToOuterDisposeScope();
    }

    /// <summary>The activation names <see cref="Apply"/> knows (transformers' ACT2FN names).</summary>
    public static IReadOnlyList<string> Names { get; } = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "tanh", "silu", "swish"];

    public static bool IsKnown(string name) => Names.Contains(name);

    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" => GeluTanh(x),
        "relu" => nn.functional.relu(x),
        "tanh" => tanh(x),
        "silu" or "swish" => nn.functional.silu(x),
        _ => throw new NotSupportedException($"Activation '{name}' is not supported (known: {string.Join(", ", Names)})."),
    };
}
