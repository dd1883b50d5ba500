namespace RlhfKit.Alignment;

/// <summary>
/// Time left from the recent pace: the median of the last <see cref="Window"/> step durations times the steps left.
/// Extrapolating from one step made the estimate jump (31, 6, 53, 40 minutes for one run) on a machine whose speed
/// varies; the median ignores a few slow or fast steps, and the window follows a lasting change of pace. Nothing is
/// estimated until <see cref="MinimumSteps"/> steps were timed (the first steps also pay for warm-up).
/// </summary>
public sealed class TimeLeftEstimate(int window = 10, int minimumSteps = 3)
{
    readonly Queue<TimeSpan> _recent = new();

    public int Window { get; } = window > 0 ? window : throw new ArgumentOutOfRangeException(nameof(window), window, "The window must hold at least one step.");
    public int MinimumSteps { get; } = minimumSteps > 0 ? minimumSteps : throw new ArgumentOutOfRangeException(nameof(minimumSteps), minimumSteps, "At least one step must be timed.");

    /// <summary>How many step durations were recorded in all.</summary>
    public int Count { get; private set; }

    /// <summary>Records one step's duration.</summary>
    public void Add(TimeSpan stepDuration)
    {
        _recent.Enqueue(stepDuration < TimeSpan.Zero ? TimeSpan.Zero : stepDuration);
        if (_recent.Count > Window) _recent.Dequeue();
        Count++;
    }

    /// <summary>The median of the recent step durations, or null before <see cref="MinimumSteps"/> steps.</summary>
    public TimeSpan? StepTime
    {
        get
        {
            if (Count < MinimumSteps || _recent.Count == 0) return null;
            var sorted = _recent.Order().ToArray();
            var mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }

    /// <summary>The time <paramref name="stepsLeft"/> more steps take at the recent pace, or null while it is unknown.</summary>
    public TimeSpan? Remaining(int stepsLeft) => StepTime is { } step ? step * Math.Max(0, stepsLeft) : null;
}
