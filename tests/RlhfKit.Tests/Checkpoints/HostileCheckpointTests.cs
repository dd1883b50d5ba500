using System.IO.Compression;
using System.Numerics;
using System.Text;
using RlhfKit.Checkpoints;
using RlhfKit.Tests.Tokenization;
using static RlhfKit.Tests.Checkpoints.PickleBuilder;

namespace RlhfKit.Tests.Checkpoints;

/// <summary>PyTorch files built to make the reader allocate far more than they honestly hold: deflate bombs, storages
/// declared larger than their tensors, expanded (stride-0) views, views past their storage; and the pickle reader's
/// integers past 2^31. Every hostile file is refused before the big allocation, naming the file and the tensor.</summary>
public sealed class HostileCheckpointTests : IDisposable
{
    readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A zip torch.save archive whose storage entries are deflate-compressed (torch.save stores them; a
    /// re-zipped archive or a hostile one need not).</summary>
    static byte[] DeflatedZip(byte[] dataPkl, IReadOnlyList<(string Key, byte[] Data)> storages)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] bytes, CompressionLevel level)
            {
                using var s = zip.CreateEntry(name, level).Open();
                s.Write(bytes);
            }
            Add("archive/data.pkl", dataPkl, CompressionLevel.NoCompression);
            Add("archive/byteorder", Encoding.ASCII.GetBytes("little"), CompressionLevel.NoCompression);
            foreach (var (key, data) in storages) Add($"archive/data/{key}", data, CompressionLevel.Fastest);
            Add("archive/version", Encoding.ASCII.GetBytes("3\n"), CompressionLevel.NoCompression);
        }
        return ms.ToArray();
    }

    static TensorSpec Spec(string name, long storageNumel, long[] size, long[] stride, long offset = 0, string key = "0") =>
        new(name, "FloatStorage", key, storageNumel, offset, size, stride);

    InvalidDataException Refused(string path, long? maxBytes = null)
    {
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var t in CheckpointReader.ReadStateDict(path, maxBytes: maxBytes).Values) t.Dispose();
        });
        Assert.Contains(path, e.Message);
        Assert.Equal(path, CheckpointError.FileOf(e));
        return e;
    }

    [Fact]
    public void DeflatedStorageDeclaredFarLargerThanItsTensorIsRefusedBeforeInflating()
    {
        // 64 MiB of zeros deflate to about 64 KiB; the storage declares all of it, the only tensor uses 2 floats.
        const long numel = 16L << 20;
        var pkl = StateDict([Spec("w", numel, [2], [1])], legacy: false);
        var path = _dir.Write("bomb.bin", DeflatedZip(pkl, [("0", new byte[numel * 4])]));
        Assert.True(new FileInfo(path).Length < 1 << 20);

        var e = Refused(path);
        Assert.Equal("w", CheckpointError.TensorOf(e));
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains($"declares {numel}", e.Message);
        Assert.Contains("reach only 8 bytes", e.Message);
        Assert.Contains("before reading", e.Message);
    }

    [Fact]
    public void DeflatedEntryInflatingBeyondItsStorageIsRefused()
    {
        // The pickle is honest (2 floats); the zip entry behind it inflates to 64 MiB.
        var pkl = StateDict([Spec("w", 2, [2], [1])], legacy: false);
        var path = _dir.Write("entry-bomb.bin", DeflatedZip(pkl, [("0", new byte[64 << 20])]));

        var e = Refused(path);
        Assert.Equal("w", CheckpointError.TensorOf(e));
        Assert.Contains("refusing to inflate it", e.Message);
    }

    [Fact]
    public void HonestDeflatedCheckpointStillLoads()
    {
        var pkl = StateDict([Spec("w", 4, [2, 2], [2, 1]), Spec("b", 4, [2], [1], offset: 2)], legacy: false);
        var path = _dir.Write("deflated.bin", DeflatedZip(pkl, [("0", Floats(1, 2, 3, 4))]));
        var sd = CheckpointReader.ReadStateDict(path);
        Assert.Equal([1f, 2f, 3f, 4f], sd["w"].data<float>().ToArray());
        Assert.Equal([3f, 4f], sd["b"].data<float>().ToArray());
        foreach (var t in sd.Values) t.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExpandedViewFarLargerThanItsStorageIsRefused(bool legacy)
    {
        // [20000, 1000] with stride [0, 1] over 1000 floats: 80 MB once materialised, from 4 KB of data.
        var spec = Spec("position_ids", 1000, [20000, 1000], [0, 1]);
        var path = Write(legacy, [spec], [("0", 1000)]);

        var e = Refused(path);
        Assert.Equal("position_ids", CheckpointError.TensorOf(e));
        Assert.Contains("expanded (stride-0) view", e.Message);
        Assert.Contains("20000000 elements", e.Message);
    }

    [Fact]
    public void ExpandedViewOfReasonableSizeLoads()
    {
        // transformers' position_ids: arange(n).expand((1, -1)), stride [0, 1].
        var path = Write(legacy: false, [Spec("embeddings.position_ids", 8, [1, 8], [0, 1])], [("0", 8)]);
        var sd = CheckpointReader.ReadStateDict(path);
        Assert.Equal([1L, 8L], sd["embeddings.position_ids"].shape);
        foreach (var t in sd.Values) t.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ViewReachingPastItsStorageIsRefusedNamingTheTensor(bool legacy)
    {
        var path = Write(legacy, [Spec("ok", 16, [16], [1]), Spec("bad", 16, [4, 4], [8, 1], offset: 2)], [("0", 16)]);
        var e = Refused(path);
        Assert.Equal("bad", CheckpointError.TensorOf(e));
        Assert.Contains("reaches element 29 of a storage of 16", e.Message);
    }

    [Fact]
    public void LegacyStorageDeclaredLargerThanItsTensorsIsRefused()
    {
        var path = Write(legacy: true, [Spec("w", 100_000, [2], [1])], [("0", 100_000)]);
        var e = Refused(path);
        Assert.Equal("w", CheckpointError.TensorOf(e));
        Assert.Contains("declares 100000", e.Message);
    }

    [Fact]
    public void BudgetRefusesTensorsTheCallerCannotUseBeforeReadingThem()
    {
        var zip = Write(legacy: false, [Spec("w", 1000, [1000], [1])], [("0", 1000)]);
        var legacy = Write(legacy: true, [Spec("w", 1000, [1000], [1])], [("0", 1000)]);
        var st = _dir.File("w.safetensors");
        using (var w = TorchSharp.torch.zeros(1000))
            CheckpointWriter.SaveSafetensors(new Dictionary<string, TorchSharp.torch.Tensor> { ["w"] = w }, st);

        foreach (var path in new[] { zip, legacy, st })
        {
            Assert.Contains("4000 bytes, more than the 1000 bytes", Refused(path, maxBytes: 1000).Message);
            foreach (var t in CheckpointReader.ReadStateDict(path, maxBytes: 4000).Values) t.Dispose();
        }
    }

    [Fact]
    public void TensorNamesReadsNoData()
    {
        var zip = Write(legacy: false, [Spec("a", 4, [4], [1]), Spec("b", 4, [2], [1], key: "1")], [("0", 4), ("1", 4)]);
        Assert.Equal(["a", "b"], CheckpointReader.TensorNames(zip));
        // Even a file whose data would be refused lists its names: the count check runs before any read.
        var bomb = _dir.Write("bomb2.bin", DeflatedZip(StateDict([Spec("w", 1 << 20, [2], [1])], legacy: false), [("0", new byte[4 << 20])]));
        Assert.Equal(["w"], CheckpointReader.TensorNames(bomb));
        var legacy = Write(legacy: true, [Spec("x", 4, [4], [1])], [("0", 4)]);
        Assert.Equal(["x"], CheckpointReader.TensorNames(legacy));
    }

    // ---- integers past 2^31 (LONG1 / LONG4) ----

    static object? Load(byte[] pickle) => new PickleReader(new MemoryStream(pickle), "x.pkl")
    {
        ResolveGlobal = (m, n) => throw new InvalidOperationException($"{m}.{n}"),
        Reduce = (_, _) => throw new InvalidOperationException("reduce"),
    }.Load();

    [Fact]
    public void Long1AndLong4GiveALongWhenItFitsABigIntegerBeyond()
    {
        // LONG1, 5 bytes: 2^31 (how Python pickles a count just past int32).
        Assert.Equal(2147483648L, Assert.IsType<long>(Load(new PickleBuilder().Proto().Op(0x8A).Raw(5, 0, 0, 0, 0x80, 0).Stop().ToArray())));
        // LONG1, 8 bytes: long.MaxValue; 1 byte: -1; 0 bytes: 0.
        Assert.Equal(long.MaxValue, Load(new PickleBuilder().Proto().Op(0x8A).Raw(8).Raw(BitConverter.GetBytes(long.MaxValue)).Stop().ToArray()));
        Assert.Equal(-1L, Load(new PickleBuilder().Proto().Op(0x8A).Raw(1, 0xFF).Stop().ToArray()));
        Assert.Equal(0L, Load(new PickleBuilder().Proto().Op(0x8A).Raw(0).Stop().ToArray()));
        // LONG4, 9 bytes that still fit (a sign byte of zero): a long.
        Assert.Equal(3_000_000_000L, Load(new PickleBuilder().Proto().Op(0x8B).Raw(BitConverter.GetBytes(9)).Raw(BitConverter.GetBytes(3_000_000_000L)).Raw(0).Stop().ToArray()));
        // 2^64 needs 9 bytes and does not fit: a BigInteger.
        Assert.Equal(BigInteger.Pow(2, 64), Assert.IsType<BigInteger>(Load(new PickleBuilder().Proto().Op(0x8A).Raw(9, 0, 0, 0, 0, 0, 0, 0, 0, 1).Stop().ToArray())));
    }

    [Fact]
    public void StorageCountAbove2To31IsReadAsACount()
    {
        // numel 2^31 + 8 bytes written as LONG1: read as a count (here refused by the budget, before any entry is read,
        // which shows it parsed; as a BigInteger it would be "no valid element count").
        const long numel = (1L << 31) + 8;
        var pkl = StateDict([new TensorSpec("w", "ByteStorage", "0", numel, 0, [numel], [1])], legacy: false);
        var path = _dir.Write("big.bin", Zip(pkl, [("0", new byte[8])]));
        var e = Refused(path, maxBytes: 1 << 20);
        Assert.Contains($"need {numel} bytes", e.Message);
        Assert.DoesNotContain("no valid element count", e.Message);
    }

    string Write(bool legacy, TensorSpec[] specs, (string Key, long Floats)[] storages)
    {
        var pkl = StateDict(specs, legacy);
        var name = $"{Guid.NewGuid():N}.bin";
        var data = storages.Select(s => (s.Key, Floats(Enumerable.Range(0, (int)s.Floats).Select(i => (float)i).ToArray()))).ToList();
        return _dir.Write(name, legacy
            ? Legacy(pkl, data.Select(d => (d.Key, (long)d.Item2.Length / 4, d.Item2)).ToList())
            : Zip(pkl, data));
    }
}
