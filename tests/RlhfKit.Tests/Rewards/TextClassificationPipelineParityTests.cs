using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tests.Models;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Rewards;

/// <summary>The pipeline on the RoBERTa fixture: the fixture has no tokenizer files, so a tokenizer that reads
/// "31 44 120" as those ids (and adds &lt;s&gt; ... &lt;/s&gt;) stands in; everything after tokenisation is the kit's.</summary>
public class TextClassificationPipelineParityTests
{
    public static TheoryData<string> Folders()
    {
        var data = new TheoryData<string>();
        foreach (var (folder, file) in TestModels.CheckpointsOf("roberta").Select(r => ((string)r[0], (string)r[1])))
            if (file == "model.safetensors") data.Add(folder);
        return data;
    }

    static (TextClassificationPipeline Pipeline, string[] Texts, Tensor Logits, Tensor Probs) Setup(string folder, int batchSize)
    {
        var model = TestModels.LoadRoberta(Fixtures.PathOf(folder), "model.safetensors");
        using var doc = Fixtures.Json(folder, "reference.json");
        var r = doc.RootElement;
        var ids = Fixtures.Tensor(r.GetProperty("inputs").GetProperty("input_ids"));
        var mask = Fixtures.Tensor(r.GetProperty("inputs").GetProperty("attention_mask"));
        var texts = new string[ids.shape[0]];
        for (int b = 0; b < texts.Length; b++)
        {
            var row = ids[b].data<long>().ToArray();
            var real = mask[b].data<long>().ToArray();
            // Drop <s>, </s> and padding: the stand-in tokenizer adds the specials back.
            texts[b] = string.Join(' ', row.Where((_, i) => real[i] == 1).Skip(1).SkipLast(1));
        }
        var tokenizer = new IdTextTokenizer(bos: (int)ids[0, 0].item<long>(), eos: (int)ids[0, ^1].item<long>() is var e && e != model.PadTokenId ? e : 2, pad: model.PadTokenId);
        return (new TextClassificationPipeline(model, tokenizer, batchSize: batchSize), texts,
            Fixtures.Tensor(r.GetProperty("outputs").GetProperty("logits")), Fixtures.Tensor(r.GetProperty("outputs").GetProperty("probs")));
    }

    [Theory, MemberData(nameof(Folders))]
    public void RawLogitsEqualTheFixtureInInputOrderForAnyBatchSize(string folder)
    {
        foreach (var batchSize in new[] { 1, 16 })
        {
            var (pipeline, texts, logits, _) = Setup(folder, batchSize);
            Fixtures.AssertClose(logits, tensor(pipeline.Logits(texts).SelectMany(x => x).ToArray()).reshape(logits.shape), 1e-4, what: $"logits (batch {batchSize})");
            var reversed = pipeline.Logits(texts.Reverse().ToArray());
            Fixtures.AssertClose(logits.flip(0), tensor(reversed.SelectMany(x => x).ToArray()).reshape(logits.shape), 1e-4, what: "logits of reversed input");
        }
    }

