using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using RlhfKit.Hub;

namespace RlhfKit.Tests.Hub;

/// <summary>The Hub client against a loopback <see cref="FakeHubServer"/>; every test gets its own server and cache.</summary>
public sealed class HubClientTests : IAsyncLifetime
{
    const string Repo = "google/flan-t5-small";
    static readonly string MainCommit = Hash40("main");
    static readonly string PrCommit = Hash40("pr6");
    static readonly string DataCommit = Hash40("data");
    static readonly string GatedCommit = Hash40("gated");

    static readonly byte[] Config = Encoding.UTF8.GetBytes("{\"d_model\": 512}");
    static readonly byte[] PrConfig = Encoding.UTF8.GetBytes("{\"d_model\": 1024}");
    static readonly byte[] Special = Encoding.UTF8.GetBytes("{\"pad\": 0}");
    static readonly byte[] Model = RandomBytes(300_000, seed: 1);
    static readonly byte[] Extra = RandomBytes(1000, seed: 2);
    static readonly byte[] Train = Encoding.UTF8.GetBytes("{\"prompt\": \"2+2\", \"chosen\": \"4\"}\n");
    static readonly string ModelSha = Convert.ToHexStringLower(SHA256.HashData(Model));

    readonly string cacheDir = Path.Combine(Path.GetTempPath(), "rlhfkit-hub-" + Guid.NewGuid().ToString("N"));
    readonly FakeHubServer server = new();

    string RepoDir => Path.Combine(cacheDir, "models--google--flan-t5-small");

    public Task InitializeAsync()
    {
        server.Add(Repo, "main", MainCommit, "config.json", Config);
        server.Add(Repo, "main", MainCommit, "model.safetensors", Model, lfs: true);
        server.Add(Repo, "main", MainCommit, "tokenizer/special.json", Special);
        server.Add(Repo, "main", MainCommit, "extra.bin", Extra, lfs: true);
        server.Add(Repo, "refs/pr/6", PrCommit, "config.json", PrConfig);
        server.Add("datasets/org/prefs", "main", DataCommit, "data/train.jsonl", Train);
        server.Add("org/gated", "main", GatedCommit, "config.json", Config);
        server.GatedRepos.Add("org/gated");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        if (Directory.Exists(cacheDir)) Directory.Delete(cacheDir, recursive: true);
    }

    HubClient Client(Func<HubOptions, HubOptions>? tweak = null)
    {
        // Retries off by default so an interrupted transfer surfaces; tests that want in-call resume turn them on.
        var options = new HubOptions { Endpoint = server.Endpoint, CacheDir = cacheDir, Timeout = TimeSpan.FromSeconds(10), DownloadRetries = 0, RetryBaseDelay = TimeSpan.FromMilliseconds(2) };
        return new HubClient(tweak is null ? options : tweak(options));
    }

