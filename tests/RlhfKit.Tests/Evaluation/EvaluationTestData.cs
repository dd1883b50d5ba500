using System.Text;
using RlhfKit.Evaluation;
using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Evaluation;

internal static class EvaluationTestData
{
    public static T5Tokenizer Tokenizer() => T5Tokenizer.FromFile(Fixtures.PathOf("spiece", "spiece.model"));

    /// <summary>A tiny random FLAN-style T5 whose vocabulary covers the spiece fixture (512 pieces + 100 sentinels).</summary>
    public static T5Config Config(int vocabSize) => new()
    {
        VocabSize = vocabSize, DModel = 32, DKv = 16, DFf = 64, NumLayers = 2, NumDecoderLayers = 2, NumHeads = 2,
        FeedForwardProj = "gated-gelu", TieWordEmbeddings = false, DropoutRate = 0.1, EosTokenId = 1, PadTokenId = 0, DecoderStartTokenId = 0,
    };

    public static T5ForConditionalGeneration Model(int seed, int vocabSize)
    {
        var model = new T5ForConditionalGeneration(Config(vocabSize));
        SeededInitialization.InitializeRandomWeights(model, seed);
        return model;
    }

    public static T5ForConditionalGeneration Copy(T5ForConditionalGeneration model)
    {
        var copy = new T5ForConditionalGeneration(model.Config);
        using var noGrad = no_grad();
        var source = model.state_dict();
        foreach (var (name, target) in copy.state_dict()) target.copy_(source[name]);
        return copy;
    }

    public static void Perturb(T5ForConditionalGeneration model, double std, int seed)
    {
        using var noGrad = no_grad();
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        foreach (var p in model.parameters())
        {
            using var noise = randn(p.shape, generator: generator) * std;
            p.add_(noise);
        }
    }

    /// <summary>Makes eos likely at some positions and unlikely at others (a large first hidden unit feeding the eos
    /// logit), so summaries end at different lengths and batches need padding.</summary>
    public static void EncourageEos(T5ForConditionalGeneration model, double strength = 10)
    {
        using var noGrad = no_grad();
        using var norm = model.decoder.final_layer_norm.weight[0];
        norm.fill_(strength);
        using var eos = model.lm_head.weight![model.Config.EosTokenId, 0];
        eos.fill_(1.0);
    }

    /// <summary>Simple function components: 0.1 x length in characters + 1 x number of letters 'e'.</summary>
    public static CompositeReward Reward() => new CompositeReward()
        .Add("length", t => t.Length, 0.1)
        .Add("e_count", t => t.Count(c => c == 'e'), 1.0);

    /// <summary>Articles from the tokenizer's corpus: several sentences each, with commas and quotes.</summary>
    public static List<Article> Articles(int count)
    {
        var lines = File.ReadAllLines(Fixtures.PathOf("spiece", "train_corpus.txt")).Where(l => l.Length > 0).ToList();
        return Enumerable.Range(0, count).Select(i =>
        {
            var text = new StringBuilder();
            for (int j = 0; j < 2 + i % 3; j++) text.Append(lines[(i * 7 + j) % lines.Count]).Append(' ');
            if (i % 2 == 0) text.Append("\"Quoted,\" she said.");
            return new Article($"art-{i}", text.ToString().Trim());
        }).ToList();
    }

    /// <summary>An independent RFC 4180 reader for the round-trip tests.</summary>
    public static List<List<string>> ReadCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var cell = new StringBuilder();
        bool inQuotes = false, quotedCell = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inQuotes)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { cell.Append('"'); i++; }
                else if (c == '"') inQuotes = false;
                else cell.Append(c);
                continue;
            }
            switch (c)
            {
                case '"' when cell.Length == 0 && !quotedCell: inQuotes = true; quotedCell = true; break;
                case '"': throw new FormatException($"stray quote at {i}");
                case ',': row.Add(cell.ToString()); cell.Clear(); quotedCell = false; break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n': break;
                case '\n': row.Add(cell.ToString()); cell.Clear(); quotedCell = false; rows.Add(row); row = []; break;
                default: cell.Append(c); break;
            }
        }
        if (inQuotes) throw new FormatException("unterminated quote");
        if (cell.Length > 0 || row.Count > 0) { row.Add(cell.ToString()); rows.Add(row); }
        return rows;
    }
}
