using static TorchSharp.torch;

namespace RlhfKit.Models;

internal static class Activations
{
    /// <summary>The activation names <see cref="Apply"/> knows (transformers' ACT2FN names).</summary>
    public static IReadOnlyList<string> Names { get; } = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "tanh", "silu", "swish"];

    public static bool IsKnown(string name) => Names.Contains(name);

    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),
        // transformers' gelu_new formula, 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), as one fused libtorch kernel
        // (one op and one saved tensor for backward, instead of eight).
        "gelu_new" or "gelu_pytorch_tanh" => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "relu" => nn.functional.relu(x),
        "tanh" => tanh(x),
        "silu" or "swish" => nn.functional.silu(x),
        _ => throw new NotSupportedException($"Activation '{name}' is not supported (known: {string.Join(", ", Names)})."),
    };
}
