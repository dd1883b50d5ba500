using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}}</c>, offsets
/// relative to the end of the header), then the raw little-endian row-major data.
/// </summary>
internal static class Safetensors
{
    /// <summary>The format's own limit on the header size (100 MB).</summary>
    const long MaxHeader = 100_000_000;

    internal sealed record Entry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    /// <summary>True when the first bytes look like a safetensors header (a plausible length followed by '{').</summary>
    public static bool Sniff(ReadOnlySpan<byte> head, long fileLength) =>
        head.Length >= 9 && head[8] == (byte)'{' &&
        BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n <= (ulong)Math.Max(0, fileLength - 8);

    public static (List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart) ReadHeader(string file, Stream stream)
    {
        var length = stream.Length;
        if (length < 8) throw CheckpointError.Format(file, $"safetensors file of {length} bytes is too short to hold the 8-byte header length (truncated?)");
        Span<byte> lenBytes = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(lenBytes);
        var n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)(length - 8))
            throw CheckpointError.Format(file, $"safetensors header length {n} is larger than the file ({length} bytes; truncated or not safetensors)");
        if (n > MaxHeader) throw CheckpointError.Format(file, $"safetensors header length {n} exceeds the format's 100 MB limit");
        if (n < 2) throw CheckpointError.Format(file, $"safetensors header length {n} is too short for a JSON object");
        var header = new byte[n];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)n;
        var dataLength = length - dataStart;

        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw CheckpointError.Format(file, "safetensors header is not valid UTF-8 (damaged or not safetensors)");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e)
        {
            throw CheckpointError.Format(file, $"safetensors header is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", inner: e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw CheckpointError.Format(file, "safetensors header is not a JSON object");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw CheckpointError.Format(file, "safetensors __metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()!
                            : throw CheckpointError.Format(file, $"safetensors __metadata__ value '{m.Name}' is not a string");
                    continue;
                }
                entries.Add(ParseEntry(file, prop.Name, prop.Value, dataLength));
            }

            var names = new HashSet<string>();
            foreach (var e in entries)
                if (!names.Add(e.Name)) throw CheckpointError.Format(file, "tensor appears twice in the safetensors header", e.Name);

            Entry? previous = null;
            foreach (var e in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
            {
                if (previous is not null && e.Begin < previous.End)
                    throw CheckpointError.Format(file,
                        $"data of '{e.Name}' [{e.Begin}, {e.End}) overlaps '{previous.Name}' [{previous.Begin}, {previous.End})", e.Name);
                previous = e;
            }
            return (entries, metadata, dataStart);
        }
    }

    static Entry ParseEntry(string file, string name, JsonElement value, long dataLength)
    {
        InvalidDataException Bad(string message) => CheckpointError.Format(file, message, name);
        if (value.ValueKind != JsonValueKind.Object) throw Bad("header entry is not an object");
        if (!value.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw Bad("header entry has no \"dtype\" string");
        var dtypeName = dtypeEl.GetString()!;
        if (!DTypes.TryFromSafetensors(dtypeName, out var dtype))
            throw Bad($"unknown or unsupported dtype '{dtypeName}' (supported: {string.Join(", ", DTypes.SafetensorsNames)})");
        if (!value.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw Bad("header entry has no \"shape\" array");
        var shape = new long[shapeEl.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
            shape[i++] = d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out var x) && x >= 0 ? x : throw Bad($"shape {shapeEl} holds something other than a non-negative integer");
        if (!value.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw Bad("header entry has no \"data_offsets\" [begin, end] pair");
        var offsets = offEl.EnumerateArray().Select(o => o.ValueKind == JsonValueKind.Number && o.TryGetInt64(out var x) && x >= 0 ? x : -1).ToArray();
        if (offsets[0] < 0 || offsets[1] < 0) throw Bad($"data_offsets {offEl} are not non-negative integers");
        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin) throw Bad($"data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes after the header; truncated?)");
        long expected;
        try { expected = checked(Shapes.Numel(shape) * DTypes.Size(dtype)); }
        catch (OverflowException) { throw Bad($"shape {Shapes.Format(shape)} overflows"); }
        if (end - begin != expected)
            throw Bad($"data_offsets [{begin}, {end}] span {end - begin} bytes but {dtypeName} {Shapes.Format(shape)} needs {expected}");
        return new Entry(name, dtype, shape, begin, end);
    }

    public static Dictionary<string, Tensor> Read(string file, ScalarType? dtype, long? maxBytes = null)
    {
        using var stream = File.OpenRead(file);
        var (entries, _, dataStart) = ReadHeader(file, stream);
        if (maxBytes is { } budget && entries.Sum(e => e.End - e.Begin) is var total && total > budget)
            throw CheckpointError.Format(file,
                $"its tensors need {total} bytes, more than the {budget} bytes the model they are loaded into can use; refusing to read them (the weights and the config disagree)");
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in entries)
            {
                var bytes = e.End - e.Begin;
                if (bytes > int.MaxValue)
                    throw CheckpointError.Format(file, $"tensor is {bytes} bytes, more than this reader handles in one tensor (2 GiB)", e.Name);
                var t = torch.empty(e.Shape, e.DType);
                if (bytes > 0)
                {
                    stream.Position = dataStart + e.Begin;
                    try { stream.ReadExactly(t.bytes); }
                    catch (EndOfStreamException ex)
                    {
                        t.Dispose();
                        throw CheckpointError.Format(file, "data ends early (truncated)", e.Name, ex);
                    }
                }
                result[e.Name] = DTypes.Convert(t, dtype);
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    internal static Tensor CpuContiguous(Tensor t)
    {
        var detached = t.detach();
        var cpu = detached.cpu();
        if (!ReferenceEquals(cpu, detached)) detached.Dispose();
        var contiguous = cpu.contiguous();
        if (!ReferenceEquals(contiguous, cpu)) cpu.Dispose();
        return contiguous;
    }

    /// <summary>Writes tensors (in name order) with an 8-byte-aligned header, as the Python library does.</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var prepared = new List<(string Name, Tensor Tensor, string DType)>();
        try
        {
            foreach (var (name, tensor) in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                if (string.IsNullOrEmpty(name) || name == "__metadata__") throw new ArgumentException($"'{name}' cannot name a tensor in safetensors");
                var dt = DTypes.ToSafetensors(tensor.dtype)
                    ?? throw new NotSupportedException($"tensor '{name}' has element type {tensor.dtype}, which safetensors writing does not support here");
                var bytes = tensor.numel() * DTypes.Size(tensor.dtype);
                if (bytes > int.MaxValue) throw new NotSupportedException($"tensor '{name}' is {bytes} bytes; tensors over 2 GiB are not supported");
                prepared.Add((name, CpuContiguous(tensor), dt));
            }

            using var headerJson = new MemoryStream();
            using (var w = new Utf8JsonWriter(headerJson))
            {
                w.WriteStartObject();
                if (metadata.Count > 0)
                {
                    w.WriteStartObject("__metadata__");
                    foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                    w.WriteEndObject();
                }
                long offset = 0;
                foreach (var (name, t, dt) in prepared)
                {
                    var size = t.numel() * DTypes.Size(t.dtype);
                    w.WriteStartObject(name);
                    w.WriteString("dtype", dt);
                    w.WriteStartArray("shape");
                    foreach (var d in t.shape) w.WriteNumberValue(d);
                    w.WriteEndArray();
                    w.WriteStartArray("data_offsets");
                    w.WriteNumberValue(offset);
                    w.WriteNumberValue(offset + size);
                    w.WriteEndArray();
                    w.WriteEndObject();
                    offset += size;
                }
                w.WriteEndObject();
            }
            var header = headerJson.ToArray().ToList();
            while ((header.Count + 8) % 8 != 0) header.Add((byte)' ');
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Count);
            stream.Write(len);
            stream.Write(header.ToArray());
            foreach (var (_, t, _) in prepared)
                if (t.numel() > 0) stream.Write(t.bytes);
        }
        finally
        {
            foreach (var p in prepared) p.Tensor.Dispose();
        }
    }
}
