using RlhfKit.Native;
using TorchSharp;

namespace RlhfKit.Tests.Native;

public class TorchRuntimeTests
{
    [Fact]
    public void TorchLoadsAndComputes()
    {
        TorchRuntime.EnsureLoaded();
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var b = a.matmul(a.T);
        Assert.Equal(new float[] { 5, 14, 14, 50 }, b.data<float>().ToArray());
    }

    [LinuxFact("patches the ELF libLibTorchSharp.so that only Linux builds carry")]
    public void PatcherMarksRequirementWeakIdempotently()
    {
        if (TorchRuntime.NativeDirectory is null) TorchRuntime.EnsureLoaded();
        var source = Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault()
            ?? throw new FileNotFoundException($"no libLibTorchSharp.so under {AppContext.BaseDirectory}");
        var copy = Path.Combine(Path.GetTempPath(), $"patch-{Guid.NewGuid():N}.so");
        File.Copy(source, copy);
        try
        {
            ElfVersionPatcher.SetWeak(copy, "GLIBCXX_3.4.32", weak: false);
            Assert.Equal(0, ElfVersionPatcher.ReadRequirementFlags(copy)["GLIBCXX_3.4.32"] & ElfVersionPatcher.VerFlagWeak);
            Assert.True(ElfVersionPatcher.SetWeak(copy, "GLIBCXX_3.4.32", weak: true));
            var flags = ElfVersionPatcher.ReadRequirementFlags(copy);
            Assert.Equal(ElfVersionPatcher.VerFlagWeak, flags["GLIBCXX_3.4.32"] & ElfVersionPatcher.VerFlagWeak);
            Assert.Equal(0, flags["GLIBCXX_3.4.30"] & ElfVersionPatcher.VerFlagWeak); // others untouched
            Assert.False(ElfVersionPatcher.SetWeak(copy, "GLIBCXX_3.4.32", weak: true));
        }
        finally { File.Delete(copy); }
    }

    [Fact]
    public void PatcherRejectsNonElfWithFileName()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-elf-{Guid.NewGuid():N}.so");
        File.WriteAllText(path, "hello, this is not an ELF file at all, just text padding to 64 bytes.........");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadRequirementFlags(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }
}
