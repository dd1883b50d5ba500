using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace RlhfKit.Hub;

/// <summary>Downloads files from the Hugging Face Hub into huggingface_hub's cache layout, so Python and this kit
/// share one cache. Mirrors <c>hf_hub_download</c> (<see cref="DownloadFileAsync"/>) and <c>snapshot_download</c>
/// restricted to named files (<see cref="SnapshotAsync"/>).</summary>
public sealed partial class HubClient : IDisposable
{
    readonly HttpClient http;
    readonly Uri endpoint;

    public HubOptions Options { get; }

    /// <summary>Tests turn this off to exercise the copy fallback used where symlinks are not allowed.</summary>
    internal bool UseSymlinks { get; set; } = true;

    public HubClient(HubOptions? options = null)
    {
        Options = options ?? HubOptions.FromEnvironment();
        endpoint = new Uri(Options.Endpoint.TrimEnd('/') + "/");
        // Redirects are followed by hand: the first response carries the Hub's metadata headers, relative Locations
        // must resolve, and the token must not follow a redirect to another host (the CDN).
        http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = Options.Timeout,
        })
        { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    public void Dispose() => http.Dispose();

    /// <summary>Path of one repo's folder in the cache (<c>models--org--name</c>), whether or not it exists.</summary>
    public string RepoCacheDir(string repoId, HubRepoType repoType = HubRepoType.Model) =>
        new RepoCache(Options.CacheDir, Repo(repoId, repoType)).Root;

    /// <summary>Downloads one file (or finds it in the cache) and returns its path under <c>snapshots/&lt;commit&gt;/</c>.
    /// With <paramref name="verify"/>, a cached blob is checked against the size and sha256 and refetched if corrupt.</summary>
    public async Task<string> DownloadFileAsync(string repoId, string filename, string revision = "main",
        HubRepoType repoType = HubRepoType.Model, bool verify = false, IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var repo = Repo(repoId, repoType);
        var file = NormalizeFile(filename);
        revision = CheckRevision(revision);
        var cache = new RepoCache(Options.CacheDir, repo);
        if (Options.Offline) return ResolveOffline(repo, cache, revision, [file], verify, progress).Pointers[0];
        try
        {
            return (await FetchAsync(repo, cache, file, revision, verify, progress, cancellationToken)).Pointer;
        }
        catch (Exception e) when (IsNetworkError(e, cancellationToken))
        {
            throw NetworkError(repo, cache, revision, [file], e);
        }
    }

    /// <summary>Makes sure every named file of the revision is in the cache and returns the <c>snapshots/&lt;commit&gt;</c>
    /// folder. All files come from one commit: the first resolves the revision, the rest are fetched at that commit.</summary>
    public async Task<string> SnapshotAsync(string repoId, IReadOnlyList<string> files, string revision = "main",
        HubRepoType repoType = HubRepoType.Model, bool verify = false, IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var repo = Repo(repoId, repoType);
        var names = files.Select(NormalizeFile).Distinct().ToList();
        if (names.Count == 0) throw new ArgumentException("Name at least one file to download.", nameof(files));
        revision = CheckRevision(revision);
        var cache = new RepoCache(Options.CacheDir, repo);
        if (Options.Offline) return ResolveOffline(repo, cache, revision, names, verify, progress).SnapshotDir;

        string? commit = null;
        try
        {
            foreach (var file in names)
                commit = (await FetchAsync(repo, cache, file, commit ?? revision, verify, progress, cancellationToken)).Commit;
            return cache.SnapshotDir(commit!);
        }
        catch (Exception e) when (IsNetworkError(e, cancellationToken))
        {
            // Like huggingface_hub: with the Hub unreachable, a complete cached snapshot still serves.
            var missing = names.Where(f => cache.TryGetCached(revision, f) is null).ToList();
            if (missing.Count == 0 && cache.ResolveCommit(revision) is { } cached) return cache.SnapshotDir(cached);
            throw NetworkError(repo, cache, revision, missing, e);
        }
    }

    /// <summary>Blobs in one repo's cache whose sha256 does not match their name (LFS files); empty when all are sound.
    /// <c>DownloadFileAsync(..., verify: true)</c> refetches them.</summary>
    public IReadOnlyList<string> VerifyCache(string repoId, HubRepoType repoType = HubRepoType.Model) =>
        new RepoCache(Options.CacheDir, Repo(repoId, repoType)).CorruptBlobs();

    // ---- one file ----

    async Task<(string Pointer, string Commit)> FetchAsync(RepoRef repo, RepoCache cache, string file, string revision,
        bool verify, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        // A commit hash never moves: an existing snapshot entry is final, no request needed.
        if (RepoCache.IsCommitHash(revision) && cache.TryGetCached(revision, file) is { } known && (!verify || CachedContentSound(known)))
        {
            ReportDone(progress, file, new FileInfo(RepoCache.ContentPath(known)).Length);
            return (known, revision);
        }
        // Nor does its list of files: a 404 at this commit, recorded in .no_exist, is final too (huggingface_hub's rule).
        if (RepoCache.IsCommitHash(revision) && cache.IsMarkedMissing(revision, file))
            throw new HubNotFoundException(repo, 404, "EntryNotFound",
                $"Not found (404): file '{file}' does not exist in {repo.Describe} at revision '{revision}' (the Hub said so earlier; " +
                $"recorded in {cache.NoExistPath(revision, file)}, so no request was made). Check the spelling of the file name '{file}'.");

        FileMetadata meta;
        try { meta = await MetadataAsync(repo, cache, file, revision, ct); }
        catch (Exception e) when (IsNetworkError(e, ct))
        {
            // Hub unreachable: serve the cached copy of this revision if there is one, as huggingface_hub does.
            if (cache.TryGetCached(revision, file) is { } cached && cache.ResolveCommit(revision) is { } c) return (cached, c);
            throw;
        }

        var blob = cache.BlobPath(meta.Etag);
        var pointer = cache.PointerPath(meta.Commit, file);
        // What writers killed mid-write left (temporaries named by their pid) goes; a live writer's stays.
        DeadWriters.RemoveTempFiles(Path.GetDirectoryName(cache.RefPath(revision))!);
        DeadWriters.RemoveTempFiles(Path.GetDirectoryName(pointer)!);
        cache.WriteRef(revision, meta.Commit);

        await using (await RepoCache.LockAsync(cache.LockPath(meta.Etag), ct))
        {
            if (File.Exists(blob) && verify && BlobProblem(blob, meta) is not null) File.Delete(blob);
            if (File.Exists(blob)) ReportDone(progress, file, meta.Size);
            else await DownloadBlobAsync(repo, cache, file, meta, progress, ct);
            if (verify || !RepoCache.PointerIsCurrent(pointer, blob, meta.Size)) RepoCache.LinkPointer(pointer, blob, UseSymlinks);
        }
        return (pointer, meta.Commit);
    }

    /// <summary>What the Hub says about a file: read from the first response, before any redirect to the CDN.</summary>
    internal sealed record FileMetadata(string Commit, string Etag, long Size, Uri DownloadUrl);

    async Task<FileMetadata> MetadataAsync(RepoRef repo, RepoCache cache, string file, string revision, CancellationToken ct)
    {
        var url = ResolveUrl(repo, file, revision);
        for (var hop = 0; hop < 10; hop++)
        {
            var (response, tries) = await SendWithRetriesAsync(HttpMethod.Head, url, null, ct);
            using var _ = response;
            var location = Redirect(response, url, repo, file, revision);
            var commit = Header(response, "X-Repo-Commit");
            // A file the commit lacks: remember it as huggingface_hub does, so asking again at that commit costs nothing.
            if (response.StatusCode == HttpStatusCode.NotFound && Header(response, "X-Error-Code") == "EntryNotFound" &&
                commit is not null && RepoCache.IsCommitHash(commit))
                cache.MarkMissing(commit, file);
            // An LFS file answers 302 to the CDN with the metadata on the 302 itself; a renamed repo answers a
            // redirect without it, which is followed.
            if (location is not null && commit is null && Header(response, "X-Linked-Etag") is null)
            {
                url = location;
                continue;
            }
            if (location is null) ThrowForStatus(response, repo, file, revision, tries);

            var etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? Header(response, "ETag"));
            var sizeText = Header(response, "X-Linked-Size") ?? Header(response, "Content-Length");
            if (commit is null || etag is null || !long.TryParse(sizeText, out var size) || size < 0)
                throw new HubException(repo, $"The server at {Options.Endpoint} did not send the commit, ETag and size for '{file}' " +
                    $"of {repo.Describe} (revision '{revision}'); is HF_ENDPOINT a Hugging Face Hub?");
            if (!RepoCache.IsCommitHash(commit)) throw new HubException(repo, $"The Hub sent an invalid commit hash '{commit}' for '{file}' of {repo.Describe}.");
            // A regular file is fetched at the commit the HEAD resolved, not at the branch: a branch that moves between
            // the HEAD and the GET would otherwise deliver another commit's bytes.
            return new FileMetadata(commit, etag, size, location ?? ResolveUrl(repo, file, commit));
        }
        throw new HubException(repo, $"Too many redirects resolving '{file}' of {repo.Describe} (revision '{revision}').");
    }

    async Task DownloadBlobAsync(RepoRef repo, RepoCache cache, string file, FileMetadata meta,
        IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        var incomplete = cache.IncompletePath(meta.Etag);
        CheckFreeSpace(repo, file, meta, incomplete);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await TransferAsync(repo, file, meta, incomplete, progress, ct);
                break;
            }
            catch (Exception e) when (attempt < Options.DownloadRetries && IsNetworkError(e, ct))
            {
                await Task.Delay(Options.Backoff(attempt), ct); // then resume from what arrived
            }
        }

        // Only a complete, checked file becomes a blob; a bad one is removed so the next try starts clean.
        var actualSize = new FileInfo(incomplete).Length;
        if (actualSize != meta.Size) throw Corrupt(repo, file, incomplete, "size", meta.Size.ToString(), actualSize.ToString());
        if (RepoCache.IsSha256(meta.Etag) && RepoCache.Sha256Of(incomplete) is var sha && sha != meta.Etag)
            throw Corrupt(repo, file, incomplete, "sha256", meta.Etag, sha);
        AtomicFile.Publish(incomplete, cache.BlobPath(meta.Etag));
    }

    /// <summary>Refuses a download the cache's volume cannot hold: what is still missing (the announced size less the
    /// partial file) plus 1 MiB must be free, so a full disk is named before the transfer rather than half-way.</summary>
    void CheckFreeSpace(RepoRef repo, string file, FileMetadata meta, string incomplete)
    {
        long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        long needed = Math.Max(0, meta.Size - have) + (1 << 20);
        long free = Options.FreeSpace(incomplete);
        if (free >= needed) return;
        throw new HubDiskSpaceException(repo, file, needed, free,
            $"Not enough disk space to download '{file}' of {repo.Describe}: it is {Size(meta.Size)}" +
            (have > 0 ? $" ({Size(have)} already in {incomplete})" : "") +
            $", so {Size(needed)} must be free (1 MiB of margin included), and {Path.GetDirectoryName(incomplete)} has {Size(free)} free. " +
            "Free some space, or point HF_HUB_CACHE at a larger volume, and run the download again.");
    }

    static string Size(long bytes) => bytes >= 1 << 20 ? $"{bytes / (double)(1 << 20):F1} MiB ({bytes:N0} bytes)" : $"{bytes:N0} bytes";

    /// <summary>One GET into <c>blobs/&lt;etag&gt;.incomplete</c>, continuing with a Range request when part of it is there.
    /// A break-off leaves the partial file for the next attempt.</summary>
    async Task TransferAsync(RepoRef repo, string file, FileMetadata meta, string incomplete,
        IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (have > meta.Size) { File.Delete(incomplete); have = 0; }
        if (have == meta.Size && have > 0) return; // all there from an earlier try; the caller checks it

        using var response = await GetAsync(meta.DownloadUrl, have > 0 ? have : null, repo, file, meta.Commit, ct);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || (response.StatusCode == HttpStatusCode.PartialContent
            && response.Content.Headers.ContentRange?.From != have))
        {
            File.Delete(incomplete); // the partial file and the server disagree; start over on the next attempt
            throw new HttpIOException(HttpRequestError.InvalidResponse, $"The server answered the range request for '{file}' with an unexpected range; restarting.");
        }
        // 200 to a Range request means the server ignored it: the body starts at byte zero.
        var append = response.StatusCode == HttpStatusCode.PartialContent;
        if (!append) have = 0;

        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        progress?.Report(new HubDownloadProgress(file, have, meta.Size));
        await using (var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        await using (var body = await response.Content.ReadAsStreamAsync(ct))
        {
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var buffer = new byte[1 << 16];
            // The stall rule: at least StallMinBytes in every StallWindow (the silence rule alone lets a trickle run forever).
            var windowStart = clock.Elapsed;
            var windowBytes = 0L;
            while (true)
            {
                stall.CancelAfter(Options.Timeout); // a silent connection counts as a network failure
                var n = await body.ReadAsync(buffer, stall.Token);
                if (n == 0) break;
                if (have + n > meta.Size)
                {
                    await output.DisposeAsync();
                    throw Corrupt(repo, file, incomplete, "size", meta.Size.ToString(), $"more than {meta.Size}");
                }
                try { await output.WriteAsync(buffer.AsMemory(0, n), ct); }
                catch (IOException e) { throw WriteFailed(repo, file, incomplete, have, meta.Size, e); }
                have += n;
                windowBytes += n;
                if (clock.Elapsed - windowStart >= Options.StallWindow)
                {
                    if (Options.StallMinBytes > 0 && windowBytes < Options.StallMinBytes)
                        throw new HttpIOException(HttpRequestError.Unknown,
                            $"the transfer of '{file}' stalled: {windowBytes:N0} bytes arrived in {(clock.Elapsed - windowStart).TotalSeconds:0.###} s, " +
                            $"fewer than {Options.StallMinBytes:N0} per {Options.StallWindow.TotalSeconds:0.###} s (RLHFKIT_HUB_MIN_BYTES / RLHFKIT_HUB_STALL_SECONDS); " +
                            $"{have:N0} of {meta.Size:N0} bytes are kept in {incomplete}");
                    windowStart = clock.Elapsed;
                    windowBytes = 0;
                }
                if (clock.Elapsed - lastReport > TimeSpan.FromMilliseconds(100))
                {
                    lastReport = clock.Elapsed;
                    progress?.Report(new HubDownloadProgress(file, have, meta.Size));
                }
            }
            try { output.Flush(flushToDisk: true); }
            catch (IOException e) { throw WriteFailed(repo, file, incomplete, have, meta.Size, e); }
        }
        if (have < meta.Size) throw new HttpIOException(HttpRequestError.ResponseEnded, $"The connection closed after {have} of {meta.Size} bytes of '{file}'.");
        progress?.Report(new HubDownloadProgress(file, have, meta.Size));
    }

    /// <summary>A write to the partial file failed (a full disk, most often): the bytes that arrived stay for the next try.</summary>
    HubDiskSpaceException WriteFailed(RepoRef repo, string file, string incomplete, long have, long size, IOException e)
    {
        var free = Options.FreeSpace(incomplete);
        return new HubDiskSpaceException(repo, file, size - have, free,
            $"Could not write '{file}' of {repo.Describe} to {incomplete} after {Size(have)} of {Size(size)}: {e.Message}. " +
            $"The volume has {Size(free)} free and the rest of the file needs {Size(size - have)}. The partial file is kept: free some space " +
            "(or point HF_HUB_CACHE at a larger volume) and run the download again; it resumes.", e);
    }

    // ---- offline ----

    (List<string> Pointers, string SnapshotDir) ResolveOffline(RepoRef repo, RepoCache cache, string revision, List<string> files,
        bool verify, IProgress<HubDownloadProgress>? progress)
    {
        var commit = cache.ResolveCommit(revision);
        var pointers = files.Select(f => cache.TryGetCached(revision, f)).ToList();
        var missing = files.Where((_, i) => pointers[i] is null).ToList();
        if (commit is null || missing.Count > 0)
        {
            var why = commit is null ? $"No commit is recorded for revision '{revision}' (no {Path.Combine("refs", revision)} in the cache), so " : "";
            throw new HubOfflineException(repo, missing,
                $"HF_HUB_OFFLINE is set and {why}{missing.Count} of {files.Count} requested file(s) of {repo.Describe} " +
                $"at revision '{revision}' are not in the cache {cache.Root}:{List(missing)}\n" +
                "Run the download once with network access (e.g. the kit's `download` command), or unset HF_HUB_OFFLINE.");
        }
        for (var i = 0; i < files.Count; i++)
        {
            var content = RepoCache.ContentPath(pointers[i]!);
            if (verify && !CachedContentSound(pointers[i]!))
                throw new HubIntegrityException(repo, files[i], Path.GetFileName(content), RepoCache.Sha256Of(content),
                    $"The cached blob {content} for '{files[i]}' of {repo.Describe} is corrupt (its sha256 does not match its name). " +
                    "HF_HUB_OFFLINE is set, so it cannot be refetched: unset HF_HUB_OFFLINE and download with verify.");
            ReportDone(progress, files[i], new FileInfo(content).Length);
        }
        return (pointers.Select(p => p!).ToList(), cache.SnapshotDir(commit));
    }

    // ---- checks ----

    /// <summary>A cached entry is sound unless it links to a sha256-named blob whose content differs (other blobs
    /// carry no checkable name offline).</summary>
    static bool CachedContentSound(string pointer)
    {
        var content = RepoCache.ContentPath(pointer);
        var name = Path.GetFileName(content);
        return !RepoCache.IsSha256(name) || RepoCache.Sha256Of(content) == name;
    }

    static string? BlobProblem(string blob, FileMetadata meta)
    {
        if (new FileInfo(blob).Length != meta.Size) return "size";
        return RepoCache.IsSha256(meta.Etag) && RepoCache.Sha256Of(blob) != meta.Etag ? "sha256" : null;
    }

    static HubIntegrityException Corrupt(RepoRef repo, string file, string incomplete, string what, string expected, string actual)
    {
        if (File.Exists(incomplete)) File.Delete(incomplete);
        return new HubIntegrityException(repo, file, expected, actual,
            $"Download of '{file}' from {repo.Describe} is corrupt: expected {what} {expected}, got {actual}. " +
            "The partial file was deleted; running the download again refetches it.");
    }

    static void ReportDone(IProgress<HubDownloadProgress>? progress, string file, long size) =>
        progress?.Report(new HubDownloadProgress(file, size, size));

    // ---- HTTP ----

    Uri ResolveUrl(RepoRef repo, string file, string revision) =>
        // The revision is one path segment: refs/pr/6 travels as refs%2Fpr%2F6. File segments keep their slashes.
        new(endpoint, $"{repo.UrlPrefix}{repo.Id}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    async Task<HttpResponseMessage> GetAsync(Uri url, long? from, RepoRef repo, string file, string commit, CancellationToken ct)
    {
        for (var hop = 0; hop < 10; hop++)
        {
            var (response, tries) = await SendWithRetriesAsync(HttpMethod.Get, url, from, ct);
            Uri? next;
            try { next = Redirect(response, url, repo, file, commit); }
            catch { response.Dispose(); throw; }
            if (next is not null)
            {
                response.Dispose();
                url = next;
                continue;
            }
            if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable) return response;
            using (response) ThrowForStatus(response, repo, file, commit, tries);
        }
        throw new HubException(repo, $"Too many redirects downloading '{file}' of {repo.Describe} at revision '{commit}'.");
    }

    /// <summary>Status codes worth another try: the server (or a proxy in front of it) is overloaded or restarting.</summary>
    static bool IsRetriableStatus(HttpStatusCode status) => (int)status is 429 or 500 or 502 or 503 or 504;

    /// <summary>One request, retried with exponential backoff on a retriable status or a connection reset, up to
    /// <see cref="HubOptions.MaxRetries"/> times; <c>Retry-After</c> (seconds or a date) on 503 and 429 sets the wait.
    /// Returns the last response (which may still carry a retriable status) and how many tries were made.</summary>
    async Task<(HttpResponseMessage Response, int Tries)> SendWithRetriesAsync(HttpMethod method, Uri url, long? rangeFrom, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var last = attempt >= Math.Max(0, Options.MaxRetries);
            HttpResponseMessage response;
            try { response = await SendAsync(method, url, rangeFrom, ct); }
            catch (Exception e) when (!last && IsConnectionReset(e, ct))
            {
                await Task.Delay(Options.Backoff(attempt), ct);
                continue;
            }
            if (last || !IsRetriableStatus(response.StatusCode)) return (response, attempt + 1);
            var wait = RetryAfter(response) ?? Options.Backoff(attempt);
            response.Dispose();
            await Task.Delay(wait, ct);
        }
    }

    /// <summary>The server's <c>Retry-After</c> on 503 or 429, capped at <see cref="HubOptions.MaxRetryAfter"/>.</summary>
    TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if ((int)response.StatusCode is not (503 or 429) || response.Headers.RetryAfter is not { } after) return null;
        var wait = after.Delta ?? (after.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (wait is not { } w) return null;
        if (w < TimeSpan.Zero) w = TimeSpan.Zero;
        return w > Options.MaxRetryAfter ? Options.MaxRetryAfter : w;
    }

    /// <summary>The connection broke (reset or aborted by the peer, or closed before a response): worth another try.
    /// A refused connection, a DNS failure or a timeout is not retried: the Hub is unreachable and the cache answers.</summary>
    static bool IsConnectionReset(Exception e, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return false;
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown }) return true;
            if (x is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded }) return true;
            if (x is HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded }) return true;
        }
        return false;
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, long? rangeFrom, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.UserAgent.ParseAdd("RlhfKit/1.0");
        request.Headers.AcceptEncoding.ParseAdd("identity"); // sizes must be of the raw bytes
        if (Options.Token is { Length: > 0 } token && SameOrigin(url, endpoint))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (rangeFrom is { } from) request.Headers.Range = new RangeHeaderValue(from, null);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.Timeout); // covers connect and headers; the body read has its own stall timer
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
    }

    static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    /// <summary>Where a 3xx answer points, resolved against the request URL. Only http(s) is followed: a redirect to
    /// <c>file://</c> or any other scheme is refused, naming the repo and the file.</summary>
    static Uri? Redirect(HttpResponseMessage response, Uri from, RepoRef repo, string file, string revision)
    {
        if ((int)response.StatusCode is not (>= 300 and < 400) || response.Headers.Location is not { } location) return null;
        Uri next;
        try { next = new Uri(from, location); }
        catch (UriFormatException e)
        {
            throw new HubException(repo, $"The server redirected the request for '{file}' of {repo.Describe} (revision '{revision}') " +
                $"to '{location}', which is not a valid URL.", e);
        }
        if (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps)
            throw new HubException(repo, $"The server redirected the request for '{file}' of {repo.Describe} (revision '{revision}') " +
                $"to '{next}', a {next.Scheme}: URL; only http and https redirects are followed. Is HF_ENDPOINT ({from.GetLeftPart(UriPartial.Authority)}) a Hugging Face Hub?");
        return next;
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.NonValidated.TryGetValues(name, out var values) || response.Content.Headers.NonValidated.TryGetValues(name, out values)
            ? values.FirstOrDefault() : null;

    /// <summary>huggingface_hub's _normalize_etag: drop a weak marker and the quotes. The result names a blob file.</summary>
    static string? NormalizeEtag(string? etag)
    {
        if (etag is null) return null;
        etag = etag.Trim();
        if (etag.StartsWith("W/")) etag = etag[2..];
        etag = etag.Trim('"');
        return EtagRegex().IsMatch(etag) ? etag : null;
    }

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]*$")] private static partial Regex EtagRegex();

    void ThrowForStatus(HttpResponseMessage response, RepoRef repo, string file, string revision, int tries = 1)
    {
        if (response.IsSuccessStatusCode) return;
        var status = (int)response.StatusCode;
        var code = Header(response, "X-Error-Code");
        var serverSays = Header(response, "X-Error-Message") is { } m ? $" The Hub says: {m}" : "";
        var at = revision == "(download)" ? "" : $" at revision '{revision}'";
        var retried = tries > 1 ? $" Tried {tries} times with exponential backoff (HubOptions.MaxRetries = {Options.MaxRetries}); the service may be down: try again later." : "";
        switch (status)
        {
            case 401 or 403:
                var exists = code == "RepoNotFound" ? "The repo does not exist, or it is private or gated. " : "The repo may be gated or private: accept its terms on its Hub page if it is gated. ";
                var tokenHint = Options.Token is null
                    ? "No token was sent: set HF_TOKEN (or run `huggingface-cli login`) with a token from https://huggingface.co/settings/tokens."
                    : "A token was sent but does not grant access: check it is valid and has read access to this repo.";
                throw new HubAuthException(repo, status, code,
                    $"Access to {repo.Describe} was denied ({status}{(code is null ? "" : ", " + code)}) while fetching '{file}'{at}. " +
                    $"{exists}{tokenHint}{serverSays}");
            case 404:
                var what = code switch
                {
                    "RepoNotFound" => $"the {repo.Type.ToString().ToLowerInvariant()} repo '{repo.Id}' does not exist",
                    "RevisionNotFound" => $"revision '{revision}' does not exist in {repo.Describe}",
                    "EntryNotFound" => $"file '{file}' does not exist in {repo.Describe}{at}",
                    _ => $"file '{file}' of {repo.Describe}{at} was not found",
                };
                throw new HubNotFoundException(repo, status, code,
                    $"Not found (404): {what}. Check the spelling of the repo id '{repo.Id}', the file name '{file}' and the revision" +
                    $"{(revision == "(download)" ? "" : $" '{revision}'")}, and the repo type ({repo.Type}).{serverSays}");
            default:
                throw new HubHttpException(repo, status, code,
                    $"The Hub answered {status} {response.ReasonPhrase} for '{file}' of {repo.Describe}{at}.{serverSays}{retried}");
        }
    }

    /// <summary>Connection refused, reset, DNS, TLS, a body that broke off, or our timeout (not the caller's cancel).</summary>
    static bool IsNetworkError(Exception e, CancellationToken ct) => e switch
    {
        HubException => false,
        HttpRequestException h => h.StatusCode is null,
        // HttpIOException: the body broke off or the connection reset. Other IOExceptions (disk full) are not the network's.
        HttpIOException or SocketException => true,
        IOException io => io.InnerException is SocketException,
        OperationCanceledException => !ct.IsCancellationRequested,
        _ => false,
    };

    HubNetworkException NetworkError(RepoRef repo, RepoCache cache, string revision, List<string> missing, Exception inner)
    {
        var cause = inner is OperationCanceledException ? $"no answer within {Options.Timeout.TotalSeconds:0.#} s" : inner.Message;
        return new HubNetworkException(repo, missing,
            $"Could not download from {Options.Endpoint} ({cause}), and {missing.Count} requested file(s) of {repo.Describe} " +
            $"at revision '{revision}' are not in the cache {cache.Root}:{List(missing)}\n" +
            "Check the network connection (or HF_ENDPOINT / proxy settings) and run the download again (e.g. the kit's `download` " +
            "command); partial files resume. To work without network, download once with access, then set HF_HUB_OFFLINE=1.", inner);
    }

    static string List(IEnumerable<string> files) => string.Concat(files.Select(f => "\n  - " + f));

    // ---- argument checks ----

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)?$")] private static partial Regex RepoIdRegex();

    static RepoRef Repo(string repoId, HubRepoType type)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        if (!RepoIdRegex().IsMatch(repoId) || repoId.Contains("--") || repoId.Contains("..") || repoId.Length > 96)
            throw new ArgumentException($"'{repoId}' is not a valid repo id; expected 'name' or 'org/name'.", nameof(repoId));
        return new RepoRef(repoId, type);
    }

    /// <summary>A repo-relative file with '/' separators; nothing that could escape the snapshot folder.</summary>
    static string NormalizeFile(string filename)
    {
        ArgumentNullException.ThrowIfNull(filename);
        var file = filename.Replace('\\', '/');
        var parts = file.Split('/');
        if (file.Length == 0 || parts.Any(p => p is "" or "." or "..") || file.Contains(':'))
            throw new ArgumentException($"'{filename}' is not a valid file path inside a repo.", nameof(filename));
        return file;
    }

    static string CheckRevision(string revision)
    {
        ArgumentNullException.ThrowIfNull(revision);
        if (revision.Length == 0 || revision.Split('/').Any(p => p is "" or "." or "..") || revision.Contains('\\'))
            throw new ArgumentException($"'{revision}' is not a valid revision.", nameof(revision));
        return revision;
    }
}
