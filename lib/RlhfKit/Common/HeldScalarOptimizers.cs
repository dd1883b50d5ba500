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
        double weightDecay = o.weight_decay!.Value;
        Optimizers.StepGroup("Adam", group.Parameters, o.LearningRate!.Value, o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.amsgrad!.Value,
            o.maximize!.Value, weightDecay,
            decay: (parameter, grad, lambda) => weightDecay != 0.0 ? grad.add(parameter, lambda) : grad, // Adam's L2 term: g + λp
            advance: parameter =>
            {
                var state = (State)_state[parameter.Handle];
                state.step++;
                return (state.exp_avg, state.exp_avg_sq, state.step);
            }, _scratch);
    }, closure);

    readonly StepScratch _scratch = new();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _scratch.Dispose();
        base.Dispose(disposing);
    }
}

internal sealed class AdamW(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
    : TorchSharp.Modules.AdamW(parameters, lr, beta1, beta2, eps, weightDecay)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double lr = o.LearningRate!.Value;
        Optimizers.StepGroup("AdamW", group.Parameters, lr, o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.amsgrad!.Value,
            o.maximize!.Value, 1.0 - lr * o.weight_decay!.Value,
            decay: (parameter, grad, shrink) => { parameter.mul_(shrink); return grad; }, // decoupled: p ← p(1 - lr·λ)
            advance: parameter =>
            {
                var state = (State)_state[parameter.Handle];
                state.step++;
                return (state.exp_avg, state.exp_avg_sq, state.step);
            }, _scratch);
    }, closure);

    readonly StepScratch _scratch = new();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _scratch.Dispose();
        base.Dispose(disposing);
    }
}