    [Theory, MemberData(nameof(Folders))]
    public void FunctionsAndTopKFollowHuggingFace(string folder)
    {
        var (pipeline, texts, logits, probs) = Setup(folder, 4);
        var labels = pipeline.Labels;
        var all = pipeline.Classify(texts, topK: null, FunctionToApply.Softmax);
        for (int b = 0; b < texts.Length; b++)
        {
            Assert.Equal(labels.Count, all[b].Count);
            Assert.True(all[b].Zip(all[b].Skip(1)).All(p => p.First.Score >= p.Second.Score), "sorted by score, highest first");
            foreach (var s in all[b])
                Assert.Equal(probs[b, labels.ToList().IndexOf(s.Label)].item<float>(), s.Score, 1e-5);
        }
        var byDefault = pipeline.Classify(texts, topK: null); // several labels: softmax
        Assert.Equal(all.SelectMany(x => x).Select(s => s.Score), byDefault.SelectMany(x => x).Select(s => s.Score));
        var top2 = pipeline.Classify(texts, topK: 2, FunctionToApply.None);
        Assert.All(top2, row => Assert.Equal(2, row.Count));
        Assert.Equal(logits[0].max().item<float>(), top2[0][0].Score, 1e-4);
        var sigmoid = pipeline.Classify(texts, topK: null, FunctionToApply.Sigmoid);
        var raw = pipeline.Classify(texts, topK: null, FunctionToApply.None);
        foreach (var (s, r) in sigmoid[1].OrderBy(s => s.Label).Zip(raw[1].OrderBy(r => r.Label)))
            Assert.Equal(1 / (1 + Math.Exp(-r.Score)), s.Score, 1e-6);
        var neutral = pipeline.LabelScores(texts, labels[1]);
        Assert.Equal(logits[1, 1].item<float>(), neutral[1], 1e-4);
        Assert.Throws<ArgumentException>(() => pipeline.LabelScores(texts, "NOT_A_LABEL"));
    }

    [Theory, MemberData(nameof(Folders))]
    public void LongTextsAreTruncatedToTheModelsPositionsAndBatchesDoNotChangeScores(string folder)
    {
        var (pipeline, _, _, _) = Setup(folder, 3);
        var rng = new Random(5);
        string RandomText(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => rng.Next(3, 250)));
        var texts = Enumerable.Range(0, 9).Select(i => RandomText(1 + i * 7)).Append(RandomText(5000)).ToArray();
        Assert.Equal(pipeline.Model.MaxTokens, pipeline.MaxTokens);
        var batched = pipeline.Logits(texts);
        var (single, _, _, _) = Setup(folder, 1);
        var oneByOne = texts.Select(t => single.Logits([t])[0]).ToArray();
        for (int i = 0; i < texts.Length; i++)
            for (int j = 0; j < batched[i].Length; j++) Assert.Equal(oneByOne[i][j], batched[i][j], 1e-4);
        var truncated = string.Join(' ', texts[^1].Split(' ').Take(pipeline.MaxTokens - 2));
        Assert.Equal(single.Logits([truncated])[0], batched[^1], new FloatTolerance(1e-4f));
    }

    [Theory, MemberData(nameof(Folders))]
    public void BadInputGivesScoresOrClearErrors(string folder)
    {
        var (pipeline, _, _, _) = Setup(folder, 4);
        var e = Assert.Throws<ArgumentNullException>(() => pipeline.Logits(["1 2", null!]));
        Assert.Contains("texts[1]", e.Message);
        var empty = pipeline.Logits([""]);
        Assert.All(empty[0], x => Assert.True(float.IsFinite(x)));
        Assert.Empty(pipeline.Logits([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Classify(["5"], topK: 0));
    }

    sealed class FloatTolerance(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(float x) => 0;
    }

    /// <summary>Reads space-separated ids; adds bos/eos; truncates the content to keep them.</summary>
    sealed class IdTextTokenizer(int bos, int eos, int pad) : IHfTokenizer
    {
        public int PadTokenId => pad;
        public int EosTokenId => eos;
        public int? BosTokenId => bos;
        public int UnkTokenId => 3;
        public int VocabSize => 300;
        public int ModelMaxLength => 512;
        public int NumSpecialTokensToAdd => 2;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, int? maxLength = null)
        {
            var content = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            if (maxLength is int m) content = content.Take(m - 2).ToList();
            return [bos, .. content, eos];
        }
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => string.Join(' ', ids);
        public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null, bool padding = true) => throw new NotSupportedException();
        public IReadOnlyList<string> DecodeBatch(Tensor ids, bool skipSpecialTokens = true) => throw new NotSupportedException();
        public bool IsSpecialToken(int id) => id == bos || id == eos || id == pad;
        public string IdToToken(int id) => id.ToString();
        public int? TokenToId(string token) => int.Parse(token);
    }
}
