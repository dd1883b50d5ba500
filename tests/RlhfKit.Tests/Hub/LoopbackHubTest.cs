using RlhfKit.Hub;

namespace RlhfKit.Tests.Hub;

/// <summary>A loopback Hub (<see cref="FakeHubServer"/>) and a private cache folder for one test, with a client whose
/// retry backoff is milliseconds instead of seconds, so failure tests stay fast. Subclasses add their repo's files in
/// <see cref="InitializeAsync"/>.</summary>
public abstract class LoopbackHubTest(string cachePrefix) : IAsyncLifetime
{
    protected const string Repo = "org/model";
    protected readonly string cacheDir = Path.Combine(Path.GetTempPath(), cachePrefix + Guid.NewGuid().ToString("N"));
    protected readonly FakeHubServer server = new();

    protected string RepoDir => Path.Combine(cacheDir, "models--org--model");

    public abstract Task InitializeAsync();

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        if (Directory.Exists(cacheDir)) Directory.Delete(cacheDir, recursive: true);
    }

    protected HubClient Client(Func<HubOptions, HubOptions>? tweak = null)
    {
        var options = new HubOptions
        {
            Endpoint = server.Endpoint, CacheDir = cacheDir, Timeout = TimeSpan.FromSeconds(10), DownloadRetries = 0,
            RetryBaseDelay = TimeSpan.FromMilliseconds(2), RetryMaxDelay = TimeSpan.FromMilliseconds(16),
        };
        return new HubClient(tweak is null ? options : tweak(options));
    }
}