    [Fact]
    public async Task RegularFileLandsInHuggingfaceHubCacheLayout()
    {
        using var hub = Client();
        var path = await hub.DownloadFileAsync(Repo, "config.json");

        var etag = FakeHubServer.GitBlobSha1(Config);
        Assert.Equal(Path.Combine(RepoDir, "snapshots", MainCommit, "config.json"), path);
        Assert.Equal(Encoding.ASCII.GetBytes(MainCommit), File.ReadAllBytes(Path.Combine(RepoDir, "refs", "main"))); // bare hash, no newline
        Assert.Equal(Config, File.ReadAllBytes(Path.Combine(RepoDir, "blobs", etag)));
        Assert.Equal(Config, File.ReadAllBytes(path));
        if (!OperatingSystem.IsWindows()) Assert.Equal("../../blobs/" + etag, new FileInfo(path).LinkTarget);
        Assert.Equal(["blobs", "refs", "snapshots"], Directory.GetDirectories(RepoDir).Select(Path.GetFileName).Order());
        Assert.Equal([etag], Directory.GetFiles(Path.Combine(RepoDir, "blobs")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task SubfolderFileLinksFromNestedSnapshotFolder()
    {
        using var hub = Client();
        var path = await hub.DownloadFileAsync(Repo, "tokenizer/special.json");

        Assert.Equal(Path.Combine(RepoDir, "snapshots", MainCommit, "tokenizer", "special.json"), path);
        Assert.Equal(Special, File.ReadAllBytes(path));
        if (!OperatingSystem.IsWindows()) Assert.Equal("../../../blobs/" + FakeHubServer.GitBlobSha1(Special), new FileInfo(path).LinkTarget);
        Assert.Contains(server.Requests, r => r.RawPath == $"/{Repo}/resolve/main/tokenizer/special.json");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LfsFileFollowsRedirectToCdnAndIsStoredUnderItsSha256(bool absoluteLocation)
    {
        server.AbsoluteCdnUrls = absoluteLocation;
        using var hub = Client();
        var path = await hub.DownloadFileAsync(Repo, "model.safetensors");

        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.Equal(Model, File.ReadAllBytes(Path.Combine(RepoDir, "blobs", ModelSha))); // X-Linked-Etag, not the redirect's ETag
        Assert.False(File.Exists(Path.Combine(RepoDir, "blobs", "redirect-etag")));
        Assert.Contains(server.Requests, r => r.Method == "HEAD" && r.RawPath == $"/{Repo}/resolve/main/model.safetensors");
        Assert.Contains(server.Requests, r => r.Method == "GET" && r.RawPath == "/cdn/" + ModelSha);
    }

    [Fact]
    public async Task SnapshotFetchesOnlyNamedFilesAndReturnsSnapshotFolder()
    {
        using var hub = Client();
        var dir = await hub.SnapshotAsync(Repo, ["config.json", "model.safetensors"], revision: "main", repoType: HubRepoType.Model);

        Assert.Equal(Path.Combine(RepoDir, "snapshots", MainCommit), dir);
        Assert.Equal(Config, File.ReadAllBytes(Path.Combine(dir, "config.json")));
        Assert.Equal(Model, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(dir, "extra.bin")));
        Assert.DoesNotContain(server.Requests, r => r.RawPath.Contains("extra.bin") || r.RawPath.Contains("special.json"));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(RepoDir, "blobs")).Length);
    }

    [Fact]
    public async Task ExistingCacheIsReusedWithoutGet()
    {
        using var hub = Client();
        await hub.SnapshotAsync(Repo, ["config.json", "model.safetensors"]);
        var gets = server.Count("GET");
        Assert.Equal(2, gets);

        // A branch is re-resolved with HEAD (it may have moved) but the blobs are not fetched again.
        var dir = await hub.SnapshotAsync(Repo, ["config.json", "model.safetensors"]);
        Assert.Equal(gets, server.Count("GET"));
        Assert.Equal(Model, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));

        // A commit hash cannot move: no request at all.
        var before = server.Requests.Count;
        var path = await hub.DownloadFileAsync(Repo, "model.safetensors", revision: MainCommit);
        Assert.Equal(before, server.Requests.Count);
        Assert.Equal(Path.Combine(dir, "model.safetensors"), path);
    }

    [Fact]
    public async Task MissingFile404NamesRepoRevisionAndFile()
    {
        using var hub = Client();
        var e = await Assert.ThrowsAsync<HubNotFoundException>(() => hub.DownloadFileAsync(Repo, "nope.json", revision: "main"));

        Assert.Equal(404, e.StatusCode);
        Assert.Equal("EntryNotFound", e.ErrorCode);
        Assert.Contains(Repo, e.Message);
        Assert.Contains("'main'", e.Message);
        Assert.Contains("nope.json", e.Message);
        Assert.Contains("spelling", e.Message);
        Assert.False(Directory.Exists(Path.Combine(RepoDir, "blobs")));
    }

    [Fact]
    public async Task UnknownRevision404SaysRevision()
    {
        using var hub = Client();
        var e = await Assert.ThrowsAsync<HubNotFoundException>(() => hub.DownloadFileAsync(Repo, "config.json", revision: "no-such-branch"));
        Assert.Equal("RevisionNotFound", e.ErrorCode);
        Assert.Contains("revision 'no-such-branch' does not exist", e.Message);
    }

