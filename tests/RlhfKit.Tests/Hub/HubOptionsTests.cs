using RlhfKit.Hub;

namespace RlhfKit.Tests.Hub;

/// <summary>Environment handling through the injectable overload, so no test mutates the process environment.</summary>
public sealed class HubOptionsTests : IDisposable
{
    readonly string home = Path.Combine(Path.GetTempPath(), "rlhfkit-hubenv-" + Guid.NewGuid().ToString("N"));

    public void Dispose() { if (Directory.Exists(home)) Directory.Delete(home, recursive: true); }

    HubOptions From(params (string Name, string Value)[] env) =>
        HubOptions.FromEnvironment(name => env.FirstOrDefault(e => e.Name == name).Value, home);

    [Fact]
    public void NoVariablesGiveHuggingfaceHubDefaults()
    {
        var o = From();
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), o.CacheDir);
        Assert.Equal("https://huggingface.co", o.Endpoint);
        Assert.Null(o.Token);
        Assert.False(o.Offline);
    }

    [Fact]
    public void CacheDirPrecedenceHubCacheThenHfHomeThenXdg()
    {
        Assert.Equal(Path.Combine("/xdg", "huggingface", "hub"), From(("XDG_CACHE_HOME", "/xdg")).CacheDir);
        Assert.Equal(Path.Combine("/hf", "hub"), From(("HF_HOME", "/hf"), ("XDG_CACHE_HOME", "/xdg")).CacheDir);
        Assert.Equal("/c", From(("HF_HUB_CACHE", "/c"), ("HF_HOME", "/hf")).CacheDir);
        Assert.Equal(home + "/hubcache", From(("HF_HUB_CACHE", "~/hubcache")).CacheDir);
    }

    [Fact]
    public void EndpointOfflineAndTokenFromVariables()
    {
        var o = From(("HF_ENDPOINT", "http://mirror.local/"), ("HF_HUB_OFFLINE", "1"), ("HF_TOKEN", "hf_env"));
        Assert.Equal("http://mirror.local", o.Endpoint);
        Assert.True(o.Offline);
        Assert.Equal("hf_env", o.Token);
        Assert.True(From(("HF_HUB_OFFLINE", "true")).Offline);
        Assert.False(From(("HF_HUB_OFFLINE", "0")).Offline);
    }

    [Fact]
    public void TokenFallsBackToLoginTokenFileButHfTokenWins()
    {
        var hfHome = Path.Combine(home, "hf");
        Directory.CreateDirectory(hfHome);
        File.WriteAllText(Path.Combine(hfHome, "token"), "hf_file\n");

        Assert.Equal("hf_file", From(("HF_HOME", hfHome)).Token);
        Assert.Equal("hf_env", From(("HF_HOME", hfHome), ("HF_TOKEN", "hf_env")).Token);
    }

    [Fact]
    public void TheStallRuleIsReadFromItsTwoVariables()
    {
        var o = From(("RLHFKIT_HUB_MIN_BYTES", "1234"), ("RLHFKIT_HUB_STALL_SECONDS", "2.5"));
        Assert.Equal(1234, o.StallMinBytes);
        Assert.Equal(TimeSpan.FromSeconds(2.5), o.StallWindow);
        var defaults = From(("RLHFKIT_HUB_MIN_BYTES", "lots"), ("RLHFKIT_HUB_STALL_SECONDS", "-1"));
        Assert.Equal(64 * 1024, defaults.StallMinBytes);
        Assert.Equal(TimeSpan.FromSeconds(60), defaults.StallWindow);
    }
}
