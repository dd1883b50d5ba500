using System.Security.Cryptography;
using System.Text;
using RlhfKit.Hub;

namespace RlhfKit.Tests.Hub;

/// <summary>Transient Hub failures (5xx, 429, connection resets) are retried with backoff; redirects leave http(s)
/// only with a clear error; multi-file downloads stay on one commit; known-missing files (.no_exist) cost no request.</summary>
public sealed class HubResilienceTests() : LoopbackHubTest("rlhfkit-hubres-")
{
    static readonly string CommitA = Hash40("a");
    static readonly string CommitB = Hash40("b");
    static readonly byte[] ConfigA = Encoding.UTF8.GetBytes("{\"d_model\": 8}");
    static readonly byte[] ConfigB = Encoding.UTF8.GetBytes("{\"d_model\": 16}");
    static readonly byte[] ModelA = RandomBytes(50_000, 1);
    static readonly byte[] ModelB = RandomBytes(50_000, 2);
    static readonly byte[] SpieceA = RandomBytes(3_000, 3);
    static readonly byte[] SpieceB = RandomBytes(3_000, 4);

    public override Task InitializeAsync()
    {
        server.Add(Repo, "main", CommitA, "config.json", ConfigA);
        server.Add(Repo, "main", CommitA, "spiece.model", SpieceA);
        server.Add(Repo, "main", CommitA, "model.safetensors", ModelA, lfs: true);
        return Task.CompletedTask;
    }

    // ---- retries ----

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    [InlineData(429)]
    public async Task TransientStatusIsRetriedUntilItSucceeds(int status)
    {
        server.FailNext(3, status);
        using var hub = Client();
        var path = await hub.DownloadFileAsync(Repo, "config.json");

        Assert.Equal(ConfigA, File.ReadAllBytes(path));
        Assert.Equal(4, server.Count("HEAD")); // three failures, then the answer
    }

    [Fact]
    public async Task TransientStatusOnTheCdnDownloadIsRetried()
    {
        using var hub = Client();
        // The HEAD resolves; the GET on the CDN and its first retry fail.
        server.OnRequest = (_, i) => { if (i == 1) server.FailNext(2, 502); }; // request 1 is the GET on the CDN
        var path = await hub.DownloadFileAsync(Repo, "model.safetensors");

        Assert.Equal(ModelA, File.ReadAllBytes(path));
        Assert.Equal(3, server.Requests.Count(r => r.Method == "GET" && r.RawPath.StartsWith("/cdn/")));
    }

    [Fact]
    public async Task PersistentStatusGivesUpAfterMaxRetriesNamingRepoRevisionAndFile()
    {
        server.FailNext(100, 503);
        using var hub = Client(o => o with { MaxRetries = 3 });
        var e = await Assert.ThrowsAsync<HubHttpException>(() => hub.DownloadFileAsync(Repo, "config.json", revision: "main"));

        Assert.Equal(503, e.StatusCode);
        Assert.Equal(4, server.Requests.Count); // the first try plus 3 retries, then no more
        Assert.Contains(Repo, e.Message);
        Assert.Contains("'main'", e.Message);
        Assert.Contains("config.json", e.Message);
        Assert.Contains("Tried 4 times", e.Message);
        Assert.False(Directory.Exists(Path.Combine(RepoDir, "blobs")));
    }

    [Fact]
    public void DefaultRetryPolicyIsHuggingfaceHubs()
    {
        var o = new HubOptions();
        Assert.Equal(5, o.MaxRetries);
        Assert.Equal([1.0, 2.0, 4.0, 8.0, 8.0], Enumerable.Range(0, 5).Select(i => o.Backoff(i).TotalSeconds));
    }

