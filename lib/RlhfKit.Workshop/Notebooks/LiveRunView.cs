using System.Reflection;
using RlhfKit.Alignment;

namespace RlhfKit.Notebooks;

/// <summary>
/// A progress bar and the reward/KL chart of an <see cref="AlignmentRun"/>, shown once and updated at every step while
/// a loop over <see cref="AlignmentRun.Batches"/> runs: <c>var live = LiveRunView.Show(run);</c> before the loop,
/// <c>live.Close();</c> after it. In a notebook they are the kernel's displayed values (updated in place); in a
/// file-based app, console lines and a chart page (<see cref="ConsoleNotebook"/>).
/// </summary>
public sealed class LiveRunView
{
    readonly AlignmentRun _run;
    readonly Action<object> _bar, _chart;

    LiveRunView(AlignmentRun run)
    {
        _run = run;
        _bar = Display(new ProgressView(null));
        _chart = Display(RunCharts.RewardAndKl(run.Log));
        run.Progress += OnProgress;
        run.StepCompleted += OnStep;
    }

    public static LiveRunView Show(AlignmentRun run) => new(run ?? throw new ArgumentNullException(nameof(run)));

    /// <summary>Stops following the run and redraws the chart with plotly.js inlined, so a saved notebook shows it.</summary>
    public void Close()
    {
        _run.Progress -= OnProgress;
        _run.StepCompleted -= OnStep;
        _chart(RunCharts.RewardAndKl(_run.Log));
    }

    void OnProgress(RunProgress progress) => _bar(new ProgressView(progress));

    // The live updates carry no plotly.js (the first display loaded it): LiveChart.
    void OnStep(StepLog _) => _chart(new LiveChart(RunCharts.RewardAndKl(_run.Log)));

    /// <summary>Shows <paramref name="value"/> and returns how to replace it: the .NET Interactive kernel's
    /// <c>display(value)</c> and <c>DisplayedValue.Update</c> when the kit runs inside one, else the console's.</summary>
    static Action<object> Display(object value)
    {
        if (KernelDisplay() is { } display)
        {
            var args = display.GetParameters().Select((p, i) => i == 0 ? value : p.ParameterType.IsArray ? Array.CreateInstance(p.ParameterType.GetElementType()!, 0) : p.DefaultValue).ToArray();
            var shown = display.Invoke(null, args) ?? throw new InvalidOperationException("The notebook kernel's display() returned nothing.");
            var update = shown.GetType().GetMethod("Update", [typeof(object)])
                ?? throw new InvalidOperationException($"The notebook kernel's {shown.GetType().Name} has no Update(object).");
            return v => update.Invoke(shown, [v]);
        }
        var view = ConsoleNotebook.display(value);
        return view.Update;
    }

    /// <summary><c>Microsoft.DotNet.Interactive.Kernel.display(object, ...)</c> of the loaded kernel, or null outside one.</summary>
    static MethodInfo? KernelDisplay() => AppDomain.CurrentDomain.GetAssemblies()
        .Where(a => a.GetName().Name == "Microsoft.DotNet.Interactive")
        .Select(a => a.GetType("Microsoft.DotNet.Interactive.Kernel"))
        .Where(t => t is not null)
        .SelectMany(t => t!.GetMethods(BindingFlags.Public | BindingFlags.Static))
        .FirstOrDefault(m => m.Name == "display" && m.GetParameters() is [{ ParameterType: var first }, ..] && first == typeof(object));
}
