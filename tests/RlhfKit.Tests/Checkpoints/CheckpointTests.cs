using RlhfKit.Loading;
using System.Buffers.Binary;
using System.Text;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static RlhfKit.Tests.Checkpoints.PickleBuilder;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ckpt-tests-");

    public void Dispose() => _dir.Delete(recursive: true);

    string PathIn(string name) => Path.Combine(_dir.FullName, name);

    string Write(string name, byte[] bytes)
    {
        var p = PathIn(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    static InvalidDataException ReadFails(string path, params string[] mustMention)
    {
        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadStateDict(path));
        Assert.Contains(path, e.Message);
        foreach (var m in mustMention) Assert.Contains(m, e.Message);
        Assert.Equal(path, CheckpointError.FileOf(e));
        return e;
    }

    static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.eq(actual).all().item<bool>());
    }

    // ------------------------------------------------------------------ safetensors round trip

    static Dictionary<string, Tensor> Sample()
    {
        var g = new Generator(7);
        return new()
        {
            ["a.weight"] = torch.randn([3, 4], generator: g),
            ["b.half"] = torch.randn([5], generator: g).to_type(ScalarType.Float16),
            ["c.bf16"] = torch.randn([2, 2, 2], generator: g).to_type(ScalarType.BFloat16),
            ["emb.position_ids"] = torch.arange(6, dtype: ScalarType.Int64).unsqueeze(0),
            ["scalar"] = torch.tensor(3.5f),
            ["empty"] = torch.zeros([0, 3]),
            ["strided"] = torch.randn([4, 3], generator: g).t(), // non-contiguous view
        };
    }

    [Fact]
    public void SafetensorsRoundTripKeepsValuesDtypesAndShapes()
    {
        var tensors = Sample();
        var path = PathIn("m.safetensors");
        CheckpointWriter.SaveSafetensors(tensors, path);
        var back = CheckpointReader.ReadStateDict(path);
        Assert.Equal(tensors.Keys.Order(), back.Keys.Order());
        foreach (var (k, t) in tensors) AssertSame(t.contiguous(), back[k]);

        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Contains("\"__metadata__\":{\"format\":\"pt\"}", header);
        Assert.Empty(Directory.GetFiles(_dir.FullName, ".*.tmp"));
    }

    [Fact]
    public void SafetensorsDropKeysAndDtypeConversionOnRead()
    {
        var tensors = Sample();
        var path = PathIn("m.safetensors");
        CheckpointWriter.SaveSafetensors(tensors, path, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" }, dropKeys: ["a.weight"]);
        var back = CheckpointReader.ReadStateDict(path, ScalarType.Float16);
        Assert.DoesNotContain("a.weight", back.Keys);
        Assert.Equal(ScalarType.Float16, back["c.bf16"].dtype);
        Assert.Equal(ScalarType.Int64, back["emb.position_ids"].dtype); // integers keep their type
        Assert.Throws<ArgumentException>(() => CheckpointReader.ReadStateDict(path, ScalarType.Int32));
    }

    // ------------------------------------------------------------------ safetensors damage

    static byte[] Safetensors(string headerJson, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(headerJson);
        var b = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
        h.CopyTo(b, 8);
        return b;
    }

    [Fact]
    public void SafetensorsDamageIsReportedWithFileAndTensor()
    {
        ReadFails(Write("short.safetensors", [1, 2, 3]), "too short");
        var big = Safetensors("{}", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(big, 1_000_000);
        ReadFails(Write("biglen.safetensors", big), "header length 1000000 is larger than the file");
        BinaryPrimitives.WriteUInt64LittleEndian(big, ulong.MaxValue);
        ReadFails(Write("hugelen.safetensors", big), "larger than the file");
        ReadFails(Write("badjson.safetensors", Safetensors("{\"a\": [", 0)), "not valid JSON");
        ReadFails(Write("range.safetensors", Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8)),
            "tensor 'w'", "run past the end");
        ReadFails(Write("overlap.safetensors", Safetensors(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)),
            "overlaps");
        var e = ReadFails(Write("dtype.safetensors", Safetensors("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2)),
            "tensor 'w'", "F8_E4M3");
        Assert.Equal("w", CheckpointError.TensorOf(e));
        ReadFails(Write("size.safetensors", Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)),
            "needs 12");
        ReadFails(Write("neg.safetensors", Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)),
            "non-negative");
    }

    public static TheoryData<string, string> FixtureFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var dir in Directory.EnumerateDirectories(Fixtures.Root).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, "config.json")))
                foreach (var f in new[] { "model.safetensors", "pytorch_model.bin", "pytorch_model_legacy.bin" })
                    if (File.Exists(Path.Combine(dir, f))) data.Add(Path.GetFileName(dir), f);
        return data;
    }

    /// <summary>A fixture cut short anywhere ends in InvalidDataException naming the file, never a crash or a hang.</summary>
    [Theory, MemberData(nameof(FixtureFiles))]
    public void TruncatedFixturesFailCleanly(string model, string file)
    {
        var bytes = File.ReadAllBytes(Fixtures.PathOf(model, file));
        var cuts = new long[] { 1, 7, 9, 40, 100, 200, 1000, bytes.Length / 3, bytes.Length / 2, bytes.Length - 100, bytes.Length - 1 };
        foreach (var cut in cuts)
        {
            var p = Write($"cut{cut}-{file}", bytes[..(int)cut]);
            var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadStateDict(p));
            Assert.Contains(p, e.Message);
        }
    }

    /// <summary>Single-byte corruptions in the headers and pickles either read (the byte was data) or end in
    /// InvalidDataException naming the file; nothing else escapes.</summary>
    [Theory, MemberData(nameof(FixtureFiles))]
    public void CorruptedHeadersFailCleanly(string model, string file)
    {
        var bytes = File.ReadAllBytes(Fixtures.PathOf(model, file));
        var rng = new Random(1234);
        var p = PathIn($"corrupt-{file}");
        for (int i = 0; i < 150; i++)
        {
            var copy = (byte[])bytes.Clone();
            var at = rng.Next(Math.Min(copy.Length, 4096));
            copy[at] = (byte)(i % 3 == 0 ? rng.Next(256) : copy[at] ^ (1 << rng.Next(8)));
            File.WriteAllBytes(p, copy);
            try
            {
                foreach (var t in CheckpointReader.ReadStateDict(p).Values) t.Dispose();
            }
            catch (InvalidDataException e)
            {
                Assert.Contains(p, e.Message);
            }
        }
    }

    // ------------------------------------------------------------------ PyTorch zip and legacy, built by hand

    static readonly TensorSpec[] Specs =
    [
        new("w", "FloatStorage", "0", 6, 0, [2, 3], [3, 1]),
        new("w_t", "FloatStorage", "0", 6, 0, [3, 2], [1, 3]),   // transposed view of the same storage
        new("tail", "FloatStorage", "0", 6, 4, [2], [1]),         // offset view
        new("pos", "LongStorage", "1", 4, 0, [1, 4], [4, 1]),
    ];

    static readonly float[] W = [1, 2, 3, 4, 5, 6];

    static void CheckHandBuilt(Dictionary<string, Tensor> sd)
    {
        AssertSame(torch.tensor(W).reshape(2, 3), sd["w"]);
        AssertSame(torch.tensor(W).reshape(2, 3).t().contiguous(), sd["w_t"]);
        AssertSame(torch.tensor(new float[] { 5, 6 }), sd["tail"]);
        AssertSame(torch.tensor(new long[] { 0, 1, 2, 3 }).reshape(1, 4), sd["pos"]);
    }

    [Fact]
    public void HandBuiltZipAndLegacyReadWithViewsAndInt64()
    {
        var zip = Write("hand.bin", Zip(StateDict(Specs, legacy: false), [("0", Floats(W)), ("1", Longs(0, 1, 2, 3))]));
        Assert.Equal(CheckpointFormat.PyTorchZip, CheckpointReader.DetectFormat(zip));
        CheckHandBuilt(CheckpointReader.ReadStateDict(zip));

        var legacy = Write("hand_legacy.bin", Legacy(StateDict(Specs, legacy: true), [("0", 6, Floats(W)), ("1", 4, Longs(0, 1, 2, 3))]));
        Assert.Equal(CheckpointFormat.PyTorchLegacy, CheckpointReader.DetectFormat(legacy));
        CheckHandBuilt(CheckpointReader.ReadStateDict(legacy));
    }

    [Fact]
    public void StorageDataShorterThanDeclaredIsReported()
    {
        var zip = Write("short.bin", Zip(StateDict(Specs, legacy: false), [("0", Floats(1, 2, 3)), ("1", Longs(0, 1, 2, 3))]));
        ReadFails(zip, "storage '0'", "6 Float32 elements (24 bytes)", "holds 12 bytes");

        var legacy = Legacy(StateDict(Specs, legacy: true), [("0", 6, Floats(W)), ("1", 4, Longs(0, 1, 2, 3))]);
        ReadFails(Write("short_legacy.bin", legacy[..^8]), "storage '1'", "truncated");
        var wrongCount = Legacy(StateDict(Specs, legacy: true), [("0", 5, Floats(W)), ("1", 4, Longs(0, 1, 2, 3))]);
        ReadFails(Write("count_legacy.bin", wrongCount), "holds 5 elements but the pickle declared 6");

        var missingEntry = Write("noentry.bin", Zip(StateDict(Specs, legacy: false), [("0", Floats(W))]));
        ReadFails(missingEntry, "storage '1'", "no entry");
    }

    [Fact]
    public void TensorReachingPastItsStorageIsReported()
    {
        TensorSpec[] specs = [new("big", "FloatStorage", "0", 6, 2, [2, 3], [3, 1])];
        var e = ReadFails(Write("past.bin", Zip(StateDict(specs, legacy: false), [("0", Floats(W))])), "tensor 'big'", "reaches element 7");
        Assert.Equal("big", CheckpointError.TensorOf(e));
    }

    /// <summary>A pickle is code; only the globals a state dict needs may appear, and the refusal names the global
    /// and the file.</summary>
    [Fact]
    public void PickleNamingAnotherGlobalIsRefused()
    {
        var osSystem = new PickleBuilder().Proto().Global("os", "system").Str("echo pwned").Tuple1().Reduce().Stop().ToArray();
        ReadFails(Write("evil_zip.bin", Zip(osSystem, [])), "'os.system'", "refusing");
        ReadFails(Write("evil_legacy.bin", Legacy(osSystem, [])), "'os.system'", "refusing");

        var eval = new PickleBuilder().Proto(4).StackGlobal("builtins", "eval").Str("1+1").Tuple1().Reduce().Stop().ToArray();
        ReadFails(Write("eval_zip.bin", Zip(eval, [])), "'builtins.eval'");

        // Hidden inside an otherwise valid state dict, as the backward-hooks argument.
        var p = new PickleBuilder().Proto().EmptyDict().Mark().Str("w").Global("torch._utils", "_rebuild_tensor_v2").Mark();
        p.Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(6).Tuple().PersId();
        p.Int(0).Ints([6]).Ints([1]).False().Global("builtins", "exec").Str("import os").Tuple1().Reduce().Tuple().Reduce().SetItems().Stop();
        ReadFails(Write("hidden.bin", Zip(p.ToArray(), [("0", Floats(W))])), "'builtins.exec'");

        // A header pickle of the legacy form gets no globals at all.
        var legacy = Legacy(StateDict(Specs, legacy: true), [("0", 6, Floats(W)), ("1", 4, Longs(0, 1, 2, 3))]);
        var evilHeader = new PickleBuilder().Proto().Global("subprocess", "call").Stop().ToArray();
        ReadFails(Write("evil_header.bin", [.. legacy.AsSpan(0, 15), .. evilHeader]), "'subprocess.call'");
    }

    [Fact]
    public void MalformedPicklesFailCleanly()
    {
        // An opcode state dicts never use (INST).
        ReadFails(Write("inst.bin", Zip(new PickleBuilder().Proto().Op((byte)'i').Stop().ToArray(), [])), "opcode 0x69");
        // A string length far past the end: refused before allocating.
        ReadFails(Write("len.bin", Zip(new PickleBuilder().Proto().Op((byte)'X').Raw(0xff, 0xff, 0xff, 0x7f).ToArray(), [])), "runs past the end");
        // No STOP.
        ReadFails(Write("nostop.bin", Zip(new PickleBuilder().Proto().EmptyDict().ToArray(), [])), "end of file");
        // Memo read that was never written.
        ReadFails(Write("memo.bin", Zip(new PickleBuilder().Proto().Op((byte)'h').Raw(9).Stop().ToArray(), [])), "memo key 9");
        // A storage size that overflows when counted in bytes.
        TensorSpec[] huge = [new("w", "FloatStorage", "0", long.MaxValue / 2, 0, [2], [1])];
        ReadFails(Write("huge.bin", Zip(StateDict(huge, legacy: false), [("0", Floats(1, 2))])), "storage '0'", "element count");
        // Top level not a dict.
        ReadFails(Write("list.bin", Zip(new PickleBuilder().Proto().EmptyList().Stop().ToArray(), [])), "not a state dict");
        // A value that is not a tensor.
        ReadFails(Write("int.bin", Zip(new PickleBuilder().Proto().EmptyDict().Str("epoch").Int(3).Op((byte)'s').Stop().ToArray(), [])),
            "tensor 'epoch'", "not a tensor");
        // Wrong legacy magic.
        var notMagic = new PickleBuilder().Proto().Int(12345).Stop().ToArray();
        ReadFails(Write("magic.bin", notMagic), "magic number");
        // Big-endian zip.
        ReadFails(Write("be.bin", Zip(StateDict(Specs, legacy: false), [("0", Floats(W)), ("1", Longs(0, 1, 2, 3))], byteorder: "big")), "byte order 'big'");
        // Not a checkpoint at all.
        ReadFails(Write("text.bin", Encoding.ASCII.GetBytes("hello, this is not a checkpoint at all")), "not a recognised checkpoint");
        ReadFails(Write("empty.bin", []), "empty");
    }

    // ------------------------------------------------------------------ FindWeights and shards

    [Fact]
    public void FindWeightsPrefersSafetensorsThenBin()
    {
        var dir = _dir.CreateSubdirectory("model").FullName;
        var e = Assert.Throws<FileNotFoundException>(() => CheckpointReader.FindWeights(dir));
        Assert.Contains("model.safetensors", e.Message);
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), [0]);
        Assert.Equal(Path.Combine(dir, "pytorch_model.bin"), CheckpointReader.FindWeights(dir));
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors.index.json"), [0]);
        Assert.Equal(Path.Combine(dir, "model.safetensors.index.json"), CheckpointReader.FindWeights(dir));
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), [0]);
        Assert.Equal(Path.Combine(dir, "model.safetensors"), CheckpointReader.FindWeights(dir));
    }

    [Fact]
    public void ShardedSafetensorsAreMerged()
    {
        var all = Sample();
        var first = all.Take(3).ToDictionary();
        var second = all.Skip(3).ToDictionary();
        CheckpointWriter.SaveSafetensors(first, PathIn("model-00001-of-00002.safetensors"));
        CheckpointWriter.SaveSafetensors(second, PathIn("model-00002-of-00002.safetensors"));
        var map = string.Join(",", first.Keys.Select(k => $"\"{k}\":\"model-00001-of-00002.safetensors\"")
            .Concat(second.Keys.Select(k => $"\"{k}\":\"model-00002-of-00002.safetensors\"")));
        var index = Write("model.safetensors.index.json", Encoding.UTF8.GetBytes($"{{\"metadata\":{{}},\"weight_map\":{{{map}}}}}"));
        var back = CheckpointReader.ReadStateDict(index);
        Assert.Equal(all.Keys.Order(), back.Keys.Order());
        foreach (var (k, t) in all) AssertSame(t.contiguous(), back[k]);

        var bad = Write("bad.index.json", Encoding.UTF8.GetBytes("{\"weight_map\":{\"ghost\":\"model-00001-of-00002.safetensors\"}}"));
        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadStateDict(bad));
        Assert.Contains("ghost", e.Message);
        var escape = Write("escape.index.json", Encoding.UTF8.GetBytes("{\"weight_map\":{\"w\":\"../x.safetensors\"}}"));
        Assert.Contains("plain file name", Assert.Throws<InvalidDataException>(() => CheckpointReader.ReadStateDict(escape)).Message);
    }

    // ------------------------------------------------------------------ strict loading

    sealed class Tiny : nn.Module<Tensor, Tensor>
    {
        public Embedding emb = nn.Embedding(5, 3);
        public Linear fc = nn.Linear(3, 2);
        public Linear head = nn.Linear(3, 5, hasBias: false);

        public Tiny() : base("tiny") => RegisterComponents();

        public override Tensor forward(Tensor x) => head.forward(fc.forward(emb.forward(x)));
    }

    static Dictionary<string, Tensor> StateOf(Tiny m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    [Fact]
    public void LoadIntoCopiesEveryTensorKeepingTheModuleDtype()
    {
        var source = StateOf(new Tiny());
        var half = source.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float16));
        var target = new Tiny();
        var report = StateDictLoader.LoadInto(target, half, "half.safetensors");
        Assert.Equal(4, report.Loaded);
        foreach (var (k, t) in target.state_dict())
        {
            Assert.Equal(ScalarType.Float32, t.dtype);
            AssertSame(half[k].to_type(ScalarType.Float32), t.detach());
        }
        Assert.Null(target.fc.weight!.grad);
        Assert.True(target.fc.weight!.requires_grad);
    }

    [Fact]
    public void MismatchListsEveryProblemAndLeavesTheModuleAlone()
    {
        var sd = StateOf(new Tiny());
        sd.Remove("fc.bias");
        sd.Remove("head.weight");
        sd["fc.weight"] = torch.zeros([2, 4]);
        sd["extra.weight"] = torch.zeros([7]);
        sd["emb.weight"] = torch.full([5, 3], float.NaN);
        var target = new Tiny();
        var before = StateOf(target);
        var e = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.LoadInto(target, sd, "bad.safetensors"));
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Equal(["fc.bias [2]", "head.weight [5, 3]"], e.Missing.Order());
        Assert.Equal(["extra.weight [7]"], e.Unexpected);
        var shape = Assert.Single(e.ShapeMismatches);
        Assert.Equal("fc.weight", shape.Name);
        Assert.Contains("fc.weight: checkpoint [2, 4] vs module [2, 3]", e.Message);
        Assert.Equal(["emb.weight [5, 3] (15 NaN, 0 Inf)"], e.NonFinite);
        foreach (var line in new[] { "fc.bias [2]", "head.weight [5, 3]", "extra.weight [7]", "emb.weight" }) Assert.Contains(line, e.Message);
        foreach (var (k, t) in target.state_dict()) AssertSame(before[k], t.detach());
    }

    [Fact]
    public void MissingTiedWeightsAreReTiedAndPositionIdsIgnored()
    {
        var source = new Tiny();
        var sd = StateOf(source);
        sd.Remove("head.weight");
        sd["emb.weight"] = torch.randn([5, 3]);
        sd["roberta.embeddings.position_ids"] = torch.arange(8).unsqueeze(0);
        var tied = new Dictionary<string, string> { ["head.weight"] = "emb.weight" };

        var e = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.LoadInto(new Tiny(), sd, "t.safetensors"));
        Assert.Equal(["head.weight [5, 3]"], e.Missing);

        var target = new Tiny();
        var report = StateDictLoader.LoadInto(target, sd, "t.safetensors", tied);
        Assert.Equal(["head.weight <- emb.weight"], report.Tied);
        Assert.Contains("roberta.embeddings.position_ids", report.Ignored);
        AssertSame(sd["emb.weight"], target.head.weight!.detach());
        AssertSame(sd["emb.weight"], target.emb.weight!.detach());

        // A tie target that is absent too: both named.
        sd.Remove("emb.weight");
        var e2 = Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.LoadInto(new Tiny(), sd, "t.safetensors", tied));
        Assert.Contains("head.weight [5, 3] (tied to 'emb.weight', also absent)", e2.Missing);
        Assert.Contains("emb.weight [5, 3]", e2.Missing);

        // Caller-given ignores skip module tensors too.
        var report3 = StateDictLoader.LoadInto(new Tiny(), sd, "t.safetensors", tied, new HashSet<string> { "emb.*", "head.weight" });
        Assert.Equal(2, report3.Loaded);
    }

    // ------------------------------------------------------------------ writing model folders

    static T5Config TinyT5(bool tie) => new()
    {
        VocabSize = 5, DModel = 3, DKv = 1, DFf = 4, NumLayers = 1, NumHeads = 3, TieWordEmbeddings = tie,
        FeedForwardProj = "gated-gelu",
    };

    [Fact]
    public void SaveHfFolderDropsTiedDuplicatesAndReadsBack()
    {
        var shared = torch.randn([5, 3]);
        var sd = new Dictionary<string, Tensor>
        {
            ["shared.weight"] = shared,
            ["encoder.embed_tokens.weight"] = shared,
            ["decoder.embed_tokens.weight"] = shared,
            ["lm_head.weight"] = shared,
            ["encoder.final_layer_norm.weight"] = torch.ones(3),
        };
        var folder = Path.Combine(_dir.FullName, "out");
        PretrainedFolder.Save(folder, TinyT5(tie: true), sd, new Dictionary<string, byte[]> { ["generation_config.json"] = "{}"u8.ToArray() });
        Assert.Equal(Path.Combine(folder, "model.safetensors"), CheckpointReader.FindWeights(folder));
        var back = CheckpointReader.ReadStateDict(CheckpointReader.FindWeights(folder));
        Assert.Equal(["encoder.final_layer_norm.weight", "shared.weight"], back.Keys.Order());
        AssertSame(shared, back["shared.weight"]);
        var config = Assert.IsType<T5Config>(PretrainedConfig.Load(folder));
        Assert.True(config.IsGatedAct);
        Assert.Equal("gelu_new", config.DenseActFn);
        Assert.True(File.Exists(Path.Combine(folder, "generation_config.json")));

        // Untied: lm_head is its own tensor and is kept.
        sd["lm_head.weight"] = torch.randn([5, 3]);
        PretrainedFolder.Save(folder, TinyT5(tie: false), sd);
        Assert.Contains("lm_head.weight", CheckpointReader.ReadStateDict(Path.Combine(folder, "model.safetensors")).Keys);
        // A config that ties weights that differ would lose one: refused.
        var e = Assert.Throws<InvalidOperationException>(() => PretrainedFolder.Save(folder, TinyT5(tie: true), sd));
        Assert.Contains("lm_head.weight", e.Message);
    }

    // ------------------------------------------------------------------ configs

    [Fact]
    public void ConfigErrorsNameTheFileAndTheField()
    {
        var notJson = Write("config.json", Encoding.UTF8.GetBytes("{\n  \"model_type\": \"t5\",\n  oops\n}"));
        var e = Assert.Throws<InvalidDataException>(() => PretrainedConfig.Load(notJson));
        Assert.Contains(notJson, e.Message);
        Assert.Contains("line 3", e.Message);

        var missing = Assert.Throws<InvalidDataException>(() => PretrainedConfig.FromJson(
            "{\"model_type\":\"t5\",\"vocab_size\":5,\"d_model\":3,\"d_kv\":1,\"num_layers\":1,\"num_heads\":3}", "my/config.json"));
        Assert.Contains("'d_ff'", missing.Message);
        Assert.Contains("my/config.json", missing.Message);

        var unknown = Assert.Throws<InvalidDataException>(() => PretrainedConfig.FromJson("{\"model_type\":\"gpt2\"}", "c.json"));
        Assert.Contains("'gpt2'", unknown.Message);
        Assert.Contains("t5, roberta, bert", unknown.Message);

        var mistyped = Assert.Throws<InvalidDataException>(() => PretrainedConfig.FromJson(
            "{\"model_type\":\"t5\",\"vocab_size\":\"5\",\"d_model\":3,\"d_kv\":1,\"d_ff\":4,\"num_layers\":1,\"num_heads\":3}", "c.json"));
        Assert.Contains("'vocab_size' must be an integer", mistyped.Message);

        var proj = Assert.Throws<InvalidDataException>(() => PretrainedConfig.FromJson(
            "{\"model_type\":\"t5\",\"vocab_size\":5,\"d_model\":3,\"d_kv\":1,\"d_ff\":4,\"num_layers\":1,\"num_heads\":3,\"feed_forward_proj\":\"gated-gelu-x\"}", "c.json"));
        Assert.Contains("gated-gelu-x", proj.Message);

        var wrongType = Assert.Throws<InvalidDataException>(() => RobertaConfig.FromJson(TinyT5(true).ToJson(), "c.json"));
        Assert.Contains("RobertaConfig", wrongType.Message);
    }

    [Fact]
    public void ConfigDefaultsFollowTransformers()
    {
        var t5 = T5Config.FromJson("{\"model_type\":\"t5\",\"vocab_size\":5,\"d_model\":3,\"d_kv\":1,\"d_ff\":4,\"num_layers\":2,\"num_decoder_layers\":null,\"num_heads\":3}");
        Assert.Equal(2, t5.NumDecoderLayers);
        Assert.Equal(128, t5.RelativeAttentionMaxDistance);
        Assert.True(t5.TieWordEmbeddings);
        Assert.Equal("relu", t5.DenseActFn);
        Assert.False(t5.IsGatedAct);
        Assert.Equal(3, (t5 with { NumLayers = 3 }).NumDecoderLayers);
        Assert.Equal(1, (t5 with { NumDecoderLayers = 1 }).NumDecoderLayers);

        const string roberta = "{\"model_type\":\"roberta\",\"vocab_size\":30,\"hidden_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":16";
        var two = RobertaConfig.FromJson(roberta + "}");
        Assert.Equal(["LABEL_0", "LABEL_1"], two.Id2Label);
        Assert.Equal(1, two.PadTokenId);
        var three = RobertaConfig.FromJson(roberta + ",\"num_labels\":3}");
        Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], three.Id2Label);
        var named = RobertaConfig.FromJson(roberta + ",\"id2label\":{\"1\":\"good\",\"0\":\"bad\"},\"problem_type\":\"regression\"}");
        Assert.Equal(["bad", "good"], named.Id2Label);
        Assert.Contains("\"label2id\"", named.ToJson());
        var gap = Assert.Throws<InvalidDataException>(() => RobertaConfig.FromJson(roberta + ",\"id2label\":{\"0\":\"a\",\"2\":\"c\"}}"));
        Assert.Contains("id2label", gap.Message);
        var bert = Assert.IsType<BertConfig>(PretrainedConfig.FromJson(roberta.Replace("roberta", "bert") + ",\"some_future_field\":[1,2]}"));
        Assert.Equal(0, bert.PadTokenId);
        Assert.Contains("\"some_future_field\"", bert.ToJson());
    }
}
