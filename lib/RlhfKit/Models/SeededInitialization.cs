using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Models;

/// <summary>
/// Draws a module's random weights again from a generator of its own, exactly as TorchSharp's constructors drew them
/// from the global one: <c>nn.Linear</c> weight by Kaiming-uniform with a = √5 (libtorch's formula), bias uniform in
/// ±1/√in_features, <c>nn.Embedding</c> standard normal. <c>manual_seed</c> followed by construction gives the same
/// weights only while nothing else draws from torch's global generator; another thread building a model or sampling
/// (a parallel test, a notebook cell) changes them. Norm weights of one and biases of zero are left as they are.
/// </summary>
internal static class SeededInitialization
{
    /// <summary>Re-draws every Linear and Embedding under <paramref name="module"/>, depth first in registration order
    /// (the order the kit's models construct them) from one generator seeded with <paramref name="seed"/>: the weights
    /// <c>manual_seed(seed)</c> plus construction give on a quiet process, in any process.</summary>
    public static void InitializeRandomWeights(nn.Module module, long seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed));
        using var noGrad = no_grad();
        // A tensor tied to one drawn before (lm_head.weight = shared.weight: separate wrappers over one storage, so the
        // storage identifies it) is drawn into a scratch copy: construction drew for it too, then replaced it.
        var drawn = new HashSet<IntPtr>();
        Tensor Target(Tensor p)
        {
            if (p.dtype != ScalarType.Float32)
                throw new ArgumentException($"{module.GetName()}: a {p.dtype} parameter; random weights are drawn in float32, as construction draws them (cast afterwards)", nameof(module));
            using var storage = p.storage<float>();
            return drawn.Add(storage.data_ptr() + (nint)(p.storage_offset() * sizeof(float))) ? p : empty_like(p);
        }
        foreach (var m in DepthFirst(module, new HashSet<nn.Module>(ReferenceEqualityComparer.Instance)))
        {
            switch (m)
            {
                case Linear linear:
                    {
                        double fanIn = linear.weight!.shape[1];
                        // libtorch's kaiming_uniform_: gain = sqrt(2 / (1 + a²)) for leaky_relu, bound = sqrt(3) * gain / sqrt(fan_in).
                        var gain = Math.Sqrt(2.0 / (1 + Math.Pow(Math.Sqrt(5), 2)));
                        var bound = Math.Sqrt(3.0) * (gain / Math.Sqrt(fanIn));
                        Target(linear.weight).uniform_(-bound, bound, generator);
                        if (linear.bias is { } bias) Target(bias).uniform_(-1 / Math.Sqrt(fanIn), 1 / Math.Sqrt(fanIn), generator);
                        break;
                    }
                case Embedding embedding:
                    Target(embedding.weight!).normal_(0, 1, generator);
                    break;
            }
        }
    }

    /// <summary>The module, then each child's subtree in registration order; a module shared by two parents (the tied
    /// embedding) once, where it is first met. Not named_modules(): that lists each level before the next.</summary>
    static IEnumerable<nn.Module> DepthFirst(nn.Module module, HashSet<nn.Module> seen)
    {
        if (!seen.Add(module)) yield break;
        yield return module;
        foreach (var (_, child) in module.named_children())
            foreach (var m in DepthFirst(child, seen)) yield return m;
    }
}