    [Fact]
    public async Task GatedRepo401SaysGatedAndHowToSetToken()
    {
        using var hub = Client();
        var e = await Assert.ThrowsAsync<HubAuthException>(() => hub.DownloadFileAsync("org/gated", "config.json"));

        Assert.Equal(401, e.StatusCode);
        Assert.Contains("gated", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Contains("org/gated", e.Message);
        Assert.All(server.Requests, r => Assert.Null(r.Header("Authorization"))); // no token configured, none sent
        Assert.False(Directory.Exists(Path.Combine(cacheDir, "models--org--gated", "snapshots")));
    }

    [Fact]
    public async Task TokenIsSentAsBearerAndUnlocksGatedRepo()
    {
        using var hub = Client(o => o with { Token = "hf_secret" });
        var path = await hub.DownloadFileAsync("org/gated", "config.json");

        Assert.Equal(Config, File.ReadAllBytes(path));
        Assert.All(server.Requests, r => Assert.Equal("Bearer hf_secret", r.Header("Authorization")));
        Assert.DoesNotContain("hf_secret", hub.Options.ToString()); // kept out of logs
    }

    [Fact]
    public async Task InterruptedTransferNextCallResumesWithRange()
    {
        server.CutNextBodies(count: 1, bytes: 100_000);
        using var hub = Client();
        var incomplete = Path.Combine(RepoDir, "blobs", ModelSha + ".incomplete");

        var e = await Assert.ThrowsAsync<HubNetworkException>(() => hub.DownloadFileAsync(Repo, "model.safetensors"));
        Assert.Equal(["model.safetensors"], e.MissingFiles);
        Assert.Equal(100_000, new FileInfo(incomplete).Length);
        Assert.False(File.Exists(Path.Combine(RepoDir, "blobs", ModelSha))); // half a file is never a blob
        Assert.False(File.Exists(Path.Combine(RepoDir, "snapshots", MainCommit, "model.safetensors")));

        var path = await hub.DownloadFileAsync(Repo, "model.safetensors");
        var last = server.Requests.Last(r => r.Method == "GET");
        Assert.Equal("bytes=100000-", last.Header("Range"));
        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public async Task InterruptedTransferResumesWithinOneCallWhenRetriesAllowed()
    {
        server.CutNextBodies(count: 2, bytes: 70_000);
        using var hub = Client(o => o with { DownloadRetries = 3 });
        var path = await hub.DownloadFileAsync(Repo, "model.safetensors");

        Assert.Equal(Model, File.ReadAllBytes(path));
        var ranges = server.Requests.Where(r => r.Method == "GET").Select(r => r.Header("Range")).ToList();
        Assert.Equal([null, "bytes=70000-", "bytes=140000-"], ranges);
    }

    [Fact]
    public async Task ServerIgnoringRangeRestartsFromZero()
    {
        var incomplete = Path.Combine(RepoDir, "blobs", ModelSha + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        File.WriteAllBytes(incomplete, RandomBytes(5000, seed: 9)); // bytes that would poison an append
        server.IgnoreRange = true;
        using var hub = Client();

        var path = await hub.DownloadFileAsync(Repo, "model.safetensors");
        Assert.Equal("bytes=5000-", server.Requests.Last(r => r.Method == "GET").Header("Range"));
        Assert.Equal(Model, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task CorruptBodyFailsSha256AndLeavesNothingBehind()
    {
        var corrupt = Model.Select(b => (byte)(b ^ 0x5A)).ToArray();
        server.BodyOverrides["model.safetensors"] = corrupt;
        using var hub = Client();

        var e = await Assert.ThrowsAsync<HubIntegrityException>(() => hub.DownloadFileAsync(Repo, "model.safetensors"));
        Assert.Equal(ModelSha, e.Expected);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(corrupt)), e.Actual);
        Assert.Contains(Repo, e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains(ModelSha, e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoDir, "blobs"))); // neither the blob nor the .incomplete
        Assert.False(Directory.Exists(Path.Combine(RepoDir, "snapshots", MainCommit)));

        server.BodyOverrides.Clear(); // a retry re-downloads
        Assert.Equal(Model, File.ReadAllBytes(await hub.DownloadFileAsync(Repo, "model.safetensors")));
    }

    [Fact]
    public async Task BodyLongerThanAnnouncedSizeIsRejected()
    {
        server.BodyOverrides["config.json"] = [.. Config, .. "??"u8.ToArray()];
        using var hub = Client();

        var e = await Assert.ThrowsAsync<HubIntegrityException>(() => hub.DownloadFileAsync(Repo, "config.json"));
        Assert.Equal(Config.Length.ToString(), e.Expected);
        Assert.Contains("size", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoDir, "blobs")));
    }

