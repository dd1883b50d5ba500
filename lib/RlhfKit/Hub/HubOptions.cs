using System.Text;

namespace RlhfKit.Hub;

/// <summary>Where and how the client talks to the Hub. <c>new HubOptions()</c> holds plain defaults and reads no
/// environment; <see cref="FromEnvironment()"/> applies the variables huggingface_hub reads, so both tools share one
/// cache and one configuration. Tests build options directly instead of mutating the process environment.</summary>
public sealed record HubOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Base URL of the Hub (HF_ENDPOINT), e.g. a mirror.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Access token sent as <c>Authorization: Bearer</c> to the endpoint's host only (HF_TOKEN).</summary>
    public string? Token { get; init; }

    /// <summary>No HTTP at all; resolve from refs/ and snapshots/ only (HF_HUB_OFFLINE=1).</summary>
    public bool Offline { get; init; }

    /// <summary>The hub cache root holding <c>models--org--name</c> folders (HF_HUB_CACHE).</summary>
    public string CacheDir { get; init; } = Path.Combine(Home(), ".cache", "huggingface", "hub");

    /// <summary>Limit for connecting and receiving headers, and for any stall while reading a body (HF_HUB_DOWNLOAD_TIMEOUT).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The stall rule, beside the silence rule of <see cref="Timeout"/>: a download that receives fewer than
    /// <see cref="StallMinBytes"/> bytes in any <see cref="StallWindow"/> fails as a network error (and resumes from its
    /// partial file later), so a server that trickles a few bytes every few seconds cannot hold a download forever.
    /// RLHFKIT_HUB_MIN_BYTES; default 64 KiB, about 1 KB/s over the default window. 0 turns the rule off.</summary>
    public long StallMinBytes { get; init; } = 64 * 1024;

    /// <summary>The window of the stall rule (RLHFKIT_HUB_STALL_SECONDS; default 60 s).</summary>
    public TimeSpan StallWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Free bytes on the volume holding a path; tests replace it to simulate a full disk.</summary>
    internal Func<string, long> FreeSpace { get; init; } = FreeBytes;

    /// <summary>The free bytes available to this user on the volume of <paramref name="path"/> (of its nearest existing
    /// parent); <see cref="long.MaxValue"/> when the system cannot tell.</summary>
    public static long FreeBytes(string path)
    {
        try
        {
            var dir = Path.GetFullPath(path);
            while (!Directory.Exists(dir) && Path.GetDirectoryName(dir) is { } parent) dir = parent;
            return new DriveInfo(dir).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return long.MaxValue; }
    }

    /// <summary>How many times one call resumes a transfer that broke off before giving up (the next call resumes too).</summary>
    public int DownloadRetries { get; init; } = 3;

    /// <summary>How many times one HTTP request is retried after a transient failure (500, 502, 503, 504, 429, or a
    /// connection reset) before the error is reported: the first try plus up to this many more, as huggingface_hub's
    /// <c>http_backoff(max_retries=5)</c>. 0 turns retries off.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>Wait before the first retry; each further retry waits twice as long, up to <see cref="RetryMaxDelay"/>
    /// (huggingface_hub: 1 s doubling to 8 s). Tests set milliseconds.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between two tries computed by the backoff.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>Longest <c>Retry-After</c> (sent with 503 or 429) the client waits for; a longer one is cut to this.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The wait before retry number <paramref name="retry"/> (0 for the first retry).</summary>
    internal TimeSpan Backoff(int retry)
    {
        var ms = RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry, 30));
        return TimeSpan.FromMilliseconds(Math.Max(0, Math.Min(ms, RetryMaxDelay.TotalMilliseconds)));
    }

    /// <summary>Defaults overlaid with HF_ENDPOINT, HF_TOKEN (else the token file <c>huggingface-cli login</c> writes),
    /// HF_HUB_OFFLINE, HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME and HF_HUB_DOWNLOAD_TIMEOUT, and the kit's stall rule
    /// (RLHFKIT_HUB_MIN_BYTES, RLHFKIT_HUB_STALL_SECONDS).</summary>
    public static HubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable, Home());

    internal static HubOptions FromEnvironment(Func<string, string?> getEnv, string home)
    {
        string? Env(string name) => getEnv(name) is { Length: > 0 } v ? v : null;
        string Expand(string path) => path == "~" || path.StartsWith("~/") ? home + path[1..] : path;

        // Same precedence as huggingface_hub/constants.py.
        var hfHome = Expand(Env("HF_HOME") ?? Path.Combine(Env("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface"));
        var cache = Expand(Env("HF_HUB_CACHE") ?? Env("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(hfHome, "hub"));

        var token = Env("HF_TOKEN") ?? Env("HUGGING_FACE_HUB_TOKEN");
        if (token is null)
        {
            var tokenFile = Expand(Env("HF_TOKEN_PATH") ?? Path.Combine(hfHome, "token"));
            try { if (File.Exists(tokenFile)) token = File.ReadAllText(tokenFile).Trim() is { Length: > 0 } t ? t : null; }
            catch (IOException) { } catch (UnauthorizedAccessException) { } // an unreadable token file means "no token"
        }

        var timeout = double.TryParse(Env("HF_HUB_DOWNLOAD_TIMEOUT"), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromSeconds(30);

        var defaults = new HubOptions();
        var minBytes = long.TryParse(Env("RLHFKIT_HUB_MIN_BYTES"), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var bytes) ? bytes : defaults.StallMinBytes;
        var window = double.TryParse(Env("RLHFKIT_HUB_STALL_SECONDS"), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var stallSeconds) && stallSeconds > 0 && double.IsFinite(stallSeconds)
            ? TimeSpan.FromSeconds(stallSeconds) : defaults.StallWindow;

        return new HubOptions
        {
            StallMinBytes = minBytes,
            StallWindow = window,
            Endpoint = (Env("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            Token = token,
            Offline = IsTrue(Env("HF_HUB_OFFLINE") ?? Env("TRANSFORMERS_OFFLINE")),
            CacheDir = cache,
            Timeout = timeout,
        };
    }

    // huggingface_hub's _is_true: 1/ON/YES/TRUE, any case.
    static bool IsTrue(string? value) => value?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    static string Home() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } h ? h : Path.GetTempPath();

    // Keep the token out of logs: records print every property by default.
    bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Endpoint = {Endpoint}, Token = {(Token is null ? "null" : "***")}, Offline = {Offline}, CacheDir = {CacheDir}, ");
        builder.Append($"Timeout = {Timeout}, StallMinBytes = {StallMinBytes}, StallWindow = {StallWindow}, DownloadRetries = {DownloadRetries}, MaxRetries = {MaxRetries}, ");
        builder.Append($"RetryBaseDelay = {RetryBaseDelay}, RetryMaxDelay = {RetryMaxDelay}, MaxRetryAfter = {MaxRetryAfter}");
        return true;
    }
}
