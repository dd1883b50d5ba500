using System.Runtime.InteropServices;
using RlhfKit.Native;

namespace RlhfKit.Tests.Native;

public class NativeHeapTests
{
    [LinuxFact("reads glibc's mallinfo2")]
    public void FreeBytesGrowWhenHeapBlocksAreFreed()
    {
        Assert.NotNull(NativeHeap.FreeBytes()); // Debian 12's glibc 2.36 has mallinfo2
        // 64 MiB in 1 KiB blocks (below glibc's mmap threshold, so they come from the heap), the last kept so the
        // freed ones are not merged into the top of the heap and returned on free.
        var blocks = Enumerable.Range(0, 65536).Select(_ => Marshal.AllocHGlobal(1024)).ToArray();
        var before = NativeHeap.FreeBytes()!.Value;
        for (int i = 0; i < blocks.Length - 1; i += 2) Marshal.FreeHGlobal(blocks[i]); // every other block: no coalescing
        var after = NativeHeap.FreeBytes()!.Value;
        for (int i = 1; i < blocks.Length; i += 2) Marshal.FreeHGlobal(blocks[i]);
        // Other tests allocate beside this one; half of the 32 MiB freed is a bound they cannot take away.
        Assert.True(after - before >= 16L << 20, $"free heap bytes {before} -> {after} after freeing 32 MiB");
    }

    [Fact]
    public void TrimSkipsWhileTheFreeHeapIsUnderTheThreshold()
    {
        Assert.False(NativeHeap.Trim(keepFreeBytes: long.MaxValue));
    }

    [LinuxFact("calls glibc's malloc_trim")]
    public void TrimReleasesFreedPagesWhenTheThresholdIsZero()
    {
        var blocks = Enumerable.Range(0, 16384).Select(_ => Marshal.AllocHGlobal(8192)).ToArray();
        for (int i = 0; i < blocks.Length - 1; i++) Marshal.FreeHGlobal(blocks[i]);
        try { Assert.True(NativeHeap.Trim(keepFreeBytes: 0)); }
        finally { Marshal.FreeHGlobal(blocks[^1]); }
    }
}
