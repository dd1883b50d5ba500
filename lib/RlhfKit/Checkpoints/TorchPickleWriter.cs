using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>
/// Writes a state dict in PyTorch's zip form (what <c>torch.save(state_dict, f)</c> writes since 1.6): an archive
/// <c>archive/data.pkl</c> (a protocol-2 pickle of a dict of <c>torch._utils._rebuild_tensor_v2</c> calls over
/// persistent storages), one <c>archive/data/&lt;key&gt;</c> entry per tensor, <c>archive/byteorder</c> and
/// <c>archive/version</c>. The pickle names only <c>torch._utils._rebuild_tensor_v2</c>,
/// <c>collections.OrderedDict</c> and typed storage classes, so both <c>torch.load</c> (also with
/// <c>weights_only=True</c>) and the kit's own whitelisting reader accept it. Each tensor gets a storage of its own
/// (tied tensors are written twice, as values), so nothing relies on shared storages reading back.
/// </summary>
internal static class TorchPickleWriter
{
    /// <summary>The typed storage class <c>torch.load</c> rebuilds each supported element type from.</summary>
    static string StorageClass(ScalarType type, string name) => type switch
    {
        ScalarType.Float64 => "DoubleStorage",
        ScalarType.Float32 => "FloatStorage",
        ScalarType.Float16 => "HalfStorage",
        ScalarType.BFloat16 => "BFloat16Storage",
        ScalarType.Int64 => "LongStorage",
        ScalarType.Int32 => "IntStorage",
        ScalarType.Bool => "BoolStorage",
        _ => throw new NotSupportedException($"tensor '{name}' has element type {type}, which the PyTorch writer does not support"),
    };

    public static void Write(Stream stream, IReadOnlyList<(string Name, Tensor Tensor)> tensors)
    {
        var prepared = new List<(string Name, Tensor Tensor, string Storage)>();
        try
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, tensor) in tensors)
            {
                if (string.IsNullOrEmpty(name)) throw new ArgumentException("a state-dict key cannot be empty", nameof(tensors));
                if (!names.Add(name)) throw new ArgumentException($"state-dict key '{name}' appears twice", nameof(tensors));
                var storage = StorageClass(tensor.dtype, name);
                var bytes = tensor.numel() * DTypes.Size(tensor.dtype);
                if (bytes > int.MaxValue) throw new NotSupportedException($"tensor '{name}' is {bytes} bytes; tensors over 2 GiB are not supported");
                prepared.Add((name, Safetensors.CpuContiguous(tensor), storage));
            }

            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            void Add(string entryName, ReadOnlySpan<byte> data)
            {
                var entry = zip.CreateEntry(entryName, CompressionLevel.NoCompression);
                using var s = entry.Open();
                s.Write(data);
            }
            Add("archive/data.pkl", Pickle(prepared));
            Add("archive/byteorder", "little"u8);
            for (int i = 0; i < prepared.Count; i++)
                Add($"archive/data/{i}", prepared[i].Tensor.numel() > 0 ? prepared[i].Tensor.bytes : Span<byte>.Empty);
            Add("archive/version", "3\n"u8);
        }
        finally
        {
            foreach (var p in prepared) p.Tensor.Dispose();
        }
    }

    /// <summary>The state-dict pickle: storage keys are the tensors' positions ("0", "1", ...).</summary>
    static byte[] Pickle(List<(string Name, Tensor Tensor, string Storage)> tensors)
    {
        var p = new MemoryStream();
        void Op(byte b) => p.WriteByte(b);
        void Str(string s)
        {
            var b = Encoding.UTF8.GetBytes(s);
            Op((byte)'X'); // BINUNICODE
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)b.Length);
            p.Write(len);
            p.Write(b);
        }
        void Int(long v)
        {
            Span<byte> buf = stackalloc byte[8];
            if (v is >= int.MinValue and <= int.MaxValue)
            {
                Op((byte)'J'); // BININT
                BinaryPrimitives.WriteInt32LittleEndian(buf, (int)v);
                p.Write(buf[..4]);
            }
            else
            {
                Op(0x8A); Op(8); // LONG1, 8 bytes
                BinaryPrimitives.WriteInt64LittleEndian(buf, v);
                p.Write(buf);
            }
        }
        void Global(string module, string name) { Op((byte)'c'); p.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); }
        void Ints(long[] values) { Op((byte)'('); foreach (var v in values) Int(v); Op((byte)'t'); }

        Op(0x80); Op(2);    // PROTO 2
        Op((byte)'}');      // EMPTY_DICT
        Op((byte)'(');      // MARK
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, t, storage) = tensors[i];
            var shape = t.shape;
            var stride = new long[shape.Length];
            for (long s = 1, d = shape.Length - 1; d >= 0; d--) { stride[d] = s; s *= Math.Max(1, shape[d]); }
            Str(name);
            Global("torch._utils", "_rebuild_tensor_v2");
            Op((byte)'(');
            // persistent id ('storage', torch.<X>Storage, key, 'cpu', numel)
            Op((byte)'('); Str("storage"); Global("torch", storage); Str(i.ToString(System.Globalization.CultureInfo.InvariantCulture)); Str("cpu"); Int(t.numel()); Op((byte)'t');
            Op((byte)'Q');  // BINPERSID
            Int(0);         // storage offset
            Ints(shape);
            Ints(stride);
            Op(0x89);       // NEWFALSE: requires_grad
            Global("collections", "OrderedDict"); Op((byte)')'); Op((byte)'R'); // backward hooks: OrderedDict()
            Op((byte)'t');
            Op((byte)'R');
        }
        Op((byte)'u');      // SETITEMS
        Op((byte)'.');      // STOP
        return p.ToArray();
    }
}
