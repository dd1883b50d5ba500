namespace RlhfKit.Hub;

/// <summary>Turns "a local folder or a Hub repo id" into a local folder, as <c>from_pretrained</c> does.</summary>
public static class Pretrained
{
    /// <summary>Weight files in the order the kit prefers them; the first one the repo has is fetched.</summary>
    public static readonly IReadOnlyList<string> WeightFiles = ["model.safetensors", "pytorch_model.bin"];

    /// <summary>
    /// Returns <paramref name="repoIdOrPath"/> itself when it is an existing folder; otherwise fetches from the Hub (or
    /// finds in the cache) the <paramref name="required"/> files, whichever <paramref name="optional"/> files exist, and
    /// the first weight file the repo has, and returns the snapshot folder.
    /// </summary>
    public static async Task<string> ResolveAsync(string repoIdOrPath, IReadOnlyList<string> required, IReadOnlyList<string>? optional = null,
        bool weights = true, HubClient? hub = null, string revision = "main", IProgress<HubDownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(repoIdOrPath)) return Path.GetFullPath(repoIdOrPath);
        if (repoIdOrPath.StartsWith('.') || Path.IsPathRooted(repoIdOrPath) || repoIdOrPath.Count(c => c == '/') > 1)
            throw new DirectoryNotFoundException($"'{repoIdOrPath}' is neither an existing folder nor a Hub repo id (org/name).");
        var client = hub ?? new HubClient();
        try
        {
            string folder = await client.SnapshotAsync(repoIdOrPath, required, revision, HubRepoType.Model, progress: progress, cancellationToken: cancellationToken);
            // Every further file comes from the commit the required files resolved to (the snapshot folder's name), not
            // from the branch: if the branch moves meanwhile, all files still land in one snapshot. A file known to be
            // absent at that commit (.no_exist) costs no request.
            var commit = Path.GetFileName(folder);
            foreach (var file in optional ?? [])
            {
                try { await client.DownloadFileAsync(repoIdOrPath, file, commit, progress: progress, cancellationToken: cancellationToken); }
                catch (HubNotFoundException) { } // optional: the repo may not have it
                catch (HubOfflineException) { }
            }
            if (weights) await DownloadFirstAsync(client, repoIdOrPath, revision, commit, progress, cancellationToken);
            return folder;
        }
        finally { if (hub is null) client.Dispose(); }
    }

    static async Task DownloadFirstAsync(HubClient client, string repo, string revision, string commit, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        var failures = new List<string>();
        foreach (var file in WeightFiles)
        {
            try { await client.DownloadFileAsync(repo, file, commit, progress: progress, cancellationToken: ct); return; }
            catch (HubNotFoundException e) { failures.Add($"{file}: {e.Message}"); }
            catch (HubOfflineException e) { failures.Add($"{file}: {e.Message}"); }
        }
        throw new FileNotFoundException($"{repo}@{revision} (commit {commit}) has none of the weight files {string.Join(", ", WeightFiles)}:\n" + string.Join("\n", failures));
    }
}
