#!/usr/bin/env dotnet
#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 02-policy-and-data.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run --project tools/NotebookScripts
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/02-policy-and-data.cs
using RlhfKit.Alignment;
using RlhfKit.Charts;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Notebooks;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using Microsoft.Data.Analysis;
using XPlot.Plotly;
using TorchSharp;
using static RlhfKit.Notebooks.ConsoleNotebook;

// # 02 · The policy, the articles, and why generation settings matter
//
// In RL words the summarizer is the **policy**: given a prompt (`summarize: <article>`) it produces a summary one
// token at a time, and each token is an *action*. PPO changes the policy's weights. A frozen copy of the starting
// policy, the **reference**, stays behind: the **KL divergence** between the two measures how far training has moved
// the policy, and PPO pays a penalty for it so the summaries stay fluent.

// ## Load the kit
//
// `scripts/setup.sh` (run once after cloning) publishes the kit to `artifacts/kit`. The path below is relative to this
// notebook's folder, which is where VS Code starts the notebook's kernel. `Notebook.Start()` loads LibTorch and tells the
// notebook how to draw the kit's charts, tables and progress bars (offline: plotly.js comes from `tools/plotly`, not
// from the internet).

// The notebook loads the kit with #r "../artifacts/kit/RlhfKit.Workshop.dll"; here the #:project line at the top does.
Notebook.Start();

// ## Choose the models and the device
//
// This is the only cell that differs between a quick offline session and the real workshop. `offline` runs anywhere
// without network on the kit's own small models; `workshop` uses the original workshop's FLAN-T5-small and its two
// RoBERTa reward models (downloaded once into the Hugging Face cache); `base` uses FLAN-T5-base. Every other cell stays
// the same.

// "offline": small models built from the kit itself, no network (the default; minutes on a laptop).
// "workshop": FLAN-T5-small + the original RoBERTa reward models; "base": FLAN-T5-base (a GPU helps).
var profile = "offline";
var device = "cpu";   // "cuda" (or "cuda:1") with a CUDA build of the kit: see 00-environment
var config = Lesson.Config(profile, device);
display(Lesson.Describe(config));

// ## Load the policy and its tokenizer
//
// `Pretrained.ResolveAsync` returns a local folder as-is and downloads a Hub id (such as `google/flan-t5-small`) into
// the Hugging Face cache the first time.

var policyFiles = await ProfileLoader.PolicyAsync(config);   // config.json, weights and the tokenizer's files
var torchDevice = ProfileLoader.Device(config.Device);
var policy = AutoModel.T5FromPretrained(policyFiles.Folder, torchDevice);
var tokenizer = policyFiles.Tokenizer;
display($"{config.Policy}: {policy.parameters().Sum(p => p.numel()) / 1e6:F1}M parameters, {tokenizer.VocabSize} tokens in the vocabulary");

// ## The articles
//
// The offline profile uses the kit's own news articles (`data/news`); the workshop profiles use the Hub dataset
// `argilla/news-summary`. As in the original workshop, we look at articles of 200-450 characters.

var articles = await Lesson.LoadArticlesAsync(config, "test");
var sample = articles.FilterByLength(200, 450).Take(3);
display(Tables.Of(sample.Select(a => new { a.Id, characters = a.Text.Length, a.Text })));

// ## From article to tokens
//
// The prompt is `summarize: ` + the article, cut to `MaxPromptTokens` tokens. T5 marks the end of a text with the token
// `</s>` (id 1) and keeps padding on the right.

var prompt = NewsDataset.Prompt(sample[0].Text);
var promptIds = tokenizer.Encode(prompt, addSpecialTokens: true, maxLength: config.MaxPromptTokens);
display($"{promptIds.Count} tokens. The first 12: [{string.Join(", ", promptIds.Take(12))}] = \"{tokenizer.Decode(promptIds.Take(12))}\"; the last: {promptIds[^1]}");

// ## Summarize
//
// A small helper: encode the prompts, generate, decode. `GenerationConfig` holds the decoding settings, named as in
// Hugging Face (`MaxNewTokens`, `DoSample`, `TopK`, `TopP`, `MinNewTokens`, `Seed`).

List<string> Summarize(IReadOnlyList<NewsArticle> items, GenerationConfig generation)
{
    var queries = PromptedBatch.Queries(items.Select(a => a.Text), tokenizer, config.MaxPromptTokens);  // "summarize: " + text
    using var output = Seq2SeqGenerator.Generate(policy, queries, generation, torchDevice);
    return tokenizer.Decode(output.ResponseIds());                                                     // special tokens skipped
}
var greedy = new GenerationConfig { MaxNewTokens = config.Generation.MaxNewTokens };
var greedySummaries = Summarize(sample, greedy);
display(Tables.Of(sample.Zip(greedySummaries, (a, s) => new { article = a.Text, summary = s })));

// ## Why generation settings matter for PPO
//
// PPO's KL penalty is estimated from the summaries the policy *samples*: for each sampled token,
// `log p_policy(token) - log p_reference(token)`. That average is a fair estimate of the KL only when the tokens are
// really drawn from the policy's own distribution. Anything that reshapes the distribution (greedy or beam search,
// top-k or top-p filtering, a temperature, forbidding `</s>` until a minimum length) makes the estimate biased; with a
// minimum length it can even turn **negative**, and PPO then *earns* reward by drifting away.
//
// The original workshop generated rollouts with `min_length=64, num_beams=5, no_repeat_ngram_size=3, do_sample=True`
// (and Hugging Face's default `top_k=50`). The kit warns about the parts it supports (beams and n-gram blocking are not
// in the kit; they bias the estimate too). The kit's rollouts follow TRL's advice: pure sampling, no minimum length.

var original = new GenerationConfig { DoSample = true, MinNewTokens = 64, MaxNewTokens = 96, TopK = 50, Seed = 1 };
var rollout = config.Generation with { Seed = 1 };
(string Name, GenerationConfig Settings)[] settings = [("original workshop", original), ("greedy", greedy), ("kit rollout (PPO)", rollout)];
display(Tables.Of(settings.Select(s => new
{
    settings = s.Name,
    kl_warnings = s.Settings.KlBiasWarnings() is { Count: > 0 } w ? string.Join("; ", w) : "none: unbiased KL estimate",
})));

// The same articles under each setting. The minimum length forces the model to keep writing after it would have
// stopped; sampling gives more varied (sometimes worse) summaries, which is exactly what PPO needs to explore.

var originalSummaries = Summarize(sample, original);
var rolloutSummaries = Summarize(sample, rollout);
display(Tables.Of(sample.Select((a, i) => new { article = a.Text, greedy = greedySummaries[i], original_workshop = originalSummaries[i], kit_rollout = rolloutSummaries[i] })));

// ## The starting point: reward before PPO, KL = 0
//
// Before training, the policy *is* the reference, so the KL between them is exactly 0 and its rewards are the baseline
// PPO has to beat. `PolicyEvaluator` compares two policies on the same articles with the same seeded sampling; here both
// are the untrained policy, so every difference is 0. Lesson 04 runs the same comparison after training.

var reward = await Lesson.RewardAsync(config);
var evaluator = new PolicyEvaluator(policy, policy, tokenizer, reward) { MaxInputLength = config.MaxPromptTokens };
var startingPoint = evaluator.Evaluate(sample.Select(a => new Article(a.Id, a.Text)).ToList(), config.Generation with { Seed = 1234 });
display(startingPoint.SummaryDataFrame());

// Next: **03-ppo-training** raises these rewards while keeping the KL small.