    [Fact]
    public async Task BackoffGrowsExponentially()
    {
        server.FailNext(4, 500);
        using var hub = Client(o => o with { RetryBaseDelay = TimeSpan.FromMilliseconds(40), RetryMaxDelay = TimeSpan.FromSeconds(1) });
        await hub.DownloadFileAsync(Repo, "config.json");

        var at = server.Requests.Where(r => r.Method == "HEAD").Select(r => r.At).ToList();
        var gaps = at.Zip(at.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();
        Assert.Equal(4, gaps.Count);
        // 40, 80, 160, 320 ms asked for; timers may fire late, never early (a small allowance for clock granularity).
        for (var i = 0; i < 4; i++) Assert.True(gaps[i] >= 40 * Math.Pow(2, i) - 15, $"gap {i} was {gaps[i]:0} ms");
    }

    [Theory]
    [InlineData(503)]
    [InlineData(429)]
    public async Task RetryAfterIsHonoured(int status)
    {
        server.FailNext(1, status, retryAfter: "1");
        using var hub = Client(); // backoff alone would wait 2 ms
        await hub.DownloadFileAsync(Repo, "config.json");

        var heads = server.Requests.Where(r => r.Method == "HEAD").ToList();
        Assert.Equal(2, heads.Count);
        Assert.True((heads[1].At - heads[0].At).TotalMilliseconds >= 950, $"waited only {(heads[1].At - heads[0].At).TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task RetryAfterIsCappedByMaxRetryAfter()
    {
        server.FailNext(1, 503, retryAfter: "3600");
        using var hub = Client(o => o with { MaxRetryAfter = TimeSpan.FromMilliseconds(50) });
        var path = await hub.DownloadFileAsync(Repo, "config.json");
        Assert.Equal(ConfigA, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task ConnectionResetIsRetried()
    {
        server.ResetNext(2);
        using var hub = Client();
        var path = await hub.DownloadFileAsync(Repo, "config.json");

        Assert.Equal(ConfigA, File.ReadAllBytes(path));
        Assert.Equal(3, server.Count("HEAD"));
    }

    [Fact]
    public async Task ConnectionResetEveryTimeEndsInTheNetworkErrorNamingTheFile()
    {
        server.ResetNext(100);
        using var hub = Client(o => o with { MaxRetries = 2 });
        var e = await Assert.ThrowsAsync<HubNetworkException>(() => hub.DownloadFileAsync(Repo, "config.json"));

        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(["config.json"], e.MissingFiles);
        Assert.Contains(Repo, e.Message);
        Assert.Contains("'main'", e.Message);
    }

    [Fact]
    public async Task NotFoundIsNotRetried()
    {
        using var hub = Client();
        await Assert.ThrowsAsync<HubNotFoundException>(() => hub.DownloadFileAsync(Repo, "nope.json"));
        Assert.Single(server.Requests);
    }

    // ---- redirects ----

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://example.org/config.json")]
    public async Task RedirectToAnotherSchemeFailsNamingRepoAndFile(string location)
    {
        server.RedirectOverrides["config.json"] = location;
        using var hub = Client();
        var e = await Assert.ThrowsAsync<HubException>(() => hub.DownloadFileAsync(Repo, "config.json"));

        Assert.IsNotType<NotSupportedException>(e.InnerException);
        Assert.Contains(Repo, e.Message);
        Assert.Contains("config.json", e.Message);
        Assert.Contains(location.Split(':')[0] + ":", e.Message);
        Assert.Contains("only http and https", e.Message);
        Assert.Single(server.Requests);
        Assert.False(Directory.Exists(Path.Combine(RepoDir, "snapshots")));
    }

    // ---- one commit ----

    /// <summary>Moves <c>main</c> to commit B (with different contents) when the given request arrives.</summary>
    void MoveMainAtRequest(int index)
    {
        server.OnRequest = (_, i) =>
        {
            if (i != index) return;
            server.Add(Repo, "main", CommitB, "config.json", ConfigB);
            server.Add(Repo, "main", CommitB, "spiece.model", SpieceB);
            server.Add(Repo, "main", CommitB, "model.safetensors", ModelB, lfs: true);
        };
    }

    [Fact]
    public async Task BranchMovingMidDownloadAllFilesComeFromTheFirstCommit()
    {
        MoveMainAtRequest(1); // right after config.json resolved main to A
        using var hub = Client();
        var folder = await Pretrained.ResolveAsync(Repo, ["config.json"], ["spiece.model", "tokenizer_config.json"], weights: true, hub: hub);

        Assert.Equal(Path.Combine(RepoDir, "snapshots", CommitA), folder);
        Assert.Equal(ConfigA, File.ReadAllBytes(Path.Combine(folder, "config.json")));
        Assert.Equal(SpieceA, File.ReadAllBytes(Path.Combine(folder, "spiece.model")));
        Assert.Equal(ModelA, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(RepoDir, "snapshots", CommitB)));
        // Every request after the first named the commit, not the branch.
        Assert.All(server.Requests.Skip(1).Where(r => r.RawPath.Contains("/resolve/")), r => Assert.Contains($"/resolve/{CommitA}/", r.RawPath));
    }

    [Fact]
    public async Task SnapshotAsyncPinsToTheFirstCommit()
    {
        MoveMainAtRequest(1);
        using var hub = Client();
        var folder = await hub.SnapshotAsync(Repo, ["config.json", "spiece.model", "model.safetensors"]);

        Assert.Equal(Path.Combine(RepoDir, "snapshots", CommitA), folder);
        Assert.Equal(SpieceA, File.ReadAllBytes(Path.Combine(folder, "spiece.model")));
        Assert.Equal(ModelA, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
    }

    [Fact]
    public async Task MissingOptionalFileIsRecordedInNoExistAndNotAskedForAgain()
    {
        using (var hub = Client())
            await Pretrained.ResolveAsync(Repo, ["config.json"], ["tokenizer_config.json"], weights: true, hub: hub);

        // huggingface_hub's marker: an empty file at .no_exist/<commit>/<filename>.
        var marker = Path.Combine(RepoDir, ".no_exist", CommitA, "tokenizer_config.json");
        Assert.True(File.Exists(marker));
        Assert.Equal(0, new FileInfo(marker).Length);
        Assert.Single(server.Requests, r => r.RawPath.Contains("tokenizer_config.json"));

        var before = server.Requests.Count;
        using (var hub = Client())
            await Pretrained.ResolveAsync(Repo, ["config.json"], ["tokenizer_config.json"], weights: true, hub: hub);

        // Only the branch is re-resolved (config.json's HEAD); the missing file and the cached weights cost nothing.
        Assert.Single(server.Requests, r => r.RawPath.Contains("tokenizer_config.json"));
        Assert.Equal(before + 1, server.Requests.Count);
    }

    [Fact]
    public async Task NoExistMarkerAnswersAtTheCommitButABranchIsAskedAgain()
    {
        using var hub = Client();
        await Assert.ThrowsAsync<HubNotFoundException>(() => hub.DownloadFileAsync(Repo, "extra.json"));
        Assert.True(File.Exists(Path.Combine(RepoDir, ".no_exist", CommitA, "extra.json")));

        var before = server.Requests.Count;
        var e = await Assert.ThrowsAsync<HubNotFoundException>(() => hub.DownloadFileAsync(Repo, "extra.json", revision: CommitA));
        Assert.Equal(before, server.Requests.Count);
        Assert.Contains(".no_exist", e.Message);
        Assert.Contains("extra.json", e.Message);

        // The branch may have gained the file: it is asked again.
        await Assert.ThrowsAsync<HubNotFoundException>(() => hub.DownloadFileAsync(Repo, "extra.json", revision: "main"));
        Assert.Equal(before + 1, server.Requests.Count);
    }

    static string Hash40(string seed) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(seed)));

    static byte[] RandomBytes(int n, int seed)
    {
        var bytes = new byte[n];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
