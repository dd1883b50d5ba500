#!/usr/bin/env dotnet
#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 04-evaluation.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run --project tools/NotebookScripts
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/04-evaluation.cs
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

// # 04 · Did alignment work?
//
// Training rewards are noisy and measured on the articles PPO trained on. Here both models summarize **held-out**
// articles with the **same seeded sampling**:
//
// * **base**: the frozen starting point (the reference);
// * **aligned**: the policy from the latest checkpoint.
//
// Every reward component scores both summaries of each article, so we look at *paired* differences (aligned − base)
// with 95% confidence intervals. The **KL** column (summed over a summary's tokens) shows how far the aligned policy
// moved: the base model's KL to itself is 0.

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

// ## Which run?
//
// By default the folder lesson 03 trained into. Any run folder with a checkpoint works, including those written by the
// command line (`dotnet run --project lib/RlhfKit.Cli -c Release -- align`), e.g.
// `Path.Combine(Lesson.RunsRoot(), "offline-20250101-120000")`. Its **latest** checkpoint is evaluated, so you can run
// this notebook again after training longer.

var runFolder = Lesson.RunFolder(config);
var whichRun = Lesson.HasCheckpoint(runFolder)
    ? $"Evaluating the latest checkpoint in {runFolder}."
    : $"No checkpoint in {runFolder} yet: run 03-ppo-training first. The next cell trains a short run ({config.MaxSteps} steps) so that this notebook works on its own.";
display(whichRun);

var run = await AlignmentRun.CreateAsync(config, runFolder, status: Console.WriteLine);
if (run.Trainer.StepCount == 0)
{
    var bar = display(new ProgressView(null));
    run.Progress += p => bar.Update(new ProgressView(p));
    run.Train();
}
display($"Aligned policy: {run.Trainer.StepCount} PPO steps. Held-out articles: {run.EvalData.Count}.");

// ## How training went
//
// The reward and KL per step, as logged in `stats.jsonl` of the run.

display(RunCharts.RewardAndKl(run.Log));

// ## Base against aligned
//
// `Evaluate` summarizes every held-out article with both models, scores both summaries and computes the sequence KL.
// In the table: the means of both models, the mean paired gain with its 95% interval (an interval that excludes 0 is a
// gain you can trust with this many articles), and the gain relative to the base mean. `tokens` and `words` show whether
// the summaries got shorter, a common way to please the classifiers.
//
// A summary sampled at temperature 1 is one draw of many: the same article can come out fluent or garbled. So each
// model writes `config.EvalSamples` summaries of every article (4 on the offline profile), each article's gain is the
// mean over its samples, and the interval is taken over the articles (`n` counts articles, not summaries). With one
// draw per article, luck moves the result: in one offline run of the kit the acceptability gain read anywhere from +0.02
// to +0.51 depending only on the evaluation's seed. Averaged over 4 draws, the intervals are about half as wide.

var evaluation = run.Evaluate(log: Console.WriteLine);
display(evaluation.SummaryDataFrame());

display(RunCharts.Gains(evaluation));

// The distribution of the total reward per summary, before and after PPO. A shift to the right is the alignment
// effect; a much narrower distribution can mean the policy found one kind of summary the judges like (mode collapse).

display(RunCharts.TotalBeforeAfter(evaluation));

// ## Summaries side by side
//
// Sorted by the gain in total reward. Read them: are the aligned summaries really more neutral and grammatical, or did
// the policy find a shortcut the classifiers reward (reward hacking)?

var rows = evaluation.ToDataFrame().OrderByDescending("delta_total");
display(new DataFrame(rows["article"], rows["base_summary"], rows["aligned_summary"], rows["delta_total"], rows["aligned_kl"]).Head(6));

// ## The words that changed
//
// Which words does the aligned policy write more often, and which less, than the base? Counted over all summaries of
// each side and compared per 1,000 words, so that shorter summaries do not look like different ones. With the neutral
// reward you should see loaded words ("shocking", "furious", "brilliant") fall and plain reporting verbs rise.

var changes = ChangedWords.Compute(evaluation.Rows.Select(r => r.BaseSummary), evaluation.Rows.Select(r => r.AlignedSummary), top: 8, minCount: 2);
display(ChangedWords.ToDataFrame(changes));

display(RunCharts.ChangedWords(changes));

