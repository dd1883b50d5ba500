using System.Text.Json;
using TorchSharp;

namespace RlhfKit.Tests;

/// <summary>Reads the reference fixtures. The root comes from <c>WORKSHOP_FIXTURES</c> (so other fixture sets
/// of the same layout can be substituted), else the copy of <c>hf-reference</c> shipped with the tests.</summary>
public static class Fixtures
{
    public static string Root
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("WORKSHOP_FIXTURES");
            if (!string.IsNullOrEmpty(env)) return Path.GetFullPath(env);
            return Path.Combine(AppContext.BaseDirectory, "fixtures", "hf-reference");
        }
    }

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static JsonDocument Json(params string[] parts) => JsonDocument.Parse(File.ReadAllBytes(PathOf(parts)));

    /// <summary>A tensor stored as <c>{"shape": [...], "dtype": "...", "data": [...]}</c>; NaN and infinities as strings.</summary>
    public static torch.Tensor Tensor(JsonElement e)
    {
        var shape = e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
        var dtype = e.GetProperty("dtype").GetString();
        var data = e.GetProperty("data");
        if (dtype is "int64" or "int32" or "bool")
        {
            var values = data.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.True ? 1L : x.ValueKind == JsonValueKind.False ? 0L : x.GetInt64()).ToArray();
            return torch.tensor(values, dtype: torch.int64).reshape(shape);
        }
        var floats = data.EnumerateArray().Select(Float).ToArray();
        return torch.tensor(floats, dtype: torch.float32).reshape(shape);
    }

    public static float Float(JsonElement x) => x.ValueKind == JsonValueKind.String
        ? x.GetString() switch
        {
            "NaN" => float.NaN,
            "Infinity" => float.PositiveInfinity,
            "-Infinity" => float.NegativeInfinity,
            var s => throw new FormatException($"unexpected number string '{s}'"),
        }
        : x.GetSingle();

    public static double Double(JsonElement x) => x.ValueKind == JsonValueKind.String
        ? Float(x)
        : x.GetDouble();

    /// <summary>Asserts |actual - expected| &lt;= atol + rtol * |expected| elementwise, NaN matching NaN, with the
    /// worst element named in the failure.</summary>
    public static void AssertClose(torch.Tensor expected, torch.Tensor actual, double atol, double rtol = 0, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.to_type(torch.float64).cpu().data<double>().ToArray();
        var a = actual.detach().to_type(torch.float64).cpu().data<double>().ToArray();
        double worst = 0; int worstAt = -1;
        for (int i = 0; i < e.Length; i++)
        {
            if (double.IsNaN(e[i]) || double.IsNaN(a[i]))
            {
                Assert.True(double.IsNaN(e[i]) && double.IsNaN(a[i]), $"{what}[{i}]: expected {e[i]}, got {a[i]}");
                continue;
            }
            if (double.IsInfinity(e[i])) { Assert.Equal(e[i], a[i]); continue; }
            var excess = Math.Abs(a[i] - e[i]) - (atol + rtol * Math.Abs(e[i]));
            if (excess > worst) { worst = excess; worstAt = i; }
        }
        Assert.True(worstAt < 0, worstAt < 0 ? "" :
            $"{what}: element {worstAt} expected {e[worstAt]:R}, got {a[worstAt]:R} (|diff| {Math.Abs(a[worstAt] - e[worstAt]):E3} > atol {atol} + rtol {rtol})");
    }
}
