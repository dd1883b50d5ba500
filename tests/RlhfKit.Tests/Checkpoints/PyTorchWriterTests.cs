using System.IO.Compression;
using RlhfKit.Checkpoints;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Checkpoints;

/// <summary>The production PyTorch zip writer (<see cref="CheckpointWriter.SavePyTorch"/>), read back by the kit's
/// own whitelisting reader.</summary>
public sealed class PyTorchWriterTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rlhfkit-ptwriter-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void WrittenStateDictReadsBackWithTheRestrictedReaderKeyForKeyAndValueForValue()
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["v_head.summary.weight"] = randn(1, 8),
            ["v_head.summary.bias"] = tensor(new[] { 0.5f }),
            ["half"] = randn(3, 2).to_type(ScalarType.Float16),
            ["bf16"] = randn(4).to_type(ScalarType.BFloat16),
            ["double"] = randn(2, 2, 2, dtype: ScalarType.Float64),
            ["transposed"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t(), // not contiguous: written as values
            ["scalar"] = tensor(3.0f),
            ["empty"] = zeros(0, 4),
            ["ids"] = arange(5, dtype: ScalarType.Int64),
        };
        var path = Path.Combine(_dir.FullName, "pytorch_model.bin");
        CheckpointWriter.SavePyTorch(tensors, path);

        Assert.Equal(CheckpointFormat.PyTorchZip, CheckpointReader.DetectFormat(path));
        Assert.Equal(tensors.Keys, CheckpointReader.TensorNames(path)); // in the order given
        var read = CheckpointReader.ReadStateDict(path);
        Assert.Equal(tensors.Keys.Order(), read.Keys.Order());
        foreach (var (name, expected) in tensors)
        {
            Assert.Equal(expected.dtype, read[name].dtype);
            Assert.Equal(expected.shape, read[name].shape);
            Assert.True(expected.equal(read[name]).all().item<bool>(), name);
        }
    }

    [Fact]
    public void WrittenArchiveHasTorchSaveLayout()
    {
        var path = Path.Combine(_dir.FullName, "layout.bin");
        CheckpointWriter.SavePyTorch(new Dictionary<string, Tensor> { ["a"] = ones(2), ["b"] = zeros(3) }, path);
        using var zip = ZipFile.OpenRead(path);
        Assert.Equal(["archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1", "archive/version"], zip.Entries.Select(e => e.FullName));
        Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength)); // stored, not deflated
        using var version = new StreamReader(zip.GetEntry("archive/version")!.Open());
        Assert.Equal("3", version.ReadToEnd().Trim());
    }

    [Fact]
    public void UnsupportedElementTypesAndDuplicateKeysAreRefusedByName()
    {
        var path = Path.Combine(_dir.FullName, "bad.bin");
        var e = Assert.Throws<NotSupportedException>(() => CheckpointWriter.SavePyTorch(
            new Dictionary<string, Tensor> { ["q"] = zeros(2, dtype: ScalarType.Int8) }, path));
        Assert.Contains("'q'", e.Message);
        var dup = Assert.Throws<ArgumentException>(() => CheckpointWriter.SavePyTorch(
            [KeyValuePair.Create("x", zeros(1)), KeyValuePair.Create("x", ones(1))], path));
        Assert.Contains("'x'", dup.Message);
        Assert.False(File.Exists(path));
    }
}
