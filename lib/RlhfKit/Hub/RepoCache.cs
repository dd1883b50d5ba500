using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace RlhfKit.Hub;

/// <summary>One repo's folder in the huggingface_hub cache:
/// <c>refs/&lt;revision&gt;</c> (commit hash), <c>blobs/&lt;etag&gt;</c> (content), <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c>
/// (relative symlink to the blob, or a copy where symlinks are unavailable), and <c>../.locks/&lt;folder&gt;/&lt;etag&gt;.lock</c>.</summary>
internal sealed partial class RepoCache(string cacheDir, RepoRef repo)
{
    public string Root { get; } = Path.Combine(cacheDir, repo.FolderName);

    public string BlobPath(string etag) => Path.Combine(Root, "blobs", etag);
    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";
    public string LockPath(string etag) => Path.Combine(cacheDir, ".locks", repo.FolderName, etag + ".lock");
    public string RefPath(string revision) => Path.Combine(Root, "refs", ToNative(revision));
    public string SnapshotDir(string commit) => Path.Combine(Root, "snapshots", commit);
    public string PointerPath(string commit, string file) => Path.Combine(SnapshotDir(commit), ToNative(file));

    /// <summary>huggingface_hub's marker for "this file does not exist at this commit": an empty file at
    /// <c>.no_exist/&lt;commit&gt;/&lt;file&gt;</c>, written after a 404 so the next lookup needs no request.</summary>
    public string NoExistPath(string commit, string file) => Path.Combine(Root, ".no_exist", commit, ToNative(file));

    public bool IsMarkedMissing(string commit, string file) => IsCommitHash(commit) && File.Exists(NoExistPath(commit, file));

    public void MarkMissing(string commit, string file)
    {
        if (!IsCommitHash(commit)) return;
        var path = NoExistPath(commit, file);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (!File.Exists(path)) File.WriteAllBytes(path, []);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // only an optimisation
    }

    static string ToNative(string slashPath) => slashPath.Replace('/', Path.DirectorySeparatorChar);

    [GeneratedRegex("^[0-9a-f]{40}$")] private static partial Regex CommitHashRegex();
    [GeneratedRegex("^[0-9a-f]{64}$")] private static partial Regex Sha256Regex();

    public static bool IsCommitHash(string revision) => CommitHashRegex().IsMatch(revision);

    /// <summary>LFS blobs are named by their sha256, which makes them checkable without the Hub.</summary>
    public static bool IsSha256(string etag) => Sha256Regex().IsMatch(etag);

    public string? ReadRef(string revision)
    {
        var path = RefPath(revision);
        try { return File.Exists(path) ? File.ReadAllText(path).Trim() : null; }
        catch (IOException) { return null; }
    }

    /// <summary>Records which commit a branch or ref points at (huggingface_hub writes the bare hash, no newline).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit || ReadRef(revision) == commit) return;
        AtomicFile.WriteAllText(RefPath(revision), commit);
    }

    public string? ResolveCommit(string revision) => IsCommitHash(revision) ? revision : ReadRef(revision);

    /// <summary>The file backing a snapshot entry: the symlink's target, or the entry itself when it is a copy.</summary>
    public static string ContentPath(string pointer)
    {
        var info = new FileInfo(pointer);
        return info.LinkTarget is { } target ? Path.GetFullPath(target, info.DirectoryName!) : pointer;
    }

    /// <summary>The snapshot entry if it exists and is not a dangling link.</summary>
    public string? TryGetCached(string revision, string file)
    {
        if (ResolveCommit(revision) is not { } commit) return null;
        var pointer = PointerPath(commit, file);
        return File.Exists(pointer) && File.Exists(ContentPath(pointer)) ? pointer : null;
    }

    /// <summary>True when the pointer already points at this blob (or is a copy of the right size).</summary>
    public static bool PointerIsCurrent(string pointer, string blob, long size)
    {
        var info = new FileInfo(pointer);
        if (info.LinkTarget is { } target) return Path.GetFullPath(target, info.DirectoryName!) == Path.GetFullPath(blob);
        return info.Exists && info.Length == size;
    }

    /// <summary>Points the snapshot entry at the blob with a relative symlink, as huggingface_hub does, so the cache
    /// can move as a whole; copies where symlinks cannot be made (Windows without developer mode).</summary>
    public static void LinkPointer(string pointer, string blob, bool useSymlinks)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget is not null) File.Delete(pointer);
        if (useSymlinks)
        {
            try
            {
                File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                if (File.Exists(pointer)) File.Delete(pointer);
            }
        }
        var temp = AtomicFile.TempSibling(pointer);
        try
        {
            File.Copy(blob, temp);
            AtomicFile.Publish(temp, pointer);
        }
        finally { if (File.Exists(temp)) File.Delete(temp); }
    }

    public static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Blobs named by a sha256 whose content hashes to something else.</summary>
    public IReadOnlyList<string> CorruptBlobs()
    {
        var dir = Path.Combine(Root, "blobs");
        if (!Directory.Exists(dir)) return [];
        return Directory.EnumerateFiles(dir)
            .Where(p => IsSha256(Path.GetFileName(p)) && Sha256Of(p) != Path.GetFileName(p))
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Cross-process lock per blob at the path huggingface_hub uses. On Unix .NET takes FileShare.None as a
    /// flock, the same lock Python's filelock takes, so the two tools do not write one .incomplete at once.</summary>
    public static async Task<FileStream> LockAsync(string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e is not DirectoryNotFoundException and not PathTooLongException)
            {
                await Task.Delay(200, ct); // held by another download of the same blob
            }
        }
    }
}
