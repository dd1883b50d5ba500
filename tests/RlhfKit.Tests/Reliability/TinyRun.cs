using RlhfKit.Loading;
using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Checkpoints;
using RlhfKit.Generation;
using RlhfKit.Models;
using RlhfKit.Ppo;
using RlhfKit.Tests.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// A whole alignment run in miniature, on disk as the real ones are: a tiny random FLAN-style T5 policy (vocabulary
/// 612 = the fixture spiece.model's 512 pieces + 100 sentinels) with its spiece.model, a tiny RoBERTa reward classifier
/// (the roberta-cls fixture with a byte-level BPE vocabulary), and the kit's own offline articles. A step takes a few
/// hundredths of a second.
/// </summary>
public sealed class TinyRunAssets : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("rlhfkit-tiny-run-").FullName;
    public string Policy => Path.Combine(Root, "policy");
    public string Reward => Path.Combine(Root, "tone");

    public static T5Config PolicyConfig => new()
    {
        VocabSize = 612, DModel = 32, DKv = 16, DFf = 64, NumLayers = 1, NumDecoderLayers = 1, NumHeads = 2,
        FeedForwardProj = "gated-gelu", TieWordEmbeddings = false, DropoutRate = 0.1, PadTokenId = 0, EosTokenId = 1, DecoderStartTokenId = 0,
    };

    public TinyRunAssets()
    {
        using (var model = new T5ForConditionalGeneration(PolicyConfig))
        {
            SeededInitialization.InitializeRandomWeights(model, 11);
            PretrainedFolder.Save(Policy, PolicyConfig, model.state_dict(),
                new Dictionary<string, byte[]> { ["spiece.model"] = File.ReadAllBytes(Fixtures.PathOf("spiece", "spiece.model")) });
        }

        Directory.CreateDirectory(Reward);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Fixtures.PathOf("roberta-cls", f), Path.Combine(Reward, f));
        File.WriteAllText(Path.Combine(Reward, "vocab.json"), JsonSerializer.Serialize(TinyRoberta.Vocab()));
        File.WriteAllText(Path.Combine(Reward, "merges.txt"), "#version: 0.2\n" + string.Join("\n", TinyRoberta.Merges.Select(m => $"{m.A} {m.B}")) + "\n");
    }

    public AlignmentConfig Config(int maxSteps, int seed = 7) => new()
    {
        Profile = "tiny",
        Policy = Policy,
        Rewards = [new ClassifierRewardSpec("tone", Reward, "LABEL_1", 1.0)],
        Ppo = new PpoConfig { BatchSize = 4, MiniBatchSize = 2, PpoEpochs = 2, LearningRate = 1e-3, InitKlCoef = 0.1, Seed = seed },
        Generation = GenerationConfig.PpoRollout(6),
        Data = "offline",
        Epochs = 1,
        MaxSteps = maxSteps,
        MaxPromptTokens = 24,
        EvalArticles = 2,
        CheckpointEvery = 2,
    };

    public string NewRunFolder() => Directory.CreateDirectory(Path.Combine(Root, "runs", Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>A run's statistics without the timings (the only keys allowed to differ between identical runs).</summary>
    public static List<(int Step, SortedDictionary<string, double> Stats)> Statistics(IEnumerable<StepLog> log) =>
        log.Select(l => (l.Step, new SortedDictionary<string, double>(
            l.Stats.Where(kv => !kv.Key.StartsWith("time/", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value), StringComparer.Ordinal))).ToList();

    /// <summary>Asserts two runs logged bit-identical statistics at every step, naming the first difference.</summary>
    public static void AssertSameStatistics(IEnumerable<StepLog> expected, IEnumerable<StepLog> actual)
    {
        var e = Statistics(expected);
        var a = Statistics(actual);
        Assert.Equal(e.Select(x => x.Step), a.Select(x => x.Step));
        for (int i = 0; i < e.Count; i++)
        {
            Assert.Equal(e[i].Stats.Keys, a[i].Stats.Keys);
            foreach (var (key, value) in e[i].Stats)
                Assert.True(value.Equals(a[i].Stats[key]), $"step {e[i].Step}, {key}: expected {value:R}, got {a[i].Stats[key]:R}");
        }
    }

    readonly SemaphoreSlim _referenceLock = new(1, 1);
    IReadOnlyList<StepLog>? _reference;

    /// <summary>The uninterrupted 8-step run (seed 7) that interrupted and repeated runs are compared with.</summary>
    public async Task<IReadOnlyList<StepLog>> ReferenceRunAsync()
    {
        await _referenceLock.WaitAsync();
        try
        {
            if (_reference is null)
            {
                using var run = await AlignmentRun.CreateAsync(Config(8), NewRunFolder());
                _reference = run.Train().ToList();
            }
            return _reference;
        }
        finally { _referenceLock.Release(); }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
