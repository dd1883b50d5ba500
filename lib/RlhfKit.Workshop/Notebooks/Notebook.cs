using System.Reflection;
using Microsoft.Data.Analysis;
using RlhfKit.Charts;
using RlhfKit.Native;
using XPlot.Plotly;

namespace RlhfKit.Notebooks;

/// <summary>
/// The first call of every lesson: <c>Notebook.Start();</c> loads LibTorch (<see cref="TorchRuntime.EnsureLoaded"/>) and
/// tells the notebook how to draw the kit's charts, tables and progress views as HTML (plotly.js inlined from
/// <c>tools/plotly</c>, so charts draw offline).
/// </summary>
/// <remarks>
/// The formatters are registered with .NET Interactive's <c>Formatter.Register&lt;T&gt;(Func&lt;T, string&gt;, mimeType)</c>,
/// found at run time in the kernel that loaded the kit, so the kit binds to whichever version of the kernel VS Code,
/// Jupyter or dotnet-repl runs, and a file-based app (no kernel) only loads LibTorch.
/// </remarks>
public static class Notebook
{
    /// <summary>Loads LibTorch and, inside a .NET Interactive kernel, registers the HTML formatters. Returns true when
    /// a kernel's formatter took them.</summary>
    public static bool Start()
    {
        TorchRuntime.EnsureLoaded();
        var register = FindRegister();
        if (register is null) return false;
        Register<PlotlyChart>(register, chart => ChartHtml.ToInlineHtml(chart));
        Register<DataFrame>(register, frame => Tables.ToHtml(frame));
        Register<IHtmlView>(register, view => view.ToHtml());
        return true;
    }

    static void Register<T>(MethodInfo register, Func<T, string> toHtml) =>
        register.MakeGenericMethod(typeof(T)).Invoke(null, [toHtml, "text/html"]);

    /// <summary><c>Microsoft.DotNet.Interactive.Formatting.Formatter.Register&lt;T&gt;(Func&lt;T, string&gt;, string)</c> of
    /// the loaded kernel, or null outside one.</summary>
    static MethodInfo? FindRegister()
    {
        var formatter = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => a.GetName().Name == "Microsoft.DotNet.Interactive.Formatting")
            .Select(a => a.GetType("Microsoft.DotNet.Interactive.Formatting.Formatter"))
            .FirstOrDefault(t => t is not null);
        return formatter?.GetMethods(BindingFlags.Public | BindingFlags.Static).FirstOrDefault(m =>
            m.Name == "Register" && m.IsGenericMethodDefinition && m.GetParameters() is [var f, var mime]
            && f.ParameterType.IsGenericType && f.ParameterType.GetGenericTypeDefinition() == typeof(Func<,>)
            && f.ParameterType.GetGenericArguments()[1] == typeof(string) && mime.ParameterType == typeof(string));
    }
}
