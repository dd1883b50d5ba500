using System.Runtime.InteropServices;

namespace RlhfKit.Native;

/// <summary>
/// Returns freed C heap memory to the operating system. LibTorch's CPU tensors come from malloc; glibc keeps freed
/// blocks below its mmap threshold in the heap, and with the many differently sized activations of a PPO step the
/// heap fragments and the resident size creeps up step after step. <c>malloc_trim(0)</c> releases the free pages
/// (also those in the middle of the heap). A no-op where glibc is not the C library (Windows, macOS, musl).
/// </summary>
public static class NativeHeap
{
    static int _unavailable;

#pragma warning disable SYSLIB1054 // a plain DllImport: LibraryImport would need unsafe code in the library
    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
#pragma warning restore SYSLIB1054

    /// <summary>Releases free heap memory to the OS; returns whether anything was released.</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref _unavailable) != 0) return false;
        try { return MallocTrim(0) != 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref _unavailable, 1);
            return false;
        }
    }
}
