using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace RlhfKit.Tests.Hub;

/// <summary>A request as the server saw it: method, the path exactly as sent (still percent-encoded), headers.</summary>
public sealed record HubRequest(string Method, string RawPath, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>When the request arrived (for checking waits between retries).</summary>
    public DateTime At { get; init; } = DateTime.UtcNow;

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>A minimal Hugging Face Hub on 127.0.0.1 (raw HTTP/1.1 over a TcpListener, one request per connection) that
/// answers <c>/{repo}/resolve/{revision}/{file}</c> like the Hub: X-Repo-Commit, ETag, and for LFS files a 302 to
/// <c>/cdn/{sha256}</c> carrying X-Linked-Etag and X-Linked-Size. Knobs inject the failures the client must survive.</summary>
public sealed class FakeHubServer : IAsyncDisposable
{
    sealed record FakeFile(byte[] Content, bool Lfs)
    {
        public string Sha256 { get; } = Convert.ToHexStringLower(SHA256.HashData(Content));
        public string GitSha1 { get; } = GitBlobSha1(Content);
        public string Etag => Lfs ? Sha256 : GitSha1;
    }

    readonly TcpListener listener;
    readonly CancellationTokenSource stop = new();
    readonly Task acceptLoop;
    readonly ConcurrentDictionary<Task, bool> connections = new();
    readonly ConcurrentQueue<HubRequest> requests = new();
    // repo path ("org/name" or "datasets/org/name") -> revision -> commit, and commit -> file -> content
    readonly Dictionary<string, Dictionary<string, string>> refs = new();
    readonly Dictionary<string, Dictionary<string, FakeFile>> commits = new();
    // repo path -> every commit it ever had (a commit stays reachable by hash after its branch moves on)
    readonly Dictionary<string, HashSet<string>> repoCommits = new();
    readonly object gate = new();
    int cutsLeft;
    int cutAfter;
    int failsLeft;
    int failStatus;
    string? failRetryAfter;
    int resetsLeft;
    int tricklesLeft;
    int trickleBytes;
    TimeSpan trickleEvery;

    /// <summary>Repos that answer 401 (X-Error-Code: GatedRepo) unless <c>Authorization: Bearer {GatedToken}</c> is sent.</summary>
    public HashSet<string> GatedRepos { get; } = [];
    public string GatedToken { get; set; } = "hf_secret";
    /// <summary>LFS redirects carry an absolute URL (a CDN on "another host") instead of a relative one.</summary>
    public bool AbsoluteCdnUrls { get; set; }
    /// <summary>Answer 200 with the whole body even when a Range is asked for.</summary>
    public bool IgnoreRange { get; set; }
    /// <summary>GET bodies to send instead of the real content, by file name (same length = corrupt, longer = wrong size).</summary>
    public ConcurrentDictionary<string, byte[]> BodyOverrides { get; } = new();
    /// <summary>Files whose resolve request answers 302 to this Location (e.g. a file:// URL) instead of the content.</summary>
    public ConcurrentDictionary<string, string> RedirectOverrides { get; } = new();
    /// <summary>Called with each request (and its 0-based index) before it is answered: lets a test move a branch
    /// between two requests.</summary>
    public Action<HubRequest, int>? OnRequest { get; set; }

    public string Endpoint { get; }
    public IReadOnlyList<HubRequest> Requests => requests.ToArray();
    public int Count(string method) => requests.Count(r => r.Method == method);

    public FakeHubServer()
    {
        listener = new TcpListener(IPAddress.Loopback, 0); // port 0: the OS picks a free one
        listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        acceptLoop = AcceptAsync();
    }

    public void Add(string repoPath, string revision, string commit, string file, byte[] content, bool lfs = false)
    {
        lock (gate)
        {
            if (!refs.TryGetValue(repoPath, out var revs)) refs[repoPath] = revs = new();
            revs[revision] = commit;
            if (!commits.TryGetValue(commit, out var files)) commits[commit] = files = new();
            files[file] = new FakeFile(content, lfs);
            if (!repoCommits.TryGetValue(repoPath, out var known)) repoCommits[repoPath] = known = [];
            known.Add(commit);
        }
    }

    /// <summary>The next <paramref name="count"/> file bodies stop after <paramref name="bytes"/> bytes and the connection closes.</summary>
    public void CutNextBodies(int count, int bytes) { lock (gate) { cutsLeft = count; cutAfter = bytes; } }

    /// <summary>The next <paramref name="count"/> requests are answered with <paramref name="status"/> (and a
    /// <c>Retry-After</c> header when given) instead of being served.</summary>
    public void FailNext(int count, int status, string? retryAfter = null) { lock (gate) { failsLeft = count; failStatus = status; failRetryAfter = retryAfter; } }

    /// <summary>The next <paramref name="count"/> GET bodies arrive <paramref name="bytes"/> bytes at a time, one piece every
    /// <paramref name="every"/>: a server that never goes silent but never gets anywhere. The trickle ends when the
    /// client hangs up (or after the server's 20 s bound).</summary>
    public void TrickleNextBodies(int count, int bytes, TimeSpan every) { lock (gate) { tricklesLeft = count; trickleBytes = bytes; trickleEvery = every; } }

    /// <summary>The next <paramref name="count"/> connections are reset (TCP RST) after the request is read.</summary>
    public void ResetNext(int count) { lock (gate) resetsLeft = count; }

    public static string GitBlobSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(stop.Token); }
            catch (Exception) { return; } // stopped
            var task = Task.Run(() => ServeAsync(client));
            connections[task] = true;
            _ = task.ContinueWith(t => connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(20)); // bounded: a stuck client cannot hang the test run
        try
        {
            var stream = client.GetStream();
            var request = await ReadRequestAsync(stream, timeout.Token);
            if (request is null) return;
            int index;
            lock (gate) { requests.Enqueue(request); index = requests.Count - 1; }
            OnRequest?.Invoke(request, index);
            bool reset;
            int fail;
            string? retryAfter;
            lock (gate)
            {
                reset = resetsLeft > 0;
                if (reset) resetsLeft--;
                fail = !reset && failsLeft > 0 ? failStatus : 0;
                if (fail != 0) failsLeft--;
                retryAfter = failRetryAfter;
            }
            if (reset)
            {
                client.LingerState = new LingerOption(true, 0); // close with RST, not FIN: "connection reset by peer"
                client.Client.Close(0);
                return;
            }
            if (fail != 0)
            {
                var headers = retryAfter is null ? new List<(string, string)>() : [("Retry-After", retryAfter)];
                await WriteAsync(stream, fail, headers, null, request, timeout.Token);
                return;
            }
            await RespondAsync(stream, request, timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException) { }
    }

    static async Task<HubRequest?> ReadRequestAsync(NetworkStream stream, CancellationToken ct)
    {
        // Read byte by byte up to the blank line: requests here have no body, and nothing is read past the headers.
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one, ct) == 0) return null;
            head.Add(one[0]);
            if (head.Count > 64 * 1024) return null;
        }
        var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
        var first = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return new HubRequest(first[0], first[1], headers);
    }

    async Task RespondAsync(NetworkStream stream, HubRequest request, CancellationToken ct)
    {
        var path = request.RawPath;
        if (path.StartsWith("/cdn/"))
        {
            var sha = path["/cdn/".Length..];
            KeyValuePair<string, FakeFile>? hit;
            lock (gate) hit = commits.Values.SelectMany(f => f).Where(f => f.Value.Lfs && f.Value.Sha256 == sha).Cast<KeyValuePair<string, FakeFile>?>().FirstOrDefault();
            if (hit is null) { await WriteAsync(stream, 404, [], null, request, ct); return; }
            await SendBodyAsync(stream, request, hit.Value.Key, hit.Value.Value, [("ETag", "\"cdn-" + sha[..8] + "\"")], ct);
            return;
        }

        // /[datasets/]org/name/resolve/{revision}/{file...}
        var segments = path.TrimStart('/').Split('/');
        var at = Array.IndexOf(segments, "resolve");
        if (at < 0 || at + 2 >= segments.Length) { await WriteAsync(stream, 404, [("X-Error-Code", "RepoNotFound")], null, request, ct); return; }
        var repoPath = string.Join('/', segments[..at]);
        var revision = Uri.UnescapeDataString(segments[at + 1]);
        var file = string.Join('/', segments[(at + 2)..].Select(Uri.UnescapeDataString));

        if (GatedRepos.Contains(repoPath) && request.Header("Authorization") != $"Bearer {GatedToken}")
        {
            await WriteAsync(stream, 401, [("X-Error-Code", "GatedRepo"), ("X-Error-Message", "Access to this repo is restricted.")], null, request, ct);
            return;
        }
        string? commit;
        FakeFile? fake = null;
        lock (gate)
        {
            if (!refs.TryGetValue(repoPath, out var revs)) commit = null;
            else if (revs.TryGetValue(revision, out var c)) commit = c;
            else commit = repoCommits.TryGetValue(repoPath, out var known) && known.Contains(revision) ? revision : null;
            if (commit is not null) commits[commit].TryGetValue(file, out fake);
        }
        if (!refs.ContainsKey(repoPath)) { await WriteAsync(stream, 404, [("X-Error-Code", "RepoNotFound")], null, request, ct); return; }
        if (commit is null) { await WriteAsync(stream, 404, [("X-Error-Code", "RevisionNotFound")], null, request, ct); return; }
        if (fake is null) { await WriteAsync(stream, 404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", commit)], null, request, ct); return; }

        if (RedirectOverrides.TryGetValue(file, out var elsewhere))
        {
            await WriteAsync(stream, 302, [("Location", elsewhere), ("X-Repo-Commit", commit)], [], request, ct);
            return;
        }
        if (fake.Lfs)
        {
            var cdn = (AbsoluteCdnUrls ? Endpoint : "") + "/cdn/" + fake.Sha256;
            await WriteAsync(stream, 302, [("Location", cdn), ("X-Repo-Commit", commit), ("X-Linked-Etag", $"\"{fake.Sha256}\""),
                ("X-Linked-Size", fake.Content.Length.ToString()), ("ETag", "\"redirect-etag\"")], [], request, ct);
            return;
        }
        await SendBodyAsync(stream, request, file, fake, [("X-Repo-Commit", commit), ("ETag", $"\"{fake.GitSha1}\"")], ct);
    }

    async Task SendBodyAsync(NetworkStream stream, HubRequest request, string file, FakeFile fake, (string, string)[] headers, CancellationToken ct)
    {
        // Overrides mangle only what a GET delivers; HEAD keeps announcing the true size.
        var body = request.Method == "GET" && BodyOverrides.TryGetValue(file, out var over) ? over : fake.Content;
        var status = 200;
        var extra = new List<(string, string)>(headers) { ("Accept-Ranges", "bytes") };
        if (request.Method == "GET" && !IgnoreRange && request.Header("Range") is { } range && range.StartsWith("bytes=") && range.EndsWith('-'))
        {
            var from = long.Parse(range["bytes=".Length..^1]);
            if (from >= body.Length) { await WriteAsync(stream, 416, [("Content-Range", $"bytes */{body.Length}")], [], request, ct); return; }
            extra.Add(("Content-Range", $"bytes {from}-{body.Length - 1}/{body.Length}"));
            body = body[(int)from..];
            status = 206;
        }
        int trickle;
        TimeSpan every;
        lock (gate) { trickle = request.Method == "GET" && tricklesLeft > 0 ? trickleBytes : 0; every = trickleEvery; if (trickle > 0) tricklesLeft--; }
        if (trickle > 0)
        {
            await WriteHeadAsync(stream, status, extra, body.Length, ct);
            for (var at = 0; at < body.Length; at += trickle)
            {
                await stream.WriteAsync(body.AsMemory(at, Math.Min(trickle, body.Length - at)), ct);
                await stream.FlushAsync(ct);
                await Task.Delay(every, ct);
            }
            return;
        }
        int cut;
        lock (gate) { cut = request.Method == "GET" && cutsLeft > 0 ? cutAfter : -1; if (cut >= 0) cutsLeft--; }
        if (cut >= 0 && cut < body.Length)
        {
            // Promise the whole body, send part of it, then close: an interrupted transfer.
            await WriteHeadAsync(stream, status, extra, body.Length, ct);
            await stream.WriteAsync(body.AsMemory(0, cut), ct);
            await stream.FlushAsync(ct);
            return;
        }
        await WriteAsync(stream, status, extra, body, request, ct);
    }

    static async Task WriteAsync(NetworkStream stream, int status, IEnumerable<(string, string)> headers, byte[]? body, HubRequest request, CancellationToken ct)
    {
        body ??= Encoding.UTF8.GetBytes($"{{\"error\":\"{status}\"}}");
        await WriteHeadAsync(stream, status, headers, body.Length, ct);
        if (request.Method != "HEAD") await stream.WriteAsync(body, ct);
        await stream.FlushAsync(ct);
    }

    static async Task WriteHeadAsync(NetworkStream stream, int status, IEnumerable<(string Name, string Value)> headers, long length, CancellationToken ct)
    {
        var reason = status switch
        {
            200 => "OK", 206 => "Partial Content", 302 => "Found", 401 => "Unauthorized", 404 => "Not Found", 416 => "Range Not Satisfiable",
            429 => "Too Many Requests", 500 => "Internal Server Error", 502 => "Bad Gateway", 503 => "Service Unavailable", 504 => "Gateway Timeout",
            _ => "Status",
        };
        var text = new StringBuilder($"HTTP/1.1 {status} {reason}\r\n");
        foreach (var (name, value) in headers) text.Append($"{name}: {value}\r\n");
        text.Append($"Content-Length: {length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()), ct);
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        listener.Stop();
        await acceptLoop;
        await Task.WhenAny(Task.WhenAll(connections.Keys), Task.Delay(TimeSpan.FromSeconds(5)));
        stop.Dispose();
    }
}
