using RlhfKit.Alignment;
using RlhfKit.Charts;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Notebooks;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tests.Charts;
using RlhfKit.Tokenization;
using static RlhfKit.Tests.Evaluation.EvaluationTestData;

namespace RlhfKit.Tests.Evaluation;

/// <summary>The baselines and analyses beside PPO: best-of-n sampling (TRL's BestOfNSampler), the words that changed,
/// methods compared on the same articles, and the run without a KL penalty.</summary>
public class AlignmentBaselinesTests
{
    static readonly string[] Texts =
    [
        "the council approved the new budget on tuesday", "the river burst its banks and flooded the town",
        "the museum opened a new gallery", "the station reopened after repairs",
    ];

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(4, 0.6362943611198906)]
    [InlineData(16, 1.8350887222397811)]
    public void TheAnalyticKlOfBestOfNIsLogNMinusNMinusOneOverN(int n, double expected) =>
        Assert.Equal(expected, BestOfNSampler.AnalyticKl(n), 12);

    [Fact]
    public void BestOfNKeepsTheHighestScoringOfItsSamplesAndOneSampleIsPlainSampling()
    {
        var tok = Tokenizer();
        var model = Model(5, tok.VocabSize);
        model.eval();
        var reward = new CompositeReward().Add("length", t => t.Length);
        var queries = PromptedBatch.Queries(Texts, tok, 32);
        var generation = GenerationConfig.PpoRollout(8);

        var best = new BestOfNSampler(model, tok, reward, sampleSize: 4, generation).Sample(queries, seed: 3, batchSize: 2);
        Assert.Equal(Texts.Length, best.Count);
        foreach (var b in best)
        {
            Assert.Equal(4, b.Candidates.Count);
            Assert.Equal(b.CandidateScores.Max(), b.Score);
            Assert.Equal(b.Text, b.Candidates[b.CandidateScores.ToList().IndexOf(b.Score)]); // ties go to the first
            Assert.Equal(b.Text.Length, b.Score);
        }
        Assert.Contains(best, b => b.Candidates.Distinct().Count() > 1); // the samples do differ
        // The same seed and batch size give the same choices.
        var again = new BestOfNSampler(model, tok, reward, sampleSize: 4, generation).Sample(queries, seed: 3, batchSize: 2);
        Assert.Equal(best.Select(b => b.Text), again.Select(b => b.Text));

        // n = 1 is ordinary sampling with the same seed.
        var one = new BestOfNSampler(model, tok, reward, sampleSize: 1, generation).Sample(queries, seed: 9, batchSize: 4);
        using var plain = Seq2SeqGenerator.Generate(model, queries, generation with { Seed = 9 });
        Assert.Equal(plain.ResponseIds(), one.Select(b => b.Ids));
    }

    [Fact]
    public void BestOfNRefusesGreedyDecoding()
    {
        var tok = Tokenizer();
        var e = Assert.Throws<ArgumentException>(() => new BestOfNSampler(Model(5, tok.VocabSize), tok, new CompositeReward().Add("x", _ => 0f), 4, new GenerationConfig()));
        Assert.Contains("DoSample", e.Message);
    }

    [Fact]
    public void ChangedWordsRanksRisesAndFallsPerThousandWords()
    {
        string[] before = ["the plan was scrapped", "the plan was scrapped again", "a shocking plan", "the talks were scrapped"];
        string[] after = ["the plan was announced", "the plan was announced today", "a new plan", "the talks were announced"];
        var changes = ChangedWords.Compute(before, after, top: 3, minCount: 2);
        Assert.Equal("announced", changes[0].Word);
        Assert.Equal((0, 3), (changes[0].Before, changes[0].After));
        Assert.Contains(changes, c => c.Word == "scrapped" && c.Change < 0);
        Assert.DoesNotContain(changes, c => c.Word == "shocking"); // seen once: under minCount
        var total = before.Sum(t => t.Split(' ').Length);
        var scrapped = changes.Single(c => c.Word == "scrapped");
        Assert.Equal(1000.0 * 3 / total, scrapped.BeforePer1000, 9);
        Assert.True(changes.TakeWhile(c => c.Change > 0).Count() >= 1 && changes.SkipWhile(c => c.Change > 0).All(c => c.Change < 0)); // rises, then falls
        Assert.Equal(["word", "base_count", "aligned_count", "base_per_1000_words", "aligned_per_1000_words", "change"],
            ChangedWords.ToDataFrame(changes).Columns.Select(c => c.Name));
    }

    [Fact]
    public void ChangedWordsLeavesFunctionWordsOutOfTheRankingUnlessAskedToRankEveryWord()
    {
        string[] before = ["the plan was scrapped in the end", "the plan was scrapped in May", "the vote was scrapped"];
        string[] after = ["a plan was announced", "a plan was announced today", "a vote was announced"];
        var content = ChangedWords.Compute(before, after, top: 5, minCount: 2);
        Assert.DoesNotContain(content, c => c.Word is "the" or "a" or "in");
        Assert.Equal(["announced", "scrapped"], content.Where(c => c.Word is "announced" or "scrapped").Select(c => c.Word));
        var every = ChangedWords.Compute(before, after, top: 5, minCount: 2, ignore: new HashSet<string>());
        Assert.Contains(every, c => c.Word == "a" && c.Change > 0);
        Assert.Contains(every, c => c.Word == "the" && c.Change < 0);
        // The totals still count the function words: "scrapped" is 3 of before's 17 words.
        Assert.Equal(1000.0 * 3 / 17, content.Single(c => c.Word == "scrapped").BeforePer1000, 9);
    }

    [Fact]
    public void MethodsAreComparedOnTheSameArticlesWithTheBaseFirst()
    {
        var articles = Articles(6);
        var reward = new CompositeReward().Add("length", t => t.Length);
        var baseTexts = articles.Select((a, i) => new string('b', 10 + i)).ToList();
        EvaluationResult Eval(int extra, double kl) => PolicyEvaluator.EvaluateSummaries(articles, baseTexts,
            baseTexts.Select(t => t + new string('x', extra)).ToList(), reward, Enumerable.Repeat(kl, articles.Count).ToList());
        var frame = MethodComparison.ToDataFrame([new MethodResult("best-of-4", Eval(2, 0.64)), new MethodResult("ppo", Eval(5, 3.0))]);
        // base, best-of-4, ppo, each with total, length and kl.
        Assert.Equal(9, frame.Rows.Count);
        Assert.Equal("base", frame["method"][0]);
        Assert.Equal(0.0, (double)frame["gain"][0]!);
        var ppoTotal = Enumerable.Range(0, 9).Single(i => (string)frame["method"][i] == "ppo" && (string)frame["metric"][i] == "total");
        Assert.Equal(5.0, (double)frame["gain"][ppoTotal]!, 9);
        var bonKl = Enumerable.Range(0, 9).Single(i => (string)frame["method"][i] == "best-of-4" && (string)frame["metric"][i] == "kl");
        Assert.Equal(0.64, (double)frame["mean"][bonKl]!, 9);
        var e = Assert.Throws<ArgumentException>(() => MethodComparison.ToDataFrame([new MethodResult("a", Eval(1, 0)),
            new MethodResult("b", PolicyEvaluator.EvaluateSummaries(articles.Take(3).ToList(), baseTexts.Take(3).ToList(), baseTexts.Take(3).ToList(), reward, [0, 0, 0]))]));
        Assert.Contains("same articles", e.Message);
    }

    [Fact]
    public void AVariantRunLivesBesideTheLessonRunAndMustBeOneWord()
    {
        var config = Profiles.Offline();
        Assert.Equal(Lesson.RunFolder(config) + "-no-kl", Lesson.RunFolder(config, "no-kl"));
        var e = Assert.Throws<ArgumentException>(() => Lesson.RunFolder(config, "no kl"));
        Assert.Contains("'no kl'", e.Message);
        Assert.Throws<ArgumentException>(() => Lesson.RunFolder(config, "../elsewhere"));
    }

    [Fact]
    public void EvalSamplesMustBeAtLeastOneAndNeedSampledDecoding()
    {
        Assert.Equal(4, Profiles.Offline().EvalSamples);
        Assert.Equal(1, Profiles.Workshop.EvalSamples);
        var none = Assert.Throws<ArgumentException>(() => (Profiles.Offline() with { EvalSamples = 0 }).Validate());
        Assert.Contains("EvalSamples", none.Message);
        var greedy = Assert.Throws<ArgumentException>(() => (Profiles.Offline() with { Generation = Profiles.Offline().Generation with { DoSample = false } }).Validate());
        Assert.Contains("EvalSamples is 4", greedy.Message);
        (Profiles.Offline() with { EvalSamples = 1, Generation = Profiles.Offline().Generation with { DoSample = false } }).Validate();
    }

    [Fact]
    public void TheRunWithoutAKlPenaltyHasACoefficientOfZeroThatNeverAdapts()
    {
        var config = Profiles.Offline().WithoutKlPenalty();
        Assert.Equal(0, config.Ppo.InitKlCoef);
        Assert.False(config.Ppo.AdaptKlCtrl);
        Assert.True(double.IsPositiveInfinity(config.KlStopThreshold));
        config.Validate();
        var controller = config.Ppo.CreateKlController();
        controller.Update(50, config.Ppo.BatchSize);
        Assert.Equal(0, controller.Value);
    }
}