// ## Best-of-n: the baseline every alignment paper reports
//
// Another way to get better summaries with no training at all: sample *n* summaries from the base policy and keep the
// one the reward likes best (TRL's `BestOfNSampler`). Its KL to the base has a closed form, `log n − (n − 1)/n` nats
// (0.64 for n = 4, 1.83 for n = 16), so it buys reward with a known, small drift. The catch is the price: best-of-n pays
// *n* generations and *n* reward evaluations **every time it is used**, while PPO pays once, in training, and then
// samples once. The table compares the three on the same held-out articles and the same base summaries: each method's
// mean, and its gain over the base with its 95% interval.

var bestOf4 = run.EvaluateBestOfN(evaluation, n: 4);
var bestOf16 = run.EvaluateBestOfN(evaluation, n: 16);
MethodResult[] methods = [new("best-of-4", bestOf4), new("best-of-16", bestOf16), new("PPO", evaluation)];
display(MethodComparison.ToDataFrame(methods));

display(RunCharts.GainsByMethod(methods));

// ## Why PPO needs its KL penalty
//
// The reward models are judges with blind spots, and the policy is rewarded for whatever they score highly, whether or
// not a person would call it a better summary. The per-token KL penalty is the leash: every token that the policy makes
// more likely than the reference costs `β × (log p_policy − log p_reference)`. To see what the leash does, train the same
// run again with β = 0 and no adaptive controller (`config.WithoutKlPenalty()`; on the command line `align --no-kl`), in
// a folder of its own, for the same number of steps, and put the two side by side. First the training curves: the KL of
// the run without the penalty should climb higher, since nothing pulls it back. Whether its reward ends higher is another
// matter: in the kit's offline run (README) the unleashed policy drifted further from the reference and earned less,
// because the penalty also keeps PPO's noisy updates from wandering.

var noKlConfig = config.WithoutKlPenalty();                     // β = 0, no adaptive controller: the reward is all that counts
var noKlRun = await AlignmentRun.CreateAsync(noKlConfig, Lesson.RunFolder(noKlConfig, "no-kl"), status: Console.WriteLine);
var noKlBar = display(new ProgressView(null));
noKlRun.Progress += p => noKlBar.Update(new ProgressView(p));
noKlRun.Train();                                                 // resumes from its own checkpoint when run again
(string, IReadOnlyList<StepLog>)[] runs = [("with the KL penalty", run.Log), ("without it", noKlRun.Log)];
display(RunCharts.CompareRuns("env/reward_mean", runs));

display(RunCharts.CompareRuns("objective/kl", runs));

// A higher reward, if it came, would not yet be a better policy. Evaluate the KL-free policy on the same held-out
// articles (the same seeds give the same base summaries, so every gain is paired) and add two measures of fluency that
// **no reward model sees**:
//
// * `ref_loglik`: the reference model's mean log-probability per token of the summary. Text the base summarizer would
//   never write (garbled words, runs that wander off the article) is improbable under it, so this falls when the policy
//   drifts.
// * `distinct2`: the share of word pairs in a summary that are not repeats. A summary that loops ("in harrowing in
//   harrowing") scores below 1.
//
// Each row of the table is a method and a metric: its mean, and its gain over the base with a 95% interval.

var noKl = noKlRun.Evaluate(log: Console.WriteLine);
MethodResult[] klOrNot = [new("PPO", evaluation), new("PPO without KL", noKl)];
display(MethodComparison.ToDataFrame(klOrNot));

display(RunCharts.GainsByMethod(klOrNot));

// Read the summaries themselves: the same articles, the policy trained with the penalty and the one trained without.

display(Tables.Of(evaluation.Rows.Zip(noKl.Rows, (a, b) => new { article = a.Article, with_kl = a.AlignedSummary, without_kl = b.AlignedSummary,
    reward_with = a.AlignedTotal, reward_without = b.AlignedTotal, ref_loglik_with = a.AlignedRefLogLik, ref_loglik_without = b.AlignedRefLogLik }).Take(6)));

// ## Save the results
//
// `RunOutputs.Save` writes `evaluation.csv` (one row per article and sample), `evaluation_summary.csv`, a markdown `report.md` and
// the charts (HTML that opens offline) into the run folder.

var written = RunOutputs.Save(runFolder, run.Log, evaluation);
display(written.Select(f => Path.GetRelativePath(runFolder, f)));

// ## Where to go from here
//
// * Train longer (lesson 03: `config with { MaxSteps = ... }`) and evaluate again: does the gain grow, does the KL?
// * Add your own reward component (lesson 01) and watch whether the policy exploits it.
// * Switch the profile to `workshop` to align the real FLAN-T5-small with the original reward models (a GPU helps):
//   the original workshop reported neutral 1.3065 → 1.3233 and acceptability 0.6902 → 0.7584 after 250 steps.
