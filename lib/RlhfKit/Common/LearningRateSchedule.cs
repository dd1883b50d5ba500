namespace RlhfKit.Common;

/// <summary>Learning-rate schedules, as multipliers of the base rate at each optimiser step.</summary>
public static class LearningRateSchedule
{
    /// <summary>Linear warm-up then linear decay (transformers' <c>get_linear_schedule_with_warmup</c>, one step earlier so
    /// the first step does not run at rate 0): <c>(step + 1) / warmup</c> for <c>step &lt; warmup</c>, then
    /// <c>max(0, (total - step) / (total - warmup))</c>. <paramref name="step"/> counts from 0.</summary>
    public static double LinearWithWarmup(int step, int warmupSteps, int totalSteps) => step < warmupSteps
        ? Warmup(step, warmupSteps)
        : Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));

    /// <summary>Linear warm-up, then the full rate (transformers' <c>get_constant_schedule_with_warmup</c>, one step
    /// earlier): <c>(step + 1) / warmup</c> for <c>step &lt; warmup</c>, then 1.</summary>
    public static double Warmup(int step, int warmupSteps) => step < warmupSteps ? (double)(step + 1) / warmupSteps : 1.0;
}
