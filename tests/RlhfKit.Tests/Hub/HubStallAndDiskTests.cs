using System.Diagnostics;
using System.Security.Cryptography;
using RlhfKit.Hub;

namespace RlhfKit.Tests.Hub;

/// <summary>Downloads that trickle fail by the stall rule and resume later; a download the disk cannot hold is refused
/// before it starts; temporaries of dead writers in the cache go on the next download.</summary>
public sealed class HubStallAndDiskTests() : LoopbackHubTest("rlhfkit-hubstall-")
{
    static readonly string Commit = new('c', 40);
    static readonly byte[] Config = "{\"d_model\": 8}"u8.ToArray();
    static readonly byte[] Model = RandomNumberGenerator.GetBytes(50_000);

    public override Task InitializeAsync()
    {
        server.Add(Repo, "main", Commit, "config.json", Config);
        server.Add(Repo, "main", Commit, "spiece.model", Config.Reverse().ToArray());
        server.Add(Repo, "main", Commit, "model.safetensors", Model, lfs: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ATricklingDownloadFailsByTheStallRuleAndResumesFromItsPartialFileLater()
    {
        // 10 bytes every 10 ms never leaves the connection silent, but 100 bytes per 100 ms is below the 1,000 asked for.
        server.TrickleNextBodies(1, 10, TimeSpan.FromMilliseconds(10));
        using (var hub = Client(o => o with { StallMinBytes = 1_000, StallWindow = TimeSpan.FromMilliseconds(100) }))
        {
            var e = await Assert.ThrowsAsync<HubNetworkException>(() => hub.DownloadFileAsync(Repo, "model.safetensors"));
            Assert.Contains("stalled", e.Message);
            Assert.Contains("RLHFKIT_HUB_MIN_BYTES / RLHFKIT_HUB_STALL_SECONDS", e.Message);
            Assert.Contains("model.safetensors", e.Message);
        }
        var partial = Directory.GetFiles(Path.Combine(RepoDir, "blobs"), "*.incomplete").Single();
        var kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, Model.Length - 1);

        using (var hub = Client(o => o with { StallMinBytes = 1_000, StallWindow = TimeSpan.FromMilliseconds(100) }))
        {
            var path = await hub.DownloadFileAsync(Repo, "model.safetensors");
            Assert.Equal(Model, File.ReadAllBytes(path));
        }
        var last = server.Requests.Last(r => r.Method == "GET");
        Assert.Equal($"bytes={kept}-", last.Header("Range"));
    }

    [Fact]
    public async Task ADownloadLargerThanTheFreeSpaceIsRefusedBeforeAnyByteIsFetched()
    {
        using var hub = Client(o => o with { FreeSpace = _ => 10_000 });
        var e = await Assert.ThrowsAsync<HubDiskSpaceException>(() => hub.DownloadFileAsync(Repo, "model.safetensors"));

        Assert.Equal("model.safetensors", e.FileName);
        Assert.Equal(10_000, e.Available);
        Assert.Contains("'model.safetensors' of", e.Message);
        Assert.Contains("50,000 bytes", e.Message);
        Assert.Contains("10,000 bytes free", e.Message);
        Assert.Equal(0, server.Count("GET"));
    }

    [Fact]
    public async Task CacheTemporariesOfDeadWritersAreRemovedOnTheNextDownloadAndALiveWritersAreKept()
    {
        using (var hub = Client()) await hub.DownloadFileAsync(Repo, "config.json");
        int dead;
        using (var ended = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!) { ended.WaitForExit(); dead = ended.Id; }
        using var live = Process.Start(new ProcessStartInfo("sleep", "120") { UseShellExecute = false })!;
        try
        {
            string Temp(string folder, string name, int pid)
            {
                var path = Path.Combine(folder, $".{name}.{pid}.{Guid.NewGuid():N}.tmp");
                File.WriteAllText(path, "partial");
                return path;
            }
            var refs = Path.Combine(RepoDir, "refs");
            var snapshot = Path.Combine(RepoDir, "snapshots", Commit);
            var deadRef = Temp(refs, "main", dead);
            var deadPointer = Temp(snapshot, "spiece.model", dead);
            var liveRef = Temp(refs, "main", live.Id);
            var livePointer = Temp(snapshot, "spiece.model", live.Id);

            using (var hub = Client()) await hub.DownloadFileAsync(Repo, "spiece.model");

            Assert.False(File.Exists(deadRef));
            Assert.False(File.Exists(deadPointer));
            Assert.True(File.Exists(liveRef));
            Assert.True(File.Exists(livePointer));
        }
        finally { live.Kill(); live.WaitForExit(); }
    }
}
