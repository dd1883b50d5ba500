using RlhfKit.Loading;
using RlhfKit.Hub;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tests.Hub;
using RlhfKit.Tests.Ppo;
using RlhfKit.Tests.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Rewards;

/// <summary>The real download-and-load path: a loopback server in the Hub's layout serves a RoBERTa classifier
/// folder as the reward repos look (only pytorch_model.bin, no safetensors), and the pipeline loads it by repo id.</summary>
public class PipelineFromHubTests
{
    const string Repo = "cardiffnlp/twitter-roberta-base-sentiment";
    static readonly string[] Texts = ["hello", "the low theme", "he", ""];

    [Fact]
    public async Task PipelineLoadsARepoIdThroughTheHubAndThenOffline()
    {
        await using var server = new FakeHubServer();
        using var tokFolder = new TempFolder();
        var (vocab, merges) = TinyRoberta.WriteTo(tokFolder);
        var fixture = Fixtures.PathOf("roberta-cls");
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        server.Add(Repo, "main", commit, "config.json", File.ReadAllBytes(Path.Combine(fixture, "config.json")));
        server.Add(Repo, "main", commit, "pytorch_model.bin", File.ReadAllBytes(Path.Combine(fixture, "pytorch_model.bin")), lfs: true);
        server.Add(Repo, "main", commit, "vocab.json", File.ReadAllBytes(vocab));
        server.Add(Repo, "main", commit, "merges.txt", File.ReadAllBytes(merges));
        var cache = Directory.CreateTempSubdirectory("rlhfkit-hub-").FullName;
        var options = new HubOptions { Endpoint = server.Endpoint, CacheDir = cache, Timeout = TimeSpan.FromSeconds(10) };

        float[][] online;
        using (var hub = new HubClient(options))
        {
            var pipeline = await TextClassificationPipeline.FromPretrainedAsync(Repo, hub: hub);
            online = pipeline.Logits(Texts);
            Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], pipeline.Labels);
        }
        Assert.Contains(server.Requests, r => r.RawPath.Contains($"/resolve/{commit}/model.safetensors")); // tried first (at the resolved commit), 404
        Assert.True(File.Exists(Path.Combine(cache, "models--cardiffnlp--twitter-roberta-base-sentiment", "snapshots", commit, "pytorch_model.bin")));

        // The same scores from a plain local folder, and from the cache with the network off.
        var local = await TextClassificationPipeline.FromPretrainedAsync(Path.Combine(cache, "models--cardiffnlp--twitter-roberta-base-sentiment", "snapshots", commit));
        Assert.Equal(online, local.Logits(Texts));
        int before = server.Requests.Count;
        using (var offline = new HubClient(options with { Offline = true }))
        {
            var pipeline = await TextClassificationPipeline.FromPretrainedAsync(Repo, hub: offline);
            Assert.Equal(online, pipeline.Logits(Texts));
        }
        Assert.Equal(before, server.Requests.Count);
    }

    [Fact]
    public async Task MissingRepoSaysWhatIsMissing()
    {
        await using var server = new FakeHubServer();
        var options = new HubOptions { Endpoint = server.Endpoint, CacheDir = Directory.CreateTempSubdirectory().FullName, Timeout = TimeSpan.FromSeconds(10) };
        using var hub = new HubClient(options);
        var e = await Assert.ThrowsAnyAsync<HubException>(() => TextClassificationPipeline.FromPretrainedAsync("textattack/roberta-base-CoLA", hub: hub));
        Assert.Contains("textattack/roberta-base-CoLA", e.Message);
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => TextClassificationPipeline.FromPretrainedAsync("./no/such/folder"));
    }

    [Fact]
    public void PolicySavesAHuggingFaceFolderWithItsValueHeadAndLoadsBack()
    {
        var policy = PpoTrainerTests.TinyPolicy(21);
        policy.eval();
        var folder = Directory.CreateTempSubdirectory("rlhfkit-policy-").FullName;
        policy.SavePretrained(folder, new Dictionary<string, byte[]> { ["generation_config.json"] = "{}"u8.ToArray() });
        Assert.True(File.Exists(Path.Combine(folder, "config.json")));
        Assert.True(File.Exists(Path.Combine(folder, Seq2SeqLMWithValueHead.ValueHeadFile)));
        var keys = RlhfKit.Checkpoints.CheckpointReader.ReadStateDict(Path.Combine(folder, "model.safetensors")).Keys;
        Assert.DoesNotContain("encoder.embed_tokens.weight", keys); // tied duplicates left out, as transformers writes
        Assert.Contains("lm_head.weight", keys);

        var loaded = Seq2SeqLMWithValueHead.FromPretrained(folder);
        loaded.eval();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 6, 7, 1 }).unsqueeze(0);
        var mask = ones_like(ids);
        var dec = tensor(new long[] { 0, 9, 10 }).unsqueeze(0);
        using var a = policy.Forward(ids, mask, dec);
        using var b = loaded.Forward(ids, mask, dec);
        Assert.True(a.Logits.equal(b.Logits).all().item<bool>());
        Assert.True(a.Values.equal(b.Values).all().item<bool>());
        var plain = RlhfKit.Loading.AutoModel.T5FromPretrained(folder); // what transformers would load: the LM without the head
        Assert.True(plain.Forward(ids, mask, dec).Logits.equal(a.Logits).all().item<bool>());
    }
}
