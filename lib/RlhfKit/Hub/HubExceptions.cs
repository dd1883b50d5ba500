namespace RlhfKit.Hub;

/// <summary>Base of every error the Hub client raises on purpose.</summary>
public class HubException : Exception
{
    public string RepoId { get; }
    public HubRepoType RepoType { get; }

    internal HubException(RepoRef repo, string message, Exception? inner = null) : base(message, inner)
    {
        RepoId = repo.Id;
        RepoType = repo.Type;
    }
}

/// <summary>The Hub answered with an error status.</summary>
public class HubHttpException : HubException
{
    public int StatusCode { get; }
    /// <summary>The Hub's <c>X-Error-Code</c> (e.g. GatedRepo, RepoNotFound, EntryNotFound), when sent.</summary>
    public string? ErrorCode { get; }

    internal HubHttpException(RepoRef repo, int status, string? errorCode, string message) : base(repo, message)
    {
        StatusCode = status;
        ErrorCode = errorCode;
    }
}

/// <summary>401/403: the repo is gated or private, or the token lacks access.</summary>
public sealed class HubAuthException : HubHttpException
{
    internal HubAuthException(RepoRef repo, int status, string? errorCode, string message) : base(repo, status, errorCode, message) { }
}

/// <summary>404: repo, revision or file does not exist.</summary>
public sealed class HubNotFoundException : HubHttpException
{
    internal HubNotFoundException(RepoRef repo, int status, string? errorCode, string message) : base(repo, status, errorCode, message) { }
}

/// <summary>HF_HUB_OFFLINE is set and some requested files are not in the cache.</summary>
public sealed class HubOfflineException : HubException
{
    public IReadOnlyList<string> MissingFiles { get; }

    internal HubOfflineException(RepoRef repo, IReadOnlyList<string> missing, string message) : base(repo, message) => MissingFiles = missing;
}

/// <summary>The Hub (or its CDN) could not be reached or the transfer broke off, and the cache cannot stand in.</summary>
public sealed class HubNetworkException : HubException
{
    public IReadOnlyList<string> MissingFiles { get; }

    internal HubNetworkException(RepoRef repo, IReadOnlyList<string> missing, string message, Exception? inner) : base(repo, message, inner) => MissingFiles = missing;
}

/// <summary>Downloaded or cached bytes do not match the size or sha256 the Hub announced.</summary>
public sealed class HubIntegrityException : HubException
{
    public string FileName { get; }
    public string Expected { get; }
    public string Actual { get; }

    internal HubIntegrityException(RepoRef repo, string file, string expected, string actual, string message) : base(repo, message)
    {
        FileName = file;
        Expected = expected;
        Actual = actual;
    }
}

/// <summary>The cache's volume lacks the space a download needs (checked against the announced size before any byte is
/// fetched), or a write to it failed part-way.</summary>
public sealed class HubDiskSpaceException : HubException
{
    public string FileName { get; }
    /// <summary>Bytes the download still needed.</summary>
    public long Needed { get; }
    /// <summary>Bytes free on the volume when it was checked.</summary>
    public long Available { get; }

    internal HubDiskSpaceException(RepoRef repo, string file, long needed, long available, string message, Exception? inner = null) : base(repo, message, inner)
    {
        FileName = file;
        Needed = needed;
        Available = available;
    }
}