    [Fact]
    public async Task OfflineServesCachedFilesWithZeroRequests()
    {
        string dir;
        using (var online = Client()) dir = await online.SnapshotAsync(Repo, ["config.json", "model.safetensors"]);
        var before = server.Requests.Count;

        using var hub = Client(o => o with { Offline = true });
        Assert.Equal(dir, await hub.SnapshotAsync(Repo, ["config.json", "model.safetensors"]));
        Assert.Equal(Path.Combine(dir, "config.json"), await hub.DownloadFileAsync(Repo, "config.json"));
        Assert.Equal(Path.Combine(dir, "model.safetensors"), await hub.DownloadFileAsync(Repo, "model.safetensors", revision: MainCommit));
        Assert.Equal(before, server.Requests.Count);
    }

    [Fact]
    public async Task OfflineListsExactlyTheMissingFiles()
    {
        using (var online = Client()) await online.DownloadFileAsync(Repo, "config.json");
        var before = server.Requests.Count;
        using var hub = Client(o => o with { Offline = true });

        var e = await Assert.ThrowsAsync<HubOfflineException>(() =>
            hub.SnapshotAsync(Repo, ["config.json", "model.safetensors", "tokenizer/special.json"]));
        Assert.Equal(["model.safetensors", "tokenizer/special.json"], e.MissingFiles);
        Assert.Contains("\n  - model.safetensors", e.Message);
        Assert.Contains("\n  - tokenizer/special.json", e.Message);
        Assert.DoesNotContain("- config.json", e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Contains("`download`", e.Message);
        Assert.Equal(before, server.Requests.Count);

        // A revision never resolved online has no refs/ entry: everything is missing, and the message says why.
        var e2 = await Assert.ThrowsAsync<HubOfflineException>(() => hub.DownloadFileAsync(Repo, "config.json", revision: "v2"));
        Assert.Equal(["config.json"], e2.MissingFiles);
        Assert.Contains("revision 'v2'", e2.Message);
    }

    [Fact]
    public async Task PrRevisionIsOneEncodedUrlSegmentAndGetsItsRef()
    {
        using var hub = Client();
        var path = await hub.DownloadFileAsync(Repo, "config.json", revision: "refs/pr/6");

        Assert.Contains(server.Requests, r => r.RawPath == $"/{Repo}/resolve/refs%2Fpr%2F6/config.json");
        Assert.Equal(PrCommit, File.ReadAllText(Path.Combine(RepoDir, "refs", "refs", "pr", "6")));
        Assert.Equal(Path.Combine(RepoDir, "snapshots", PrCommit, "config.json"), path);
        Assert.Equal(PrConfig, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task DatasetRepoUsesDatasetsUrlAndFolder()
    {
        using var hub = Client();
        var dir = await hub.SnapshotAsync("org/prefs", ["data/train.jsonl"], repoType: HubRepoType.Dataset);

        Assert.Contains(server.Requests, r => r.RawPath == "/datasets/org/prefs/resolve/main/data/train.jsonl");
        Assert.Equal(Path.Combine(cacheDir, "datasets--org--prefs", "snapshots", DataCommit), dir);
        Assert.Equal(Train, File.ReadAllBytes(Path.Combine(dir, "data", "train.jsonl")));
        Assert.False(Directory.Exists(Path.Combine(cacheDir, "models--org--prefs")));
        Assert.Equal(Path.Combine(cacheDir, "datasets--org--prefs"), hub.RepoCacheDir("org/prefs", HubRepoType.Dataset));
    }

    [Fact]
    public async Task CorruptCachedBlobIsFoundByVerifyCacheAndRefetchedWithVerify()
    {
        using var hub = Client();
        await hub.DownloadFileAsync(Repo, "model.safetensors");
        Assert.Empty(hub.VerifyCache(Repo));
        var blob = Path.Combine(RepoDir, "blobs", ModelSha);
        var bad = (byte[])Model.Clone();
        bad[1234] ^= 0xFF;
        File.WriteAllBytes(blob, bad);

        Assert.Equal([blob], hub.VerifyCache(Repo));
        using (var offline = Client(o => o with { Offline = true }))
            await Assert.ThrowsAsync<HubIntegrityException>(() => offline.DownloadFileAsync(Repo, "model.safetensors", verify: true));

        var gets = server.Count("GET");
        var path = await hub.DownloadFileAsync(Repo, "model.safetensors", verify: true);
        Assert.Equal(gets + 1, server.Count("GET"));
        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.Empty(hub.VerifyCache(Repo));
    }

    [Fact]
    public async Task NetworkFailureListsMissingFilesButCachedFilesStillServe()
    {
        using (var online = Client()) await online.DownloadFileAsync(Repo, "config.json");
        var dead = $"http://127.0.0.1:{ClosedPort()}";
        using var hub = Client(o => o with { Endpoint = dead });

        // Hub unreachable: the cached file of this revision serves, as in huggingface_hub.
        Assert.Equal(Config, File.ReadAllBytes(await hub.DownloadFileAsync(Repo, "config.json")));

        var e = await Assert.ThrowsAsync<HubNetworkException>(() => hub.SnapshotAsync(Repo, ["config.json", "model.safetensors", "extra.bin"]));
        Assert.Equal(["model.safetensors", "extra.bin"], e.MissingFiles);
        Assert.Contains(dead, e.Message);
        Assert.Contains("\n  - model.safetensors", e.Message);
        Assert.Contains("`download`", e.Message);
        Assert.NotNull(e.InnerException);
    }

    [Fact]
    public async Task ProgressCountsUpToTheTotal()
    {
        var seen = new SyncProgress();
        using var hub = Client();
        await hub.SnapshotAsync(Repo, ["config.json", "model.safetensors"], progress: seen);

        var model = seen.Reports.Where(p => p.FileName == "model.safetensors").ToList();
        Assert.NotEmpty(model);
        Assert.All(model, p => Assert.Equal(Model.Length, p.TotalBytes));
        Assert.Equal(model.Select(p => p.BytesDownloaded).Order(), model.Select(p => p.BytesDownloaded)); // never goes back
        Assert.Equal(Model.Length, model[^1].BytesDownloaded);
        Assert.Equal(1.0, model[^1].Fraction);
        Assert.Equal(new HubDownloadProgress("config.json", Config.Length, Config.Length), seen.Reports.Last(p => p.FileName == "config.json"));
    }

    [Fact]
    public async Task WithoutSymlinksSnapshotHoldsACopy()
    {
        using var hub = Client();
        hub.UseSymlinks = false;
        var path = await hub.DownloadFileAsync(Repo, "model.safetensors");

        Assert.Null(new FileInfo(path).LinkTarget);
        Assert.Equal(Model, File.ReadAllBytes(path));
        Assert.True(File.Exists(Path.Combine(RepoDir, "blobs", ModelSha)));
        var gets = server.Count("GET");
        await hub.DownloadFileAsync(Repo, "model.safetensors");
        Assert.Equal(gets, server.Count("GET"));
    }

    [Theory]
    [InlineData("../secrets.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b.json")]
    [InlineData("")]
    public async Task FileOutsideTheRepoIsRejectedBeforeAnyRequest(string file)
    {
        using var hub = Client();
        await Assert.ThrowsAsync<ArgumentException>(() => hub.DownloadFileAsync(Repo, file));
        Assert.Empty(server.Requests);
    }

    static string Hash40(string seed) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(seed)));

    static byte[] RandomBytes(int n, int seed)
    {
        var bytes = new byte[n];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    static int ClosedPort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop(); // nothing listens there now: connections are refused
        return port;
    }

    /// <summary>Records reports synchronously (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    sealed class SyncProgress : IProgress<HubDownloadProgress>
    {
        readonly List<HubDownloadProgress> reports = [];
        public IReadOnlyList<HubDownloadProgress> Reports { get { lock (reports) return reports.ToList(); } }
        public void Report(HubDownloadProgress value) { lock (reports) reports.Add(value); }
    }
}
