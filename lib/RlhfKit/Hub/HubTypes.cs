namespace RlhfKit.Hub;

/// <summary>Kind of Hub repository; decides the URL prefix and the cache folder name (<c>models--</c>, <c>datasets--</c>, <c>spaces--</c>).</summary>
public enum HubRepoType { Model, Dataset, Space }

/// <summary>Progress of one file: enough for a progress bar. Reported at the start (with resumed bytes), during the
/// transfer (at most every ~100 ms) and once at the end; a file served from the cache reports done == total once.</summary>
public readonly record struct HubDownloadProgress(string FileName, long BytesDownloaded, long TotalBytes)
{
    public double Fraction => TotalBytes > 0 ? (double)BytesDownloaded / TotalBytes : 1.0;
}

/// <summary>A repo id plus its type; builds the names huggingface_hub uses.</summary>
internal readonly record struct RepoRef(string Id, HubRepoType Type)
{
    public string Plural => Type switch { HubRepoType.Dataset => "datasets", HubRepoType.Space => "spaces", _ => "models" };

    /// <summary>Cache folder, e.g. <c>models--google--flan-t5-small</c> (huggingface_hub's repo_folder_name).</summary>
    public string FolderName => $"{Plural}--{Id.Replace("/", "--")}";

    /// <summary>URL path prefix: models live at the root, datasets and spaces under their plural.</summary>
    public string UrlPrefix => Type == HubRepoType.Model ? "" : Plural + "/";

    public string Describe => $"{Type.ToString().ToLowerInvariant()} '{Id}'";
}
