using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfKit.Common;

/// <summary>
/// <c>torch.optim.Adam</c> and <c>AdamW</c> as TorchSharp 0.107 implements them, step for step and bit for bit, with every
/// number the step hands to torch held until the call has returned (see <see cref="Scalars"/>: TorchSharp's own step passes
/// the betas, the bias corrections and the step size as Scalars only a finalizer frees). State, options, learning-rate
/// schedules and <c>save_state_dict</c>/<c>load_state_dict</c> are TorchSharp's, so checkpoints written before still load.
/// Better than TorchSharp's step in memory and time, with the same bits: TorchSharp runs the whole step in one dispose
/// scope, so every parameter's temporaries (the denominator <c>√v / √(1-β₂ᵗ)</c> and its intermediate: twice the
/// parameters' size, 616 MB for flan-t5-small) stay allocated until the last parameter is done. Here each parameter's
/// update has its own scope and writes its denominator into one reused buffer (<see cref="StepScratch"/>), so a step
/// allocates nothing per parameter (PyTorch's for-loop Adam frees them as it goes, but allocates them anew each time).
/// </summary>
public static class Optimizers
{
    /// <summary>Adam (Kingma and Ba 2015), as <c>torch.optim.Adam(params, lr, betas, eps, weight_decay)</c>.</summary>
    public static Adam Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 0) => new HeldScalars.Adam(parameters, lr, beta1, beta2, eps, weight_decay);

    /// <summary>AdamW (Loshchilov and Hutter 2019), as <c>torch.optim.AdamW(params, lr, betas, eps, weight_decay)</c>.</summary>
    public static AdamW AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 0.01) => new HeldScalars.AdamW(parameters, lr, beta1, beta2, eps, weight_decay);

    /// <summary>
    /// One parameter group's step, shared by both: for each parameter with a gradient, <paramref name="advance"/> counts
    /// the step and hands over its moments, <paramref name="decay"/> applies the variant's weight decay (given
    /// <paramref name="decayValue"/> as a held Scalar), then <see cref="Update"/>. The group's numbers are held for the loop.
    /// </summary>
    internal static void StepGroup(string name, IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps,
        bool amsgrad, bool maximize, double decayValue, Func<Parameter, Tensor, Scalar, Tensor> decay,
        Func<Parameter, (Tensor ExpAvg, Tensor ExpAvgSq, long Step)> advance, StepScratch scratch)
    {
        if (amsgrad) throw new NotSupportedException($"The kit's {name} does not implement amsgrad.");
        using Scalar b1 = beta1.ToScalar(), oneMinusB1 = (1.0 - beta1).ToScalar(), b2 = beta2.ToScalar(), oneMinusB2 = (1.0 - beta2).ToScalar(),
            epsilon = eps.ToScalar(), decayScalar = decayValue.ToScalar();
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        scratch.Reserve(withGrad);
        foreach (var parameter in withGrad)
        {
            using var scope = NewDisposeScope(); // this parameter's temporaries go before the next parameter's come
            var grad = parameter.grad!;
            if (maximize) grad = -grad;
            var (expAvg, expAvgSq, step) = advance(parameter);
            grad = decay(parameter, grad, decayScalar);
            Update(parameter, grad, expAvg, expAvgSq, scratch.Like(parameter), step, lr, beta1, beta2, b1, oneMinusB1, b2, oneMinusB2, epsilon);
        }
    }

    /// <summary>The moment updates shared by both:
    /// <c>m ← β₁m + (1-β₁)g</c>, <c>v ← β₂v + (1-β₂)g²</c>, <c>p ← p - (lr / (1-β₁ᵗ)) · m / (√v / √(1-β₂ᵗ) + ε)</c>.
    /// The denominator is computed in <paramref name="denom"/> (the parameter's shape) with the same operations in the
    /// same order as torch's out-of-place <c>(v.sqrt() / √(1-β₂ᵗ)).add_(ε)</c>, so the result is the same to the bit.</summary>
    static void Update(Parameter parameter, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor denom, long step, double lr, double beta1, double beta2,
        Scalar b1, Scalar oneMinusB1, Scalar b2, Scalar oneMinusB2, Scalar eps)
    {
        double biasCorrection1 = 1.0 - Math.Pow(beta1, step);
        double biasCorrection2 = 1.0 - Math.Pow(beta2, step);
        expAvg.mul_(b1).add_(grad, oneMinusB1);
        expAvgSq.mul_(b2).addcmul_(grad, grad.conj(), oneMinusB2);
        using Scalar sqrtBc2 = Math.Sqrt(biasCorrection2).ToScalar(), negStepSize = (0.0 - lr / biasCorrection1).ToScalar();
        denom.copy_(expAvgSq).sqrt_().div_(sqrtBc2).add_(eps, Scalars.One);
        parameter.addcdiv_(expAvg, denom, negStepSize);
    }
}

/// <summary>
/// The optimiser step's working memory: one flat buffer per dtype and device, as large as the largest parameter of that
/// kind, kept from step to step (a fresh one each step would fault its pages in again) and freed with the optimiser.
/// </summary>
internal sealed class StepScratch : IDisposable
{
    readonly Dictionary<(ScalarType, DeviceType, int), Tensor> _buffers = [];

    static (ScalarType, DeviceType, int) Key(Tensor t) => (t.dtype, t.device_type, t.device_index);

    /// <summary>Makes each buffer large enough for every parameter of its kind in <paramref name="parameters"/>.</summary>
    public void Reserve(IEnumerable<Tensor> parameters)
    {
        foreach (var group in parameters.GroupBy(Key))
        {
            long needed = group.Max(p => p.numel());
            if (_buffers.TryGetValue(group.Key, out var buffer) && buffer.numel() >= needed) continue;
            buffer?.Dispose();
            var first = group.First();
            // Outside every dispose scope: the step's own scope would free it at the end of the step.
            _buffers[group.Key] = empty(needed, dtype: first.dtype, device: first.device).DetachFromDisposeScope();
        }
    }

    /// <summary>A view of the buffer in <paramref name="parameter"/>'s shape (after <see cref="Reserve"/>).</summary>
    public Tensor Like(Tensor parameter) => _buffers[Key(parameter)].narrow(0, 0, parameter.numel()).view(parameter.shape);

    public void Dispose()
    {
        foreach (var buffer in _buffers.Values) buffer.Dispose();
        _buffers.Clear();
    }
}
