#!/usr/bin/env dotnet
#:project ../lib/RlhfKit/RlhfKit.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// Regenerates each lesson's file-based app (notebooks/NN-name.cs) from its notebook (notebooks/NN-name.ipynb).
// Run from the kit's folder after editing a notebook: dotnet run scripts/notebook-scripts.cs
// The test NotebookScriptTests.Committed_scripts_match_their_notebooks fails while they differ.
using RlhfKit.Alignment;
using RlhfKit.Notebooks;

var folder = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(KitRoot.Find(), "notebooks");
var changed = NotebookScript.WriteAll(folder);
foreach (var file in changed) Console.WriteLine($"wrote {Path.GetRelativePath(Directory.GetCurrentDirectory(), file)}");
Console.WriteLine(changed.Count == 0 ? "All file-based apps match their notebooks." : $"{changed.Count} file-based app(s) regenerated.");
