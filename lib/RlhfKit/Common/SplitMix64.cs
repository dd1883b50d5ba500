namespace RlhfKit.Common;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the reference C is
/// Vigna's splitmix64.c). Pure 64-bit integer arithmetic, so a seed gives the same stream on every OS, CPU and .NET
/// version, unlike <see cref="System.Random"/>, whose algorithm is not part of its contract.
/// <code>
/// state += 0x9E3779B97F4A7C15
/// z = state
/// z = (z ^ (z &gt;&gt; 30)) * 0xBF58476D1CE4E5B9
/// z = (z ^ (z &gt;&gt; 27)) * 0x94D049BB133111EB
/// return z ^ (z &gt;&gt; 31)
/// </code>
/// </summary>
internal struct SplitMix64(ulong seed)
{
    ulong state = seed;

    public ulong Next()
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Uniform in [0, bound) without modulo bias: outputs below <c>2^64 mod bound</c> are rejected and drawn
    /// again (for small bounds that happens with probability about bound / 2^64, so in practice never), then
    /// <c>r mod bound</c>.</summary>
    public ulong NextBelow(ulong bound)
    {
        if (bound == 0) throw new ArgumentOutOfRangeException(nameof(bound), "bound must be positive.");
        var threshold = unchecked(0UL - bound) % bound; // 2^64 mod bound
        while (true)
        {
            var r = Next();
            if (r >= threshold) return r % bound;
        }
    }

    /// <summary>The Fisher–Yates (Durstenfeld) permutation of 0..n-1: start from the identity, then for
    /// i = n-1 down to 1 swap positions i and j = NextBelow(i + 1).</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        var rng = new SplitMix64(seed);
        for (var i = n - 1; i > 0; i--)
        {
            var j = (int)rng.NextBelow((ulong)i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
