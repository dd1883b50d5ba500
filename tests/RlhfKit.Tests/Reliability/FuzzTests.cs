using RlhfKit.Loading;
using System.Buffers.Binary;
using System.Text;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using RlhfKit.Tests.Tokenization;
using RlhfKit.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// Seeded fuzzing (a fixed number of cases per campaign) of everything the kit reads from disk: the fixture checkpoints
/// in all three forms (safetensors, PyTorch zip, PyTorch legacy), config.json, whole model folders through
/// <see cref="AutoModel"/>, and the tokenizer files (spiece.model, vocab.json, merges.txt, vocab.txt,
/// tokenizer_config.json) through the three tokenizers and <see cref="AutoTokenizer"/>. Every case must either load
/// (and then work: tensors of the declared sizes, a forward pass of the right shape, token ids inside the vocabulary)
/// or throw one of the documented exception types with a message naming the file. Anything else (another exception
/// type, a hang, a crash) fails the test with the case's mutations; its inputs are kept under
/// <c>$TMP/rlhfkit-fuzz-failures/</c>. <c>RLHFKIT_FUZZ_SEED</c> picks another seed, <c>RLHFKIT_FUZZ_SCALE</c> scales
/// the case counts (e.g. 10 for a long run).
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    static readonly string[] Models = ["t5-gated", "t5-relu", "roberta-cls"];

    void Report(FuzzReport report)
    {
        output.WriteLine(report.ToString());
        foreach (var (type, message) in report.Examples)
            output.WriteLine($"  e.g. {type}: {(message.Length > 220 ? message[..220] + "..." : message)}");
        foreach (var f in report.Failures) output.WriteLine("  FAILURE " + f);
        var summary = Environment.GetEnvironmentVariable("RLHFKIT_FUZZ_SUMMARY");
        if (!string.IsNullOrEmpty(summary)) File.AppendAllText(summary, report + "\n");
        Assert.True(report.Failures.Count == 0, $"{report}\n" + string.Join("\n", report.Failures));
    }

    static string Copy(string model, string file, string folder, string? name = null)
    {
        var target = Path.Combine(folder, name ?? file);
        File.Copy(Fixtures.PathOf(model, file), target);
        return target;
    }

    static void ReadAndCheck(string path)
    {
        var state = CheckpointReader.ReadStateDict(path);
        try
        {
            Assert.NotEmpty(state);
            foreach (var (name, t) in state)
                Assert.True(t.numel() == t.shape.Aggregate(1L, (a, b) => a * b), name);
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    // ---------------------------------------------------------------- checkpoints

    static readonly Type[] CheckpointErrors = [typeof(InvalidDataException)];

    [Fact]
    public void SafetensorsMutationsLoadOrFailWithTheFileNamed()
    {
        var sources = Models.ToDictionary(m => m, m => File.ReadAllBytes(Fixtures.PathOf(m, "model.safetensors")));
        var report = FuzzRunner.Run("safetensors", 1500, CheckpointErrors, (rng, folder, log) =>
        {
            var model = Models[rng.Next(Models.Length)];
            var original = sources[model];
            var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
            log.Add(model);
            byte[] bytes;
            switch (rng.Next(10))
            {
                case < 4:
                    bytes = Mutate.Bytes(original, rng, log, (0, 8 + headerLength));
                    break;
                case < 8:
                    {
                        // The header as JSON: delete keys, swap dtypes, shapes and offsets for odd values.
                        var header = Mutate.Json(original[8..(8 + headerLength)], rng, log);
                        bytes = new byte[8 + header.Length + original.Length - 8 - headerLength];
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
                        header.CopyTo(bytes, 8);
                        original.AsSpan(8 + headerLength).CopyTo(bytes.AsSpan(8 + header.Length));
                        break;
                    }
                default:
                    {
                        bytes = (byte[])original.Clone();
                        ulong[] lengths = [0, 1, 2, (ulong)headerLength - 1, (ulong)headerLength + 1, (ulong)headerLength + 8,
                            (ulong)original.Length - 8, (ulong)original.Length, (ulong)original.Length + 1, 1UL << 31, (1UL << 32) + (ulong)headerLength,
                            100_000_001, ulong.MaxValue, (ulong)rng.NextInt64()];
                        var value = lengths[rng.Next(lengths.Length)];
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
                        log.Add($"header length {headerLength} -> {value}");
                        break;
                    }
            }
            var path = Path.Combine(folder, "model.safetensors");
            File.WriteAllBytes(path, bytes);
            return () => ReadAndCheck(path);
        });
        Report(report);
    }

    [Fact]
    public void PyTorchPickleMutationsLoadOrFailWithTheFileNamed()
    {
        string[] files = ["pytorch_model.bin", "pytorch_model_legacy.bin"];
        var sources = Models.SelectMany(m => files.Select(f => (m, f))).ToDictionary(x => x, x => File.ReadAllBytes(Fixtures.PathOf(x.m, x.f)));
        var report = FuzzRunner.Run("pytorch", 1200, CheckpointErrors, (rng, folder, log) =>
        {
            var model = Models[rng.Next(Models.Length)];
            var file = files[rng.Next(files.Length)];
            var original = sources[(model, file)];
            log.Add($"{model}/{file}");
            // The pickle is at the start of both forms; the zip's central directory at the end.
            var bytes = Mutate.Bytes(original, rng, log, (0, 6000), (original.Length - 3000, original.Length));
            var path = Path.Combine(folder, file);
            File.WriteAllBytes(path, bytes);
            return () => ReadAndCheck(path);
        });
        Report(report);
    }

    // ---------------------------------------------------------------- config.json and model folders

    static readonly Type[] ModelErrors = [typeof(InvalidDataException), typeof(CheckpointMismatchException), typeof(FileNotFoundException)];

    /// <summary>Loads a model folder through AutoModel and runs a forward pass, checking the output's shape.</summary>
    static void LoadAndRun(string folder)
    {
        var config = PretrainedConfig.Load(folder);
        using var scope = NewDisposeScope();
        if (config is T5Config t5)
        {
            using var model = AutoModel.T5FromPretrained(folder);
            long Id(long i) => Math.Min(i, t5.VocabSize - 1);
            var ids = tensor(new[] { Id(5), Id(6), Id(7), Id(1) }).unsqueeze(0);
            var dec = tensor(new[] { (long)t5.DecoderStartTokenId, Id(5) }).unsqueeze(0);
            using var output = NoGrad(() => model.Forward(ids, ones_like(ids), dec));
            Assert.Equal(new long[] { 1, 2, t5.VocabSize }, output.Logits.shape);
        }
        else
        {
            var classifier = AutoModel.SequenceClassifierFromPretrained(folder);
            try
            {
                var bert = (BertLikeConfig)config;
                long Id(long i) => Math.Min(i, bert.VocabSize - 1);
                var length = Math.Min(4, classifier.MaxTokens);
                var ids = tensor(new[] { Id(0), Id(5), Id(6), Id(2) }[..length]).unsqueeze(0);
                using var output = NoGrad(() => classifier.Forward(ids, ones_like(ids)));
                Assert.Equal(new long[] { 1, bert.NumLabels }, output.Logits.shape);
            }
            finally { ((nn.Module)classifier).Dispose(); }
        }
    }

    static T NoGrad<T>(Func<T> f)
    {
        using var _ = no_grad();
        return f();
    }

    [Fact]
    public void ConfigMutationsLoadOrFailWithTheFileNamed()
    {
        var report = FuzzRunner.Run("config", 800, ModelErrors, (rng, folder, log) =>
        {
            var model = Models[rng.Next(Models.Length)];
            log.Add(model);
            var original = File.ReadAllBytes(Fixtures.PathOf(model, "config.json"));
            var bytes = rng.Next(5) == 0 ? Mutate.Bytes(original, rng, log) : Mutate.Json(original, rng, log);
            File.WriteAllBytes(Path.Combine(folder, "config.json"), bytes);
            Copy(model, "model.safetensors", folder);
            return () => LoadAndRun(folder);
        });
        Report(report);
    }

    [Fact]
    public void ModelFolderMutationsLoadOrFailWithTheFileNamed()
    {
        string[] files = ["model.safetensors", "pytorch_model.bin", "pytorch_model_legacy.bin"];
        var report = FuzzRunner.Run("model-folder", 300, ModelErrors, (rng, folder, log) =>
        {
            var model = Models[rng.Next(Models.Length)];
            var file = files[rng.Next(files.Length)];
            log.Add($"{model}/{file}");
            Copy(model, "config.json", folder);
            var original = File.ReadAllBytes(Fixtures.PathOf(model, file));
            var target = Path.Combine(folder, file == "pytorch_model_legacy.bin" ? "pytorch_model.bin" : file);
            switch (rng.Next(20))
            {
                case 0: log.Add("no weights"); break;
                case 1:
                    log.Add("no config.json");
                    File.Delete(Path.Combine(folder, "config.json"));
                    File.WriteAllBytes(target, original);
                    break;
                default:
                    {
                        // Anywhere in the file: data bytes too, which the strict loader checks (NaN/Inf) or loads.
                        var hot = file == "model.safetensors" ? (0, 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original)) : (0, 6000);
                        File.WriteAllBytes(target, Mutate.Bytes(original, rng, log, hot, (0, original.Length)));
                        break;
                    }
            }
            return () => LoadAndRun(folder);
        });
        Report(report);
    }

    // ---------------------------------------------------------------- tokenizers

    static readonly Type[] TokenizerErrors = [typeof(InvalidDataException), typeof(FileNotFoundException)];

    static readonly string[] Texts =
    [
        "", "Hello world.", "summarize: The cat sat on the mat.", "\u0000\u0001\u001f\u007f", "😀 𝔘𝔫𝔦 \ud800 \udc00", "<extra_id_0> </s> <pad> <s> [CLS] [MASK]",
        "漢字かな", new string('x', 3000), string.Concat(Enumerable.Repeat("word ", 700)),
    ];

    /// <summary>A loaded tokenizer must encode and decode odd text with every id inside its vocabulary.</summary>
    static void Exercise(PreTrainedTokenizer tok)
    {
        Assert.InRange(tok.VocabSize, 1, 10_000_000);
        foreach (var text in Texts)
        {
            var ids = tok.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
            Assert.NotNull(tok.Decode(ids));
            Assert.NotNull(tok.Decode(ids, skipSpecialTokens: false));
            Assert.True(tok.Encode(text, maxLength: tok.NumSpecialTokensToAdd + 3).Count <= tok.NumSpecialTokensToAdd + 3);
        }
        using var batch = tok.EncodeBatch(Texts, maxLength: 16);
        Assert.Equal(Texts.Length, batch.InputIds.shape[0]);
    }

    [Fact]
    public void TokenizerFileMutationsLoadOrFailWithTheFileNamed()
    {
        var spiece = File.ReadAllBytes(Fixtures.PathOf("spiece", "spiece.model"));
        byte[] vocabJson, merges, vocabTxt;
        using (var t = new TempFolder())
        {
            var (v, m) = TinyRoberta.WriteTo(t);
            vocabJson = File.ReadAllBytes(v);
            merges = File.ReadAllBytes(m);
            vocabTxt = File.ReadAllBytes(MiniLmVocab.WriteTo(t));
        }
        var configs = new Dictionary<string, string>
        {
            ["t5"] = "{\"tokenizer_class\": \"T5Tokenizer\", \"model_max_length\": 512, \"extra_ids\": 100}",
            ["roberta"] = "{\"tokenizer_class\": \"RobertaTokenizer\", \"model_max_length\": 512}",
            ["bert"] = "{\"tokenizer_class\": \"BertTokenizer\", \"do_lower_case\": true, \"model_max_length\": 512}",
        };
        string[] kinds = ["t5", "roberta", "bert"];
        var report = FuzzRunner.Run("tokenizer", 700, TokenizerErrors, (rng, folder, log) =>
        {
            var kind = kinds[rng.Next(kinds.Length)];
            var useAuto = rng.Next(3) == 0;
            var files = kind switch
            {
                "t5" => new Dictionary<string, byte[]> { ["spiece.model"] = spiece },
                "roberta" => new Dictionary<string, byte[]> { ["vocab.json"] = vocabJson, ["merges.txt"] = merges },
                _ => new Dictionary<string, byte[]> { ["vocab.txt"] = vocabTxt },
            };
            if (useAuto) files["tokenizer_config.json"] = Encoding.UTF8.GetBytes(configs[kind]);
            var names = files.Keys.ToList();
            var target = names[rng.Next(names.Count)];
            log.Add($"{kind}{(useAuto ? " (AutoTokenizer)" : "")}: {target}");
            var original = files[target];
            files[target] = rng.Next(25) switch
            {
                0 => [],
                1 => Encoding.UTF8.GetBytes("   \n"),
                _ => target switch
                {
                    "spiece.model" => Mutate.Bytes(original, rng, log, (0, 2048), (original.Length - 4096, original.Length)),
                    "vocab.json" or "tokenizer_config.json" => rng.Next(4) == 0 ? Mutate.Bytes(original, rng, log) : Mutate.Json(original, rng, log),
                    _ => Mutate.Lines(original, rng, log),
                },
            };
            if (rng.Next(30) == 0) { files.Remove(target); log.Add($"{target} missing"); }
            foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(folder, name), bytes);
            return () =>
            {
                PreTrainedTokenizer tok = useAuto ? AutoTokenizer.FromPretrained(folder) : kind switch
                {
                    "t5" => T5Tokenizer.FromFile(Path.Combine(folder, "spiece.model")),
                    "roberta" => RobertaTokenizer.FromFiles(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt")),
                    _ => BertTokenizer.FromVocab(Path.Combine(folder, "vocab.txt")),
                };
                Exercise(tok);
            };
        });
        Report(report);
    }
}
