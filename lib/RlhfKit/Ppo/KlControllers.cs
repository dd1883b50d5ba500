namespace RlhfKit.Ppo;

/// <summary>Supplies the KL penalty coefficient and adapts it after each PPO step (TRL's KL controllers).</summary>
public interface IKlController
{
    /// <summary>The current KL coefficient.</summary>
    double Value { get; }

    /// <summary>Updates <see cref="Value"/> from the measured KL of a step that used <paramref name="nSteps"/> samples.</summary>
    void Update(double current, int nSteps);
}

/// <summary>
/// Adaptive KL controller of Ziegler et al. (TRL's <c>AdaptiveKLController</c>):
/// <c>error = clip(current / target - 1, -0.2, 0.2)</c>, then <c>value *= 1 + error * nSteps / horizon</c>.
/// As in TRL nothing bounds <c>nSteps / horizon</c>, so one update with <c>nSteps &gt; horizon</c> can move the value
/// by more than 20%.
/// Better than TRL: a NaN <paramref name="current"/> in <see cref="Update"/> leaves the value unchanged (TRL's value
/// would become NaN and poison every later reward); the constructor rejects a non-positive target or horizon.
/// </summary>
public sealed class AdaptiveKlController : IKlController
{
    public AdaptiveKlController(double initKlCoef, double target, double horizon)
    {
        if (!double.IsFinite(initKlCoef) || initKlCoef < 0)
            throw new ArgumentOutOfRangeException(nameof(initKlCoef), initKlCoef, "initKlCoef must be a non-negative number.");
        if (!double.IsFinite(target) || target <= 0)
            throw new ArgumentOutOfRangeException(nameof(target), target, "target must be a positive number.");
        if (!double.IsFinite(horizon) || horizon <= 0)
            throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "horizon must be a positive number.");
        Value = initKlCoef;
        Target = target;
        Horizon = horizon;
    }

    public double Value { get; private set; }
    public double Target { get; }
    public double Horizon { get; }

    public void Update(double current, int nSteps)
    {
        if (double.IsNaN(current)) return;
        var proportionalError = Math.Clamp(current / Target - 1, -0.2, 0.2);
        Value *= 1 + proportionalError * nSteps / Horizon;
    }
}

/// <summary>Fixed KL coefficient (TRL's <c>FixedKLController</c>): <see cref="Update"/> does nothing.</summary>
public sealed class FixedKlController : IKlController
{
    public FixedKlController(double klCoef)
    {
        if (!double.IsFinite(klCoef) || klCoef < 0)
            throw new ArgumentOutOfRangeException(nameof(klCoef), klCoef, "klCoef must be a non-negative number.");
        Value = klCoef;
    }

    public double Value { get; }

    public void Update(double current, int nSteps) { }
}
