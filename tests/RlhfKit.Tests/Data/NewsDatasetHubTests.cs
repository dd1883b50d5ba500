using System.Security.Cryptography;
using System.Text;
using RlhfKit.Data;
using RlhfKit.Hub;
using RlhfKit.Tests.Hub;

namespace RlhfKit.Tests.Data;

/// <summary><see cref="NewsDataset.FromHubAsync"/> against the loopback <see cref="FakeHubServer"/>, serving parquet
/// files in the Hub's layout for the dataset repo argilla/news-summary.</summary>
public sealed class NewsDatasetHubTests : IAsyncLifetime
{
    const string Repo = NewsDataset.DefaultRepoId;
    const string RepoPath = "datasets/" + Repo;
    const string TrainFile = "data/train-00000-of-00001-4b3e4b4e2c0f4d1a.parquet";
    const string TestFile0 = "data/test-00000-of-00002-aa.parquet";
    const string TestFile1 = "data/test-00001-of-00002-bb.parquet";
    static readonly string MainCommit = Hash40("main");
    static readonly string ExportCommit = Hash40("parquet-export");
    static readonly string[] TrainTexts = ["Stocks rallied on Monday.", "Heavy rain flooded the valley.", "The council approved the budget."];

    readonly string cacheDir = Path.Combine(Path.GetTempPath(), "rlhfkit-data-hub-" + Guid.NewGuid().ToString("N"));
    readonly FakeHubServer server = new();

    string RepoDir => Path.Combine(cacheDir, "datasets--argilla--news-summary");

    public Task InitializeAsync()
    {
        server.Add(RepoPath, "main", MainCommit, TrainFile, DataTestFiles.NewsParquet(TrainTexts), lfs: true);
        server.Add(RepoPath, "main", MainCommit, TestFile0, DataTestFiles.NewsParquet("t0", "t1"), lfs: true);
        server.Add(RepoPath, "main", MainCommit, TestFile1, DataTestFiles.NewsParquet("t2"), lfs: true);
        server.Add(RepoPath, NewsDataset.ParquetExportRevision, ExportCommit, "default/train/0000.parquet", DataTestFiles.NewsParquet("exported"), lfs: true);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        if (Directory.Exists(cacheDir)) Directory.Delete(cacheDir, recursive: true);
    }

    HubClient Client(bool offline = false) => new(new HubOptions
    {
        Endpoint = server.Endpoint, CacheDir = cacheDir, Offline = offline, Timeout = TimeSpan.FromSeconds(10), DownloadRetries = 0,
    });

    [Fact]
    public async Task NamedFileDownloadsIntoDatasetsCacheFolderAndReadsText()
    {
        using var hub = Client();
        var ds = await NewsDataset.FromHubAsync(hub, split: "train", files: [TrainFile]);

        Assert.Equal(TrainTexts, ds.Select(a => a.Text));
        Assert.Equal(["train-0", "train-1", "train-2"], ds.Select(a => a.Id));
        var cached = Path.Combine(RepoDir, "snapshots", MainCommit, "data", Path.GetFileName(TrainFile));
        Assert.True(File.Exists(cached), $"expected {cached}");
        Assert.Equal(MainCommit, File.ReadAllText(Path.Combine(RepoDir, "refs", "main")));
        Assert.Equal(RepoDir, hub.RepoCacheDir(Repo, HubRepoType.Dataset));
        Assert.Contains(server.Requests, r => r.RawPath == $"/{RepoPath}/resolve/main/{TrainFile}");
    }

    [Fact]
    public async Task SeveralShardsAreConcatenatedInOrderWithRunningRowIds()
    {
        using var hub = Client();
        var ds = await NewsDataset.FromHubAsync(hub, split: "test", files: [TestFile0, TestFile1]);

        Assert.Equal(["t0", "t1", "t2"], ds.Select(a => a.Text));
        Assert.Equal(["test-0", "test-1", "test-2"], ds.Select(a => a.Id));
    }

    [Fact]
    public async Task DefaultReadsTheHubParquetExport()
    {
        Assert.Equal("default/train/0000.parquet", NewsDataset.ParquetExportFile("train"));
        using var hub = Client();
        var ds = await NewsDataset.FromHubAsync(hub);

        Assert.Equal("exported", Assert.Single(ds).Text);
        Assert.Contains(server.Requests, r => r.RawPath == $"/{RepoPath}/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet");
        Assert.True(File.Exists(Path.Combine(RepoDir, "snapshots", ExportCommit, "default", "train", "0000.parquet")));
    }

    [Fact]
    public async Task OfflineNotCachedRaisesHubOfflineNamingTheFile()
    {
        using var hub = Client(offline: true);
        var e = await Assert.ThrowsAsync<HubOfflineException>(() => NewsDataset.FromHubAsync(hub, split: "train", files: [TrainFile]));

        Assert.Equal([TrainFile], e.MissingFiles);
        Assert.Contains(Repo, e.Message);
        Assert.Equal(0, server.Count("GET") + server.Count("HEAD"));
    }

    [Fact]
    public async Task OfflineAfterDownloadReadsFromCache()
    {
        using (var online = Client()) await NewsDataset.FromHubAsync(online, files: [TrainFile]);
        var requests = server.Requests.Count;

        using var hub = Client(offline: true);
        var ds = await NewsDataset.FromHubAsync(hub, files: [TrainFile]);

        Assert.Equal(TrainTexts, ds.Select(a => a.Text));
        Assert.Equal(requests, server.Requests.Count);
    }

    [Fact]
    public async Task MissingTextColumnNamesCachedFileAndColumns()
    {
        using var hub = Client();
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => NewsDataset.FromHubAsync(hub, files: [TrainFile], textColumn: "article"));
        Assert.Contains(Path.GetFileName(TrainFile), e.Message);
        Assert.Contains("text, prediction_agent", e.Message);
    }

    [Fact]
    public async Task UnknownFileIsHubNotFound()
    {
        using var hub = Client();
        await Assert.ThrowsAsync<HubNotFoundException>(() => NewsDataset.FromHubAsync(hub, files: ["data/nope.parquet"]));
    }

    static string Hash40(string seed) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(seed)));
}
