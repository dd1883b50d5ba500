using System.Runtime.InteropServices;

namespace RlhfKit.Native;

/// <summary>
/// Returns freed C heap memory to the operating system when enough of it has piled up. LibTorch's CPU tensors come
/// from malloc; glibc keeps freed blocks in the heap, and with the many differently sized activations of a PPO step
/// the heap fragments and the resident size creeps up step after step. <c>malloc_trim(0)</c> releases the free
/// pages (also those in the middle of the heap), but every page it releases faults back in, zeroed, when the next
/// tensor touches it: trimming after every optimiser step of a small model cost more than half of its PPO step in
/// page faults. So <see cref="Trim"/> trims only when the heap's free bytes (glibc's <c>mallinfo2().fordblks</c>)
/// exceed a threshold: the resident size then stays within that threshold of what is in use, and small models,
/// whose free bytes never reach it, pay nothing. A no-op where glibc is not the C library (Windows, macOS, musl).
/// </summary>
public static class NativeHeap
{
    /// <summary>Free heap bytes kept before <see cref="Trim"/> gives them back: 256 MiB, or the environment variable
    /// <c>RLHFKIT_HEAP_KEEP_FREE_MB</c> (0 trims every time, as the kit did before).</summary>
    public static long DefaultKeepFreeBytes { get; } =
        long.TryParse(Environment.GetEnvironmentVariable("RLHFKIT_HEAP_KEEP_FREE_MB"), out var mb) && mb >= 0 ? mb << 20 : 256L << 20;

    static int _unavailable, _noMallinfo;

    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

#pragma warning disable SYSLIB1054 // plain DllImports: LibraryImport would need unsafe code in the library
    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "mallinfo2")]
    static extern MallInfo2 Mallinfo2();
#pragma warning restore SYSLIB1054

    /// <summary>
    /// Bytes glibc holds free in its heap arenas (<c>mallinfo2().fordblks</c>); null where that is not available
    /// (not Linux, not glibc, or glibc older than 2.33).
    /// </summary>
    public static long? FreeBytes()
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref _noMallinfo) != 0) return null;
        try { return (long)Mallinfo2().Fordblks; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref _noMallinfo, 1);
            return null;
        }
    }

    /// <summary>
    /// Releases free heap memory to the OS when more than <paramref name="keepFreeBytes"/> (default
    /// <see cref="DefaultKeepFreeBytes"/>) of it is free (0: always;
    /// also always where the free bytes cannot be read). Returns whether anything was released.
    /// </summary>
    public static bool Trim(long? keepFreeBytes = null)
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref _unavailable) != 0) return false;
        long keep = keepFreeBytes ?? DefaultKeepFreeBytes;
        if (keep > 0 && FreeBytes() is long free && free <= keep) return false;
        try { return MallocTrim(0) != 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref _unavailable, 1);
            return false;
        }
    }
}
