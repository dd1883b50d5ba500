using RlhfKit.NotebookScripts;

// Regenerates each lesson's file-based app (notebooks/NN-name.cs) from its notebook (notebooks/NN-name.ipynb).
// Run from anywhere inside the kit after editing a notebook: dotnet run --project tools/NotebookScripts
// The test NotebookScriptTests.CommittedScriptsMatchTheirNotebooks fails while they differ.
var folder = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(FindKitRoot(), "notebooks");
var changed = NotebookScript.WriteAll(folder);
foreach (var file in changed) Console.WriteLine($"wrote {Path.GetRelativePath(Directory.GetCurrentDirectory(), file)}");
Console.WriteLine(changed.Count == 0 ? "All file-based apps match their notebooks." : $"{changed.Count} file-based app(s) regenerated.");
return 0;

static string FindKitRoot()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Workshop.sln"))) return dir.FullName;
    throw new DirectoryNotFoundException("Run this from inside the kit's folder (no Workshop.sln above the current folder), or pass the notebooks folder.");
}
