using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

// The optimisers behind RlhfKit.Common.Optimizers.
namespace RlhfKit.Common.HeldScalars;

// Named as TorchSharp names them: save_state_dict writes the type's name and load_state_dict checks it, so
// checkpoints of either load into the other.
internal sealed class Adam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
    : TorchSharp.Modules.Adam(parameters, lr, beta1, beta2, eps, weightDecay)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        if (o.amsgrad!.Value) throw new NotSupportedException("The kit's Adam does not implement amsgrad.");
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, weightDecay = o.weight_decay!.Value, lr = o.LearningRate!.Value;
        using Scalar b1 = beta1.ToScalar(), oneMinusB1 = (1.0 - beta1).ToScalar(), b2 = beta2.ToScalar(), oneMinusB2 = (1.0 - beta2).ToScalar(),
            eps = o.eps!.Value.ToScalar(), decay = weightDecay.ToScalar();
        foreach (var parameter in group.Parameters)
        {
            var state = (State)_state[parameter.Handle];
            var grad = parameter.grad;
            if (grad is null) continue;
            if (o.maximize!.Value) grad = -grad;
            state.step++;
            if (weightDecay != 0.0) grad = grad.add(parameter, decay); // Adam's L2 term: g + λp
            Optimizers.Update(parameter, grad, state.exp_avg, state.exp_avg_sq, state.step, lr, beta1, beta2, b1, oneMinusB1, b2, oneMinusB2, eps);
        }
    }, closure);
}

internal sealed class AdamW(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
    : TorchSharp.Modules.AdamW(parameters, lr, beta1, beta2, eps, weightDecay)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        if (o.amsgrad!.Value) throw new NotSupportedException("The kit's AdamW does not implement amsgrad.");
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, weightDecay = o.weight_decay!.Value, lr = o.LearningRate!.Value;
        using Scalar b1 = beta1.ToScalar(), oneMinusB1 = (1.0 - beta1).ToScalar(), b2 = beta2.ToScalar(), oneMinusB2 = (1.0 - beta2).ToScalar(),
            eps = o.eps!.Value.ToScalar(), shrink = (1.0 - lr * weightDecay).ToScalar();
        foreach (var parameter in group.Parameters)
        {
            var state = (State)_state[parameter.Handle];
            var grad = parameter.grad;
            if (grad is null) continue;
            if (o.maximize!.Value) grad = -grad;
            state.step++;
            parameter.mul_(shrink); // decoupled weight decay: p ← p(1 - lr·λ)
            Optimizers.Update(parameter, grad, state.exp_avg, state.exp_avg_sq, state.step, lr, beta1, beta2, b1, oneMinusB1, b2, oneMinusB2, eps);
        }
    }, closure);
}
