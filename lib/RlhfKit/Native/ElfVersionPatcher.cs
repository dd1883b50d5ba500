using System.Buffers.Binary;
using System.Text;

namespace RlhfKit.Native;

/// <summary>
/// Edits the GNU version-requirement table (<c>SHT_GNU_verneed</c>) of a 64-bit little-endian ELF shared object.
/// TorchSharp's <c>libLibTorchSharp.so</c> is linked against GCC 13 and asks for <c>GLIBCXX_3.4.32</c>, which
/// Debian 12 / Ubuntu 22.04 lack; the only symbol behind that version is never relocated, so marking the
/// requirement weak (<c>VER_FLG_WEAK</c>) lets the dynamic loader accept the older libstdc++.
/// </summary>
internal static class ElfVersionPatcher
{
    internal const ushort VerFlagWeak = 0x2;
    const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>The flags of each version requirement, by version name (for example <c>GLIBCXX_3.4.32</c>).</summary>
    internal static Dictionary<string, ushort> ReadRequirementFlags(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var result = new Dictionary<string, ushort>();
        foreach (var (name, flagsOffset) in Requirements(bytes, path))
            result[name] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(flagsOffset));
        return result;
    }

    /// <summary>Sets or clears the weak flag of one version requirement. Returns true when the file changed.
    /// The file is replaced atomically, so a process that loads it concurrently sees the old or the new copy.</summary>
    internal static bool SetWeak(string path, string versionName, bool weak)
    {
        var bytes = File.ReadAllBytes(path);
        var changed = false;
        foreach (var (name, flagsOffset) in Requirements(bytes, path))
        {
            if (name != versionName) continue;
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(flagsOffset));
            var updated = weak ? (ushort)(flags | VerFlagWeak) : (ushort)(flags & ~VerFlagWeak);
            if (updated == flags) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(flagsOffset), updated);
            changed = true;
        }
        if (changed) AtomicFile.WriteAllBytes(path, bytes);
        return changed;
    }

    static List<(string Name, int FlagsOffset)> Requirements(byte[] elf, string path)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file.");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{path}: only 64-bit little-endian ELF files are supported.");
        var span = elf.AsSpan();
        long shoff = BinaryPrimitives.ReadInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > elf.Length)
            throw new InvalidDataException($"{path}: section header table lies outside the file.");

        var found = new List<(string, int)>();
        for (int i = 0; i < shnum; i++)
        {
            var sh = span.Slice((int)(shoff + (long)i * shentsize), shentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            long offset = BinaryPrimitives.ReadInt64LittleEndian(sh[24..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]);
            int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[44..]);
            var strtab = span.Slice((int)(shoff + (long)link * shentsize), shentsize);
            long strOffset = BinaryPrimitives.ReadInt64LittleEndian(strtab[24..]);

            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(need + 2)..]);
                long aux = need + BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(need + 8)..]);
                for (int a = 0; a < auxCount; a++)
                {
                    uint nameIndex = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 8)..]);
                    found.Add((ReadCString(span, (int)(strOffset + nameIndex)), (int)(aux + 4)));
                    uint nextAux = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 12)..]);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint nextNeed = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(need + 12)..]);
                if (nextNeed == 0) break;
                need += nextNeed;
            }
        }
        return found;
    }

    static string ReadCString(ReadOnlySpan<byte> span, int start)
    {
        int end = span[start..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(span.Slice(start, end < 0 ? span.Length - start : end));
    }
}
