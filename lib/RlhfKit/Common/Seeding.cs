namespace RlhfKit.Common;

/// <summary>
/// Seeds every trainer of the kit derives its random streams from: pure 64-bit arithmetic (<see cref="SplitMix64"/>),
/// so a seed gives the same stream in every process, on every OS and .NET version, and a resumed run draws exactly
/// what an uninterrupted one would have drawn.
/// </summary>
public static class Seeding
{
    /// <summary>The seed of one random <paramref name="stream"/> of one <paramref name="step"/>:
    /// <c>c = mix(mix(mix(seed) ^ step) ^ stream)</c>, where <c>mix(x)</c> is the first SplitMix64 output from state x,
    /// kept to 31 bits (<c>c &amp; 0x7fffffff</c>) so it fits every seed parameter. (<c>HashCode.Combine</c> would not do:
    /// .NET randomises it per process.)</summary>
    public static long Derive(int seed, int step, int stream)
    {
        var a = new SplitMix64(unchecked((ulong)(uint)seed)).Next();
        var b = new SplitMix64(a ^ (uint)step).Next();
        var c = new SplitMix64(b ^ (uint)stream).Next();
        return (long)(c & 0x7fffffff);
    }

    /// <summary>A seeded permutation of 0..n-1 (Fisher-Yates over <see cref="SplitMix64"/>).</summary>
    public static int[] Permutation(int n, long seed) => SplitMix64.Permutation(n, unchecked((ulong)seed));
}