[Collection("Charts")]
public sealed class BaselineChartTests
{
    [Fact]
    public void GainsByMethodDrawsOneBarTracePerMethodWithErrorBars()
    {
        var methods = new List<(string, IReadOnlyList<(string, double, double, double)>)>
        {
            ("best-of-4", [("total", 0.3, 0.1, 0.5), ("kl", 0.64, 0.64, 0.64)]),
            ("ppo", [("total", 0.8, 0.4, 1.2), ("kl", 4.0, 3.0, 5.0)]),
        };
        var path = Path.Combine(ChartTestKit.TempDir().FullName, "methods.html");
        ChartHtml.Save(WorkshopCharts.GainsByMethod(methods), path);
        var page = HeadlessChromium.DumpDom(path);
        Assert.Equal(2, page.BarTraces);
        Assert.Equal(4, page.BarPoints);
        Assert.Equal(2, page.LegendEntries);
    }

    [Fact]
    public void CompareRunsDrawsOneLinePerRunWithAPointPerStep()
    {
        static IReadOnlyList<StepLog> Log(params double[] kl) => kl.Select((v, i) =>
            new StepLog(i, 0, i, new Dictionary<string, double> { ["objective/kl"] = v }, "", "")).ToList();
        var path = Path.Combine(ChartTestKit.TempDir().FullName, "runs.html");
        ChartHtml.Save(RunCharts.CompareRuns("objective/kl", [("with the KL penalty", Log(0.1, 0.5, 0.9)), ("without it", Log(0.2, 2.0, 7.5, 12.0))]), path);
        var page = HeadlessChromium.DumpDom(path);
        Assert.Equal(2, page.LinePaths);
        Assert.Equal(2, page.LegendEntries);
    }

    [Fact]
    public void WordChangesDrawsOneHorizontalBarPerWord()
    {
        var path = Path.Combine(ChartTestKit.TempDir().FullName, "words.html");
        ChartHtml.Save(WorkshopCharts.WordChanges([("announced", 2.5), ("opened", 1.0), ("scrapped", -3.0)]), path);
        var page = HeadlessChromium.DumpDom(path);
        Assert.Equal(1, page.BarTraces);
        Assert.Equal(3, page.BarPoints);
    }
}
