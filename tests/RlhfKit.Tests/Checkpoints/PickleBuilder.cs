using System.IO.Compression;
using System.Text;

namespace RlhfKit.Tests.Checkpoints;

/// <summary>Writes pickle opcodes by hand, to build PyTorch-style checkpoints (good and hostile) in tests.</summary>
internal sealed class PickleBuilder
{
    readonly MemoryStream _s = new();

    public PickleBuilder Op(byte op) { _s.WriteByte(op); return this; }
    public PickleBuilder Raw(params byte[] bytes) { _s.Write(bytes); return this; }
    public PickleBuilder Proto(byte v = 2) => Op(0x80).Raw(v);
    public PickleBuilder Mark() => Op((byte)'(');
    public PickleBuilder Stop() => Op((byte)'.');
    public PickleBuilder Tuple() => Op((byte)'t');
    public PickleBuilder Tuple1() => Op(0x85);
    public PickleBuilder EmptyTuple() => Op((byte)')');
    public PickleBuilder EmptyDict() => Op((byte)'}');
    public PickleBuilder EmptyList() => Op((byte)']');
    public PickleBuilder SetItems() => Op((byte)'u');
    public PickleBuilder Appends() => Op((byte)'e');
    public PickleBuilder Reduce() => Op((byte)'R');
    public PickleBuilder PersId() => Op((byte)'Q');
    public PickleBuilder False() => Op(0x89);
    public PickleBuilder None() => Op((byte)'N');
    public PickleBuilder Global(string module, string name) => Op((byte)'c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    public PickleBuilder StackGlobal(string module, string name) => Str(module).Str(name).Op(0x93);

    public PickleBuilder Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return Op((byte)'X').Raw(BitConverter.GetBytes((uint)b.Length)).Raw(b);
    }

    public PickleBuilder Int(long v)
    {
        if (v is >= int.MinValue and <= int.MaxValue) return Op((byte)'J').Raw(BitConverter.GetBytes((int)v));
        return Op(0x8A).Raw(8).Raw(BitConverter.GetBytes(v));
    }

    public PickleBuilder Ints(long[] values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Tuple();
    }

    public byte[] ToArray() => _s.ToArray();

    /// <summary>A tensor of a state dict as the pickle describes it.</summary>
    public sealed record TensorSpec(string Name, string StorageClass, string StorageKey, long StorageNumel,
        long Offset, long[] Size, long[] Stride);

    /// <summary>A state-dict pickle (a dict of _rebuild_tensor_v2 calls over persistent storages), as torch.save
    /// writes it; <paramref name="legacy"/> adds the view_metadata slot of the legacy form.</summary>
    public static byte[] StateDict(IEnumerable<TensorSpec> tensors, bool legacy)
    {
        var p = new PickleBuilder().Proto().EmptyDict().Mark();
        foreach (var t in tensors)
        {
            p.Str(t.Name).Global("torch._utils", "_rebuild_tensor_v2").Mark();
            p.Mark().Str("storage").Global("torch", t.StorageClass).Str(t.StorageKey).Str("cpu").Int(t.StorageNumel);
            if (legacy) p.None();
            p.Tuple().PersId();
            p.Int(t.Offset).Ints(t.Size).Ints(t.Stride).False().Global("collections", "OrderedDict").EmptyTuple().Reduce();
            p.Tuple().Reduce();
        }
        return p.SetItems().Stop().ToArray();
    }

    /// <summary>A legacy (pre-1.6) torch.save stream: magic, protocol version, sys info, the state-dict pickle, the
    /// storage keys, then each storage as an int64 element count and its bytes.</summary>
    public static byte[] Legacy(byte[] stateDictPickle, IReadOnlyList<(string Key, long Count, byte[] Data)> storages)
    {
        var s = new MemoryStream();
        // 0x1950a86a20f9469cfc6c as LONG1
        s.Write(new PickleBuilder().Proto().Op(0x8A).Raw(10).Raw(0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).Stop().ToArray());
        s.Write(new PickleBuilder().Proto().Int(1001).Stop().ToArray());
        s.Write(new PickleBuilder().Proto().EmptyDict().Mark().Str("protocol_version").Int(1001).Str("little_endian").Op(0x88)
            .SetItems().Stop().ToArray());
        s.Write(stateDictPickle);
        var keys = new PickleBuilder().Proto().EmptyList().Mark();
        foreach (var st in storages) keys.Str(st.Key);
        s.Write(keys.Appends().Stop().ToArray());
        foreach (var st in storages)
        {
            s.Write(BitConverter.GetBytes(st.Count));
            s.Write(st.Data);
        }
        return s.ToArray();
    }

    /// <summary>A zip torch.save archive: archive/data.pkl, archive/data/&lt;key&gt;, archive/byteorder, archive/version.</summary>
    public static byte[] Zip(byte[] dataPkl, IReadOnlyList<(string Key, byte[] Data)> storages, string byteorder = "little")
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] bytes)
            {
                var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
                using var s = e.Open();
                s.Write(bytes);
            }
            Add("archive/data.pkl", dataPkl);
            Add("archive/byteorder", Encoding.ASCII.GetBytes(byteorder));
            foreach (var (key, data) in storages) Add($"archive/data/{key}", data);
            Add("archive/version", Encoding.ASCII.GetBytes("3\n"));
        }
        return ms.ToArray();
    }

    public static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();
    public static byte[] Longs(params long[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();
}
