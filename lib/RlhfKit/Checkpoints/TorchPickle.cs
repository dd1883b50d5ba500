using System.IO.Compression;
using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Checkpoints;

/// <summary>
/// Reads PyTorch <c>torch.save</c> state dicts, both the zip form (1.6 and later: <c>*/data.pkl</c> plus one entry per
/// storage) and the legacy stream (a run of pickles with the storages appended). The pickles are parsed by
/// <see cref="PickleReader"/> with a whitelist of the globals a state dict needs; anything else is refused by name.
/// </summary>
internal static class TorchPickle
{
    /// <summary>The globals a state dict may name. Storage classes and dtypes are matched separately.</summary>
    static readonly HashSet<string> AllowedFunctions =
    [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    ];

    static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);
    const long LegacyProtocolVersion = 1001;

    internal static IEnumerable<string> AllowedGlobals =>
        AllowedFunctions.Concat(DTypes.StorageClassNames.Select(n => "torch." + n)).Concat(["torch.<dtype> (torch.float32, ...)"]);

    sealed record StorageType(ScalarType DType, string Name);
    sealed record DtypeMarker(ScalarType DType);

    /// <summary>One storage of the file: its key, element type and element count.</summary>
    sealed record Storage(string Key, ScalarType DType, long Numel);

    /// <summary>A storage as a tensor sees it: the whole storage or (legacy views) a slice of it.</summary>
    sealed record StorageSlice(Storage Root, long Offset, long Numel);

    sealed record TensorRef(StorageSlice Storage, long Offset, long[] Size, long[] Stride);

    /// <summary>Parses a state-dict pickle, collecting its storages by key.</summary>
    sealed class StateDictParser(string file)
    {
        public Dictionary<string, Storage> Storages { get; } = [];

        InvalidDataException Error(string message, string? tensor = null) => CheckpointError.Format(file, message, tensor);

        public PickleReader Reader(Stream stream, long? end = null) => new(stream, file, end)
        {
            ResolveGlobal = ResolveGlobal,
            Reduce = Reduce,
            PersistentLoad = PersistentLoad,
            Build = Build,
        };

        object ResolveGlobal(string module, string name)
        {
            var full = $"{module}.{name}";
            if (AllowedFunctions.Contains(full)) return new PickleGlobal(module, name);
            if (module == "torch" && DTypes.TryStorageClass(name, out var st)) return new StorageType(st, name);
            if (module == "torch" && DTypes.TryTorchDtype(name, out var dt)) return new DtypeMarker(dt);
            throw Error($"the pickle asks for the global '{full}', which a state dict never needs; refusing to load it " +
                $"(PyTorch pickles can run code; allowed: {string.Join(", ", AllowedGlobals)})");
        }

        object? Reduce(object callable, object?[] args)
        {
            if (callable is not PickleGlobal g) throw Error($"the pickle calls a {PickleReader.Describe(callable)}, which is not a function");
            switch (g.FullName)
            {
                case "collections.OrderedDict":
                    {
                        var dict = new PickleDict();
                        if (args.Length == 0) return dict;
                        if (args.Length == 1 && args[0] is List<object?> pairs)
                        {
                            foreach (var p in pairs)
                            {
                                if (p is not object?[] { Length: 2 } kv) throw Error("OrderedDict built from something other than pairs");
                                dict.Items.Add(new(kv[0], kv[1]));
                            }
                            return dict;
                        }
                        throw Error("OrderedDict called with unexpected arguments");
                    }
                case "torch._utils._rebuild_tensor":
                case "torch._utils._rebuild_tensor_v2":
                    {
                        if (args.Length < 4) throw Error($"{g.Name} called with {args.Length} arguments, expected at least 4");
                        if (args[0] is not StorageSlice storage) throw Error($"{g.Name}: the first argument is a {PickleReader.Describe(args[0])}, not a storage");
                        var offset = args[1] as long? ?? throw Error($"{g.Name}: the storage offset is not an int");
                        return new TensorRef(storage, offset, Ints(args[2], "size"), Ints(args[3], "stride"));
                    }
                case "torch._utils._rebuild_parameter":
                case "torch._utils._rebuild_parameter_with_state":
                    if (args.Length < 1 || args[0] is not TensorRef t) throw Error($"{g.Name} called without a tensor");
                    return t;
                default:
                    throw Error($"the pickle calls '{g.FullName}', which cannot be called here");
            }
        }

        long[] Ints(object? value, string what)
        {
            if (value is not object?[] tuple) throw Error($"tensor {what} is a {PickleReader.Describe(value)}, not a tuple");
            var result = new long[tuple.Length];
            for (int i = 0; i < tuple.Length; i++)
                result[i] = tuple[i] as long? ?? throw Error($"tensor {what} holds a {PickleReader.Describe(tuple[i])}, not an int");
            return result;
        }

        void Build(object? target, object? state)
        {
            // OrderedDict state dicts carry a '_metadata' attribute (module versions): not needed, dropped.
            // _rebuild_parameter_with_state / tensors never reach BUILD in a state dict.
            if (target is PickleDict) return;
            throw Error($"the pickle sets the state of a {PickleReader.Describe(target)}, which a state dict never does");
        }

        object? PersistentLoad(object? pid)
        {
            // ('storage', storage_type, key, location, numel[, view_metadata])
            if (pid is not object?[] t || t.Length < 5 || t[0] is not "storage")
                throw Error($"persistent id {PickleReader.Describe(pid)} is not a ('storage', ...) tuple");
            if (t[1] is not StorageType type)
                throw Error($"storage type {PickleReader.Describe(t[1])} is not a torch storage class");
            if (t[2] is not string key) throw Error("storage key is not a string");
            if (t[4] is not long numel || numel < 0 || numel > long.MaxValue / DTypes.Size(type.DType))
                throw Error($"storage '{key}' has no valid element count ({PickleReader.Describe(t[4])} {t[4]})");
            if (Storages.TryGetValue(key, out var existing))
            {
                if (existing.DType != type.DType || existing.Numel != numel)
                    throw Error($"storage '{key}' is declared twice with different types or sizes ({existing.DType}[{existing.Numel}] vs {type.DType}[{numel}])");
            }
            else Storages[key] = existing = new Storage(key, type.DType, numel);

            if (t.Length >= 6 && t[5] is object?[] view)
            {
                // Legacy views: (view_key, offset, view_size) in elements of the root storage.
                if (view.Length != 3 || view[1] is not long vOffset || view[2] is not long vSize || vOffset < 0 || vSize < 0 ||
                    vOffset > numel || vSize > numel - vOffset)
                    throw Error($"storage '{key}' has an invalid view ({PickleReader.Describe(t[5])})");
                return new StorageSlice(existing, vOffset, vSize);
            }
            return new StorageSlice(existing, 0, numel);
        }

        /// <summary>Checks the top-level value is a dict of name to tensor and returns it in file order.</summary>
        public List<(string Name, TensorRef Tensor)> Entries(object? root)
        {
            if (root is not PickleDict dict)
                throw Error($"the pickle holds a {PickleReader.Describe(root)}, not a state dict (a dict of tensors)");
            var result = new List<(string, TensorRef)>();
            var seen = new HashSet<string>();
            foreach (var (k, v) in dict.Items)
            {
                if (k is not string name) throw Error($"state-dict key {PickleReader.Describe(k)} is not a string");
                if (!seen.Add(name)) throw Error("state-dict key appears twice", name);
                if (v is not TensorRef tensor)
                    throw Error($"the value is a {PickleReader.Describe(v)}, not a tensor (is this a full training checkpoint rather than a state dict?)", name);
                result.Add((name, tensor));
            }
            return result;
        }
    }

    // ---------------------------------------------------------------- limits

    /// <summary>Bytes a storage may declare beyond the furthest element its tensors reach (never more than that reach
    /// itself, so a storage is at most twice what its tensors need).</summary>
    internal const long StorageSlackBytes = 4096;

    /// <summary>A view (stride 0, or strides that overlap) may show at most this many elements per storage element,
    /// plus <see cref="ViewAllowanceElements"/>: materialising it copies every logical element.</summary>
    internal const long MaxViewAmplification = 4;
    internal const long ViewAllowanceElements = 4096;

    /// <summary>Deflate's largest possible ratio (a run of zeros: about 1032 to 1); a zip entry that claims more
    /// uncompressed bytes than this allows is lying about its size.</summary>
    const long MaxDeflateRatio = 1032;

    /// <summary>
    /// Checks every tensor's view against its storage before anything is allocated: ranks, signs, overflow, an end
    /// inside the storage, and no stride-0 or overlapping view that shows far more elements than the storage holds.
    /// Returns, per storage key, how many elements its tensors reach. Errors name the file and the tensor.
    /// </summary>
    static Dictionary<string, long> CheckViews(string file, List<(string Name, TensorRef Tensor)> entries)
    {
        var reach = new Dictionary<string, long>();
        foreach (var (name, r) in entries)
        {
            reach.TryAdd(r.Storage.Root.Key, 0);
            var (numel, last) = ViewExtent(file, name, r);
            if (numel == 0) continue;
            if (numel > MaxViewAmplification * r.Storage.Numel + ViewAllowanceElements)
            {
                var kind = r.Stride.Where((st, i) => st == 0 && r.Size[i] > 1).Any() ? "an expanded (stride-0) view" : "an overlapping view";
                throw CheckpointError.Format(file,
                    $"{kind} of size {Shapes.Format(r.Size)}, stride {Shapes.Format(r.Stride)} shows {numel} elements of a storage of {r.Storage.Numel} ('{r.Storage.Root.Key}'); " +
                    $"more than {MaxViewAmplification}x its storage is refused, since loading copies every element", name);
            }
            var end = checked(r.Storage.Offset + last + 1);
            if (end > reach[r.Storage.Root.Key]) reach[r.Storage.Root.Key] = end;
        }
        return reach;
    }

    /// <summary>A view's element count and the last storage element it reaches, after checking its rank, signs, overflow
    /// and that it ends inside its storage; errors name the file and the tensor.</summary>
    static (long Numel, long Last) ViewExtent(string file, string name, TensorRef r)
    {
        if (r.Size.Length != r.Stride.Length)
            throw CheckpointError.Format(file, $"size {Shapes.Format(r.Size)} and stride {Shapes.Format(r.Stride)} differ in rank", name);
        if (r.Size.Any(d => d < 0) || r.Stride.Any(d => d < 0) || r.Offset < 0)
            throw CheckpointError.Format(file, $"negative size, stride or offset (size {Shapes.Format(r.Size)}, stride {Shapes.Format(r.Stride)}, offset {r.Offset})", name);
        long numel, last;
        try
        {
            numel = Shapes.Numel(r.Size);
            last = r.Offset;
            for (int i = 0; i < r.Size.Length; i++) if (r.Size[i] > 0) last = checked(last + (r.Size[i] - 1) * r.Stride[i]);
        }
        catch (OverflowException) { throw CheckpointError.Format(file, $"size {Shapes.Format(r.Size)} with stride {Shapes.Format(r.Stride)} overflows", name); }
        if (numel > 0 && last >= r.Storage.Numel)
            throw CheckpointError.Format(file,
                $"tensor of size {Shapes.Format(r.Size)}, stride {Shapes.Format(r.Stride)} at offset {r.Offset} reaches element {last} of a storage of {r.Storage.Numel} ('{r.Storage.Root.Key}')", name);
        return (numel, last);
    }

    /// <summary>Refuses, before reading, a storage that declares more than its tensors reach (plus a little slack),
    /// and a file whose storages together exceed the caller's budget. Returns the bytes the storages declare.</summary>
    static long CheckStorageSizes(string file, List<(string Name, TensorRef Tensor)> entries, IEnumerable<Storage> storages,
        Dictionary<string, long> reach, long? maxBytes)
    {
        long total = 0;
        foreach (var storage in storages)
        {
            var size = DTypes.Size(storage.DType);
            var declared = checked(storage.Numel * size);
            var needed = checked(reach.GetValueOrDefault(storage.Key) * size);
            if (declared > needed + Math.Min(StorageSlackBytes, needed))
                throw CheckpointError.Format(file,
                    $"storage '{storage.Key}' declares {storage.Numel} {storage.DType} elements ({declared} bytes) but its tensors reach only {needed} bytes; " +
                    "refusing it before reading (a damaged or hostile file; an honest one saved from views of larger tensors can be re-saved after .clone() or as safetensors)",
                    FirstUser(entries, storage));
            total = checked(total + declared);
        }
        if (maxBytes is { } budget && total > budget)
            throw CheckpointError.Format(file,
                $"its tensors need {total} bytes, more than the {budget} bytes the model they are loaded into can use; refusing to read them (the weights and the config disagree)");
        return total;
    }

    // ---------------------------------------------------------------- zip form

    /// <summary>Opens the archive and parses its <c>data.pkl</c>: the state dict's tensors (nothing read from the storages).</summary>
    static (string Prefix, StateDictParser Parser, List<(string Name, TensorRef Tensor)> Entries) ParseZip(string file, ZipArchive zip)
    {
        var pkl = zip.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) &&
                                         e.FullName.Count(c => c == '/') == 1).ToList();
        if (pkl.Count != 1)
            throw CheckpointError.Format(file, $"a PyTorch zip checkpoint holds one '<name>/data.pkl'; found {pkl.Count}");
        var prefix = pkl[0].FullName[..^"data.pkl".Length];

        var byteorder = zip.GetEntry(prefix + "byteorder");
        if (byteorder is not null)
        {
            var order = Encoding(ReadEntry(file, byteorder, 16)).Trim();
            if (order != "little") throw CheckpointError.Format(file, $"byte order '{order}' is not supported (only little-endian)");
        }

        var parser = new StateDictParser(file);
        using var pickle = new MemoryStream(ReadEntry(file, pkl[0], 1L << 30));
        return (prefix, parser, parser.Entries(parser.Reader(pickle).Load()));
    }

    static ZipArchive OpenZip(string file, FileStream fs)
    {
        try { return new ZipArchive(fs, ZipArchiveMode.Read); }
        catch (InvalidDataException e) { throw CheckpointError.Format(file, $"not a readable zip archive (truncated?): {e.Message}", inner: e); }
    }

    /// <summary>The tensor names of a zip checkpoint, in file order, from its pickle alone.</summary>
    public static List<string> ZipTensorNames(string file)
    {
        using var fs = File.OpenRead(file);
        using var zip = OpenZip(file, fs);
        return ParseZip(file, zip).Entries.Select(e => e.Name).ToList();
    }

    public static Dictionary<string, Tensor> ReadZip(string file, ScalarType? dtype, long? maxBytes = null)
    {
        using var fs = File.OpenRead(file);
        using (var zip = OpenZip(file, fs))
        {
            var (prefix, parser, entries) = ParseZip(file, zip);
            var reach = CheckViews(file, entries);
            CheckStorageSizes(file, entries, parser.Storages.Values, reach, maxBytes);

            var storages = new Dictionary<string, Tensor>();
            try
            {
                foreach (var storage in parser.Storages.Values)
                {
                    var entry = zip.GetEntry(prefix + "data/" + storage.Key)
                        ?? throw CheckpointError.Format(file, $"storage '{storage.Key}' has no entry '{prefix}data/{storage.Key}'", FirstUser(entries, storage));
                    var bytes = checked(storage.Numel * DTypes.Size(storage.DType));
                    if (entry.Length < bytes)
                        throw CheckpointError.Format(file,
                            $"storage '{storage.Key}' declares {storage.Numel} {storage.DType} elements ({bytes} bytes) but its entry holds {entry.Length} bytes",
                            FirstUser(entries, storage));
                    // The entry must not hold (inflated) more than the storage declares, nor claim more than its compressed
                    // bytes can produce: only the declared bytes are ever inflated.
                    if (entry.Length > bytes + StorageSlackBytes)
                        throw CheckpointError.Format(file,
                            $"zip entry '{entry.FullName}' holds {entry.Length} bytes uncompressed but storage '{storage.Key}' declares only {bytes}; refusing to inflate it",
                            FirstUser(entries, storage));
                    if (entry.CompressedLength > fs.Length || entry.Length > entry.CompressedLength * MaxDeflateRatio + 1024)
                        throw CheckpointError.Format(file,
                            $"zip entry '{entry.FullName}' claims {entry.Length} bytes from {entry.CompressedLength} compressed bytes in a file of {fs.Length}: its sizes are damaged",
                            FirstUser(entries, storage));
                    using var s = OpenEntry(file, entry);
                    storages[storage.Key] = ReadStorage(file, s, storage, FirstUser(entries, storage));
                }
                return Materialise(file, entries, storages, dtype);
            }
            finally
            {
                foreach (var s in storages.Values) s.Dispose();
            }
        }
    }

    static string Encoding(byte[] b) => System.Text.Encoding.ASCII.GetString(b);

    static Stream OpenEntry(string file, ZipArchiveEntry entry)
    {
        try { return entry.Open(); }
        catch (InvalidDataException e) { throw CheckpointError.Format(file, $"zip entry '{entry.FullName}' cannot be opened: {e.Message}", inner: e); }
    }

    static byte[] ReadEntry(string file, ZipArchiveEntry entry, long limit)
    {
        if (entry.Length > limit) throw CheckpointError.Format(file, $"zip entry '{entry.FullName}' is implausibly large ({entry.Length} bytes)");
        using var s = OpenEntry(file, entry);
        var buffer = new byte[entry.Length];
        try { s.ReadExactly(buffer); }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        { throw CheckpointError.Format(file, $"zip entry '{entry.FullName}' is damaged: {e.Message}", inner: e); }
        return buffer;
    }

    // ---------------------------------------------------------------- legacy form

    /// <summary>The tensor names of a legacy checkpoint, in file order, from its pickles alone.</summary>
    public static List<string> LegacyTensorNames(string file)
    {
        using var fs = File.OpenRead(file);
        return ParseLegacy(file, fs).Entries.Select(e => e.Name).ToList();
    }

    static (StateDictParser Parser, List<(string Name, TensorRef Tensor)> Entries) ParseLegacy(string file, FileStream fs)
    {
        PickleReader Plain() => new(fs, file)
        {
            ResolveGlobal = (m, n) => throw CheckpointError.Format(file, $"legacy header pickle names the global '{m}.{n}'; refusing it"),
            Reduce = (_, _) => throw CheckpointError.Format(file, "legacy header pickle calls a function"),
        };

        var magic = Plain().Load();
        if (!(magic is BigInteger big && big == LegacyMagic))
            throw CheckpointError.Format(file, "starts with a pickle but not PyTorch's legacy magic number: not a torch.save file");
        var version = Plain().Load();
        if (version is not long v || v != LegacyProtocolVersion)
            throw CheckpointError.Format(file, $"legacy protocol version {version} is not supported (expected {LegacyProtocolVersion})");
        var sysInfo = Plain().Load() as PickleDict;
        var littleEndian = sysInfo?.Items.FirstOrDefault(kv => kv.Key is "little_endian").Value;
        if (littleEndian is false)
            throw CheckpointError.Format(file, "was saved on a big-endian machine; only little-endian checkpoints are supported");

        var parser = new StateDictParser(file);
        return (parser, parser.Entries(parser.Reader(fs).Load()));
    }

    public static Dictionary<string, Tensor> ReadLegacy(string file, ScalarType? dtype, long? maxBytes = null)
    {
        using var fs = File.OpenRead(file);
        PickleReader Plain() => new(fs, file)
        {
            ResolveGlobal = (m, n) => throw CheckpointError.Format(file, $"legacy header pickle names the global '{m}.{n}'; refusing it"),
            Reduce = (_, _) => throw CheckpointError.Format(file, "legacy header pickle calls a function"),
        };
        var (parser, entries) = ParseLegacy(file, fs);
        var reach = CheckViews(file, entries);
        CheckStorageSizes(file, entries, parser.Storages.Values, reach, maxBytes);

        var keys = Plain().Load();
        if (keys is not List<object?> keyList)
            throw CheckpointError.Format(file, $"the legacy storage key list is a {PickleReader.Describe(keys)}, not a list");

        var storages = new Dictionary<string, Tensor>();
        try
        {
            foreach (var k in keyList)
            {
                if (k is not string key) throw CheckpointError.Format(file, "a legacy storage key is not a string");
                if (!parser.Storages.TryGetValue(key, out var storage))
                    throw CheckpointError.Format(file, $"storage '{key}' is listed but no tensor uses it");
                if (storages.ContainsKey(key)) throw CheckpointError.Format(file, $"storage '{key}' is listed twice");
                var user = FirstUser(entries, storage);
                var header = new byte[8];
                if (fs.Length - fs.Position < 8)
                    throw CheckpointError.Format(file, $"file ends before storage '{key}' (truncated)", user);
                fs.ReadExactly(header);
                var count = BitConverter.ToInt64(header);
                if (count != storage.Numel)
                    throw CheckpointError.Format(file, $"storage '{key}' holds {count} elements but the pickle declared {storage.Numel}", user);
                storages[key] = ReadStorage(file, fs, storage, user);
            }
            var unread = parser.Storages.Keys.Where(k => !storages.ContainsKey(k)).ToList();
            if (unread.Count > 0)
                throw CheckpointError.Format(file, $"storages used by tensors but missing from the file: {string.Join(", ", unread)}",
                    FirstUser(entries, parser.Storages[unread[0]]));
            return Materialise(file, entries, storages, dtype);
        }
        finally
        {
            foreach (var s in storages.Values) s.Dispose();
        }
    }

    // ---------------------------------------------------------------- shared

    static string? FirstUser(List<(string Name, TensorRef Tensor)> entries, Storage storage) =>
        entries.FirstOrDefault(e => e.Tensor.Storage.Root == storage).Name;

    /// <summary>Reads a storage's raw bytes into a 1-D tensor, checking the data is all there.</summary>
    static Tensor ReadStorage(string file, Stream stream, Storage storage, string? tensor)
    {
        var bytes = checked(storage.Numel * DTypes.Size(storage.DType));
        if (bytes > int.MaxValue)
            throw CheckpointError.Format(file, $"storage '{storage.Key}' is {bytes} bytes, more than this reader handles in one tensor (2 GiB)", tensor);
        if (stream.CanSeek && stream.Length - stream.Position < bytes)
            throw CheckpointError.Format(file,
                $"storage '{storage.Key}' declares {storage.Numel} {storage.DType} elements ({bytes} bytes) but only {stream.Length - stream.Position} bytes remain (truncated)", tensor);
        var t = torch.empty([storage.Numel], storage.DType);
        try
        {
            if (bytes > 0) stream.ReadExactly(t.bytes);
            return t;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            t.Dispose();
            throw CheckpointError.Format(file, $"data of storage '{storage.Key}' is shorter than declared ({bytes} bytes): {e.Message}", tensor, e);
        }
    }

    /// <summary>Builds each entry's tensor from its storage. Contiguous tensors are views (tensors that shared a
    /// storage in the file share memory here too, as after torch.load); strided ones are copied.</summary>
    static Dictionary<string, Tensor> Materialise(string file, List<(string Name, TensorRef Tensor)> entries,
        Dictionary<string, Tensor> storages, ScalarType? dtype)
    {
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (name, r) in entries)
            {
                var (numel, _) = ViewExtent(file, name, r);

                var storage = storages[r.Storage.Root.Key];
                var start = r.Storage.Offset + r.Offset;
                Tensor t;
                if (numel == 0) t = torch.empty(r.Size, storage.dtype);
                else if (IsContiguous(r.Size, r.Stride))
                {
                    using var slice = storage.narrow(0, start, numel);
                    t = slice.view(r.Size);
                }
                else
                {
                    using var view = storage.as_strided(r.Size, r.Stride, start);
                    t = view.contiguous();
                }
                result[name] = DTypes.Convert(t, dtype);
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    static bool IsContiguous(long[] size, long[] stride)
    {
        long expected = 1;
        for (int i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] != 1 && stride[i] != expected) return false;
            expected *= size[i];
        }
        return true;
    }
}
