#!/usr/bin/env dotnet
#:project ../lib/RlhfKit/RlhfKit.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 03-ppo-training.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run scripts/notebook-scripts.cs
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/03-ppo-training.cs
using RlhfKit.Alignment;
using RlhfKit.Charts;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Hub;
using RlhfKit.Models;
using RlhfKit.Notebooks;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using Microsoft.Data.Analysis;
using XPlot.Plotly;
using static RlhfKit.Notebooks.ConsoleNotebook;

// # 03 · Aligning the summarizer with PPO
//
// Each **PPO step** does what the original workshop's loop did:
//
// 1. **rollout**: the policy summarizes a batch of articles, sampling token by token;
// 2. **reward**: the classifiers score each summary (1 × acceptability + 0.5 × neutral);
// 3. **KL penalty**: each token also costs `β × (log p_policy - log p_reference)`, so the policy stays close to the
//    reference; β (the KL coefficient) adapts to keep the KL near a target;
// 4. **PPO update**: a value head estimates how good each partial summary is; the advantages (reward beyond that
//    estimate) push the probabilities of the sampled tokens up or down, *clipped* so one batch cannot move the policy
//    too far. This repeats for a few epochs over the batch in minibatches.
//
// Statistics are logged at every step, and a checkpoint is written every few steps so that a stopped run resumes.

// ## Load the kit
//
// `scripts/setup.sh` (run once after cloning) publishes the kit to `artifacts/kit`. The path below is relative to this
// notebook's folder, which is where VS Code starts the notebook's kernel. The last three lines tell the notebook how to
// draw the kit's charts, tables and progress bars (offline: plotly.js comes from `tools/plotly`, not from the internet).

// The notebook loads the kit with #r "../artifacts/kit/RlhfKit.dll"; here the #:project line at the top does.
RlhfKit.Native.TorchRuntime.EnsureLoaded();

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

// ## Configure the run
//
// The profile holds TRL's PPO settings (the workshop: batch 8, learning rate 2e-5, 4 gradient accumulation steps; the
// offline profile: larger batches and a higher rate for its tiny model) and `MaxSteps`, which keeps the offline run to a
// few minutes. Change anything with `with`, e.g. the commented line. The run lives in a fixed folder that lesson 04
// reads; running this notebook again **resumes** from its last checkpoint (`Lesson.StartOver(runFolder)` deletes it).

// config = config with { MaxSteps = 60, Ppo = config.Ppo with { LearningRate = 1e-4, InitKlCoef = 0.2 } };
var runFolder = Lesson.RunFolder(config);
var ppo = config.Ppo;
display(Tables.Of(new[] { new { ppo.BatchSize, ppo.MiniBatchSize, ppo.PpoEpochs, ppo.LearningRate, ppo.InitKlCoef, ppo.Target, ppo.Cliprange, max_steps = config.MaxSteps, run_folder = runFolder } }));

// ## Load the run
//
// `AlignmentRun.CreateAsync` loads the policy (plus a fresh value head), the frozen reference, the reward classifiers
// and the articles, and resumes from `checkpoints/latest.json` if the folder has one. It warns if the rollout settings
// would bias the KL estimate (see lesson 02).

var run = await AlignmentRun.CreateAsync(config, runFolder, status: Console.WriteLine);
run.Warn = Console.WriteLine;
// run.Reward.Add("length", text => -Math.Abs(text.Split(' ').Length - 20) / 10f, weight: 0.2);   // your own component (lesson 01)
display($"{run.TrainData.Count} training articles; {run.StepsPerEpoch} steps per epoch; this run: {run.TotalSteps} steps, {run.Trainer.StepCount} done already");

// ## Train
//
// The progress bar and the chart update after every step: **reward** (left axis) should rise, **KL** (right axis) should
// stay small and positive. A KL that climbs fast means the policy is drifting from fluent text; the run stops itself if
// it stays above `KlStopThreshold`. Interrupting the kernel stops training; the checkpoints written so far are kept, and
// running this cell again continues.

var bar = display(new ProgressView(null));
var chart = display(RunCharts.RewardAndKl(run.Log));
Action<RunProgress> showProgress = p => bar.Update(new ProgressView(p));
Action<StepLog> showChart = _ => chart.Update(new LiveChart(RunCharts.RewardAndKl(run.Log)));
run.Progress += showProgress;
run.StepCompleted += showChart;
run.Train();
run.Progress -= showProgress;
run.StepCompleted -= showChart;
chart.Update(RunCharts.RewardAndKl(run.Log));

// ## What the statistics say
//
// One row per step, TRL's names: `env/reward_mean` is the mean reward of the batch, `objective/kl` the KL to the
// reference, `objective/kl_coef` the current β, `ppo/policy/clipfrac` the share of tokens whose update was clipped,
// `ppo/loss/value` how well the value head predicts returns.

var stats = run.StatisticsFrame();
string[] keep = ["step", "env/reward_mean", "objective/kl", "objective/kl_coef", "ppo/policy/clipfrac", "ppo/loss/value"];
display(new DataFrame(keep.Where(k => stats.Columns.IndexOf(k) >= 0).Select(k => stats[k])));

// Each reward component on its own: did the summaries become more neutral, more grammatical, or both?

display(RunCharts.RewardComponents(run.Log));

// A sample from the last step (the policy is sampling, so single samples vary a lot; lesson 04 compares properly):

display(run.Log.Count > 0 ? $"ARTICLE: {run.Log[^1].SampleQuery}\n\nSUMMARY: {run.Log[^1].SampleResponse}" : "no steps yet");

// ## Checkpoint
//
// `Checkpoint()` writes the policy, its value head, the optimizer's state and the trainer's state (step, KL coefficient,
// data position) to `checkpoints/step-NNNNNN`, then points `checkpoints/latest.json` at it; a crash mid-write leaves the
// previous checkpoint intact. `Train` already wrote one at the end; calling it again is harmless. `RunOutputs.Save`
// writes the charts as HTML pages that open offline.

run.Checkpoint();
var saved = RunOutputs.Save(runFolder, run.Log, evaluation: null);
display(Directory.GetDirectories(Path.Combine(runFolder, "checkpoints")).Concat(saved).Select(f => Path.GetRelativePath(runFolder, f)));

// Next: **04-evaluation** compares this checkpoint with the base model on held-out articles.
