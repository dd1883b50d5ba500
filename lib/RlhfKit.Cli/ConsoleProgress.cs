namespace RlhfKit.Cli;

/// <summary>A one-line progress bar on stderr (redrawn in place on a terminal, one line per update otherwise).</summary>
internal sealed class ConsoleProgress(string label)
{
    readonly bool _interactive = !Console.IsErrorRedirected;
    DateTime _last = DateTime.MinValue;

    public void Update(double done, double total, string detail = "", bool force = false)
    {
        var now = DateTime.UtcNow;
        if (!force && (now - _last).TotalMilliseconds < (_interactive ? 100 : 5000) && done < total) return;
        _last = now;
        double fraction = total > 0 ? Math.Clamp(done / total, 0, 1) : 0;
        const int width = 28;
        int filled = (int)Math.Round(fraction * width);
        var bar = new string('#', filled) + new string('.', width - filled);
        var line = $"{label} [{bar}] {fraction,4:P0} {detail}";
        if (_interactive) Console.Error.Write("\r" + line.PadRight(Math.Max(line.Length, Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 160) : 0)));
        else Console.Error.WriteLine(line);
        if (_interactive && done >= total) Console.Error.WriteLine();
    }

    public static string Bytes(double b) => b switch
    {
        >= 1 << 30 => $"{b / (1 << 30):F1} GB",
        >= 1 << 20 => $"{b / (1 << 20):F1} MB",
        >= 1 << 10 => $"{b / (1 << 10):F0} KB",
        _ => $"{b:F0} B",
    };
}
