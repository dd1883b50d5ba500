using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Tokenization;

namespace RlhfKit.Tests.Tokenization;

/// <summary>The offline policy's SentencePiece model (BPE, trained by scripts/prepare/train_spiece.py) against the ids
/// that sentencepiece itself produced when the model was made (assets/offline/policy/spiece_expected.json).</summary>
public class OfflinePolicyTokenizerParityTests
{
    static string Folder => Path.Combine(KitRoot.Find(), "assets", "offline", "policy");

    public static TheoryData<int> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "spiece_expected.json")));
        var data = new TheoryData<int>();
        for (int i = 0; i < doc.RootElement.GetProperty("cases").GetArrayLength(); i++) data.Add(i);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void EncodeMatchesSentencePiece(int index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "spiece_expected.json")));
        var c = doc.RootElement.GetProperty("cases")[index];
        var tokenizer = AutoTokenizer.FromPretrained(Folder);
        var expected = c.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        Assert.Equal(expected, tokenizer.Encode(c.GetProperty("text").GetString()!));
    }
}
