#!/usr/bin/env dotnet
#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 03-ppo-training.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run --project tools/NotebookScripts
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/03-ppo-training.cs
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

// ## Configure the run
//
// The profile holds TRL's PPO settings (the workshop: batch 8, learning rate 2e-5, 4 gradient accumulation steps; the
// offline profile: larger batches and a higher rate for its tiny model) and `MaxSteps`, which keeps the offline run to a
// few minutes. The offline profile also turns on TRL's `use_score_scaling` and `use_score_norm`: PPO sees each score
// centred and divided by the running mean and spread of all scores so far. The reward is still 1 × acceptability + 0.5 ×
// neutral; but its raw neutral logit varies about twice as much as the acceptability logit, and without the scaling PPO
// climbed the neutral reward alone while acceptability fell. Change anything with `with`, e.g. the commented line. The
// run lives in a fixed folder that lesson 04 reads; running this notebook again **resumes** from its last checkpoint
// (`Lesson.StartOver(runFolder)` deletes it).

// config = config with { MaxSteps = 60, Ppo = config.Ppo with { LearningRate = 1e-4, InitKlCoef = 0.2 } };
var runFolder = Lesson.RunFolder(config);
var ppo = config.Ppo;
display(Tables.Of(new[] { new { ppo.BatchSize, ppo.MiniBatchSize, ppo.PpoEpochs, ppo.LearningRate, ppo.InitKlCoef, ppo.Target, ppo.Cliprange, ppo.UseScoreScaling, ppo.UseScoreNorm, max_steps = config.MaxSteps, run_folder = runFolder } }));

// ## Load the run
//
// `AlignmentRun.CreateAsync` loads the policy (plus a fresh value head), the frozen reference, the reward classifiers
// and the articles, and resumes from `checkpoints/latest.json` if the folder has one. It warns if the rollout settings
// would bias the KL estimate (see lesson 02).

var run = await AlignmentRun.CreateAsync(config, runFolder, status: Console.WriteLine);
run.Warn = Console.WriteLine;
// run.Reward.Add("length", text => -Math.Abs(text.Split(' ').Length - 20) / 10f, weight: 0.2);   // your own component (lesson 01)
display($"{run.TrainData.Count} training articles; {run.StepsPerEpoch} steps per epoch; this run: {run.TotalSteps} steps, {run.Trainer.StepCount} done already");

// ## Train: the loop
//
// This is the original workshop's loop, in TRL's order and names. Each pass takes one batch of articles and:
//
// 1. **generates** a summary of each with the current policy (`ppo_trainer.generate`: pure sampling, so the KL estimate
//    stays unbiased);
// 2. **decodes** the summaries to text, which is what the reward models read;
// 3. **scores** them: `rewards.Total` is 1 × acceptability + 0.5 × neutral, and each component is kept for the log;
// 4. **steps**: `Trainer.Step` is TRL's `ppo_trainer.step(queries, responses, rewards)`: the KL penalty, the advantages
//    and epochs of clipped updates (opened up below);
// 5. **logs** the statistics (`log_stats`), writes a checkpoint every few steps and moves the data position on.
//
// `run.Batches()` starts where the run stands, so running this cell again (or the whole notebook after a restart)
// **resumes**. The progress bar and the chart update after every step: **reward** (left axis) should rise, **KL** (right
// axis) should stay small and positive; the run stops itself if the KL stays above `KlStopThreshold`. Try adding a line
// inside the loop, e.g. `Console.WriteLine(summaries[0]);` to watch one summary change, or a reward component in the
// cell above. `run.Train()` (what the command line's `align` runs) is this very loop.

var live = LiveRunView.Show(run);                                               // progress bar + reward/KL chart
foreach (var batch in run.Batches())                                            // for batch in ppo_trainer.dataloader (tensors freed per pass)
{
    using var rollout = run.Trainer.Generate(batch.Queries, config.Generation); // response_tensors = ppo_trainer.generate(...)
    var responses = rollout.ResponseIds();
    var summaries = run.Decode(responses);                                      // tokenizer.batch_decode(...)
    var rewards = run.Reward.Score(summaries);                                  // the reward pipelines
    if (run.SkipNonFinite(batch, rewards)) continue;                            // a NaN reward cannot be learnt from
    var stats = run.Trainer.Step(batch.Queries, responses, rewards.Total);      // stats = ppo_trainer.step(...)
    run.LogStats(batch, stats, rewards, summaries);                             // ppo_trainer.log_stats(...)
}
run.Finish(); live.Close();                                                     // checkpoint, stats.csv, final chart

// ## What the statistics say
//
// One row per step, TRL's names: `env/reward_mean` is the mean reward of the batch, `objective/kl` the KL to the
// reference, `objective/kl_coef` the current β, `ppo/policy/clipfrac` the share of tokens whose update was clipped,
// `ppo/loss/value` how well the value head predicts returns.

var statistics = run.StatisticsFrame();
string[] keep = ["step", "env/reward_mean", "objective/kl", "objective/kl_coef", "ppo/policy/clipfrac", "ppo/loss/value"];
display(new DataFrame(keep.Where(k => statistics.Columns.IndexOf(k) >= 0).Select(k => statistics[k])));

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

// ## One PPO step, opened up
//
// `Trainer.Step` hides a lot. Here is one step on one batch of articles, computed cell by cell with the same public math
// (`PpoMath`, TRL's `trl.core` and `PPOTrainer` methods). First a rollout: the articles' queries, the sampled summaries,
// their scores, and the padded batch the teacher-forced passes read (`RolloutBatch`: decoder inputs are the start token
// followed by the summary shifted right; the mask marks the real summary tokens).

var articles = PromptedBatch.Create(run.TrainData.Take(config.Ppo.BatchSize).ToList(), run.Tokenizer, config.MaxPromptTokens);
var sampled = run.Trainer.Generate(articles.QueryIds, config.Generation with { Seed = 7 });
var sampledIds = sampled.ResponseIds();
var scores = run.Reward.Score(run.Decode(sampledIds)).Total;
var padded = RolloutBatch.Create(articles.QueryIds, sampledIds, run.Policy.Config, ProfileLoader.Device(config.Device));
display($"summary 0: \"{run.Decode(sampledIds)[0]}\" ({sampledIds[0].Length} tokens, score {scores[0]:F3})");

// **Log-probabilities.** One forward pass of the policy and one of the frozen reference over (article, summary) give,
// for every summary token, its log-probability under each model, and the value head's estimate of the reward still to
// come. No gradients are needed here.

var noGrad = torch.no_grad();
var policyOut = run.Policy.Forward(padded.InputIds, padded.AttentionMask, padded.DecoderInputIds, padded.DecoderMask);
var logprobs = PpoMath.LogprobsFromLogits(policyOut.Logits, padded.Targets);           // log p_policy(token)
var refOut = run.Reference.Forward(padded.InputIds, padded.AttentionMask, decoderInputIds: padded.DecoderInputIds, decoderAttentionMask: padded.DecoderMask);
var refLogprobs = PpoMath.LogprobsFromLogits(refOut.Logits, padded.Targets);           // log p_reference(token)
noGrad.Dispose();
display($"KL of summary 0: {(logprobs[0] - refLogprobs[0]).mul(padded.Mask[0]).sum().item<float>():F4} nats");

// **Rewards per token** (`compute_rewards`): every token pays the KL penalty `-β × (log p_policy − log p_reference)`,
// and the last real token also receives the classifiers' score, as the trainer processes it (with the offline profile's
// score scaling: centred and divided by the running statistics; `ProcessedScores` shows it without moving them).
// **Advantages** (`compute_advantages`): generalised advantage estimation walks back from the end, `δ_t = r_t + γ
// V_{t+1} − V_t`, `A_t = δ_t + γλ A_{t+1}`, then whitens them; the **returns** `A_t + V_t` are what the value head
// learns to predict.

var klCoef = run.Trainer.KlController.Value;                                          // β, adapted by the KL controller
var scoreTensor = run.Trainer.ProcessedScores(torch.tensor(scores).to(padded.Mask.device)); // scaled and centred, as Step will
var (tokenRewards, klPenalty) = PpoMath.ComputeRewards(scoreTensor, logprobs, refLogprobs, padded.Mask, klCoef, config.Ppo.KlPenalty);
var (values, advantages, returns) = PpoMath.ComputeAdvantages(policyOut.Values, tokenRewards, padded.Mask, config.Ppo.Gamma, config.Ppo.Lam);
display($"β = {klCoef:F4}; score of summary 0: {scores[0]:F4}, added at its last token as {scoreTensor[0].item<float>():F4}");

// Per token of summary 0: each quantity above in one table. Read it from the bottom: the score arrives at the last
// token, and the advantages carry it back, discounted by λ, to the tokens that led there.

int n = sampledIds[0].Length;
float[] Row(torch.Tensor t) => t[0].cpu().data<float>().ToArray()[..n];
var (lp, rlp, pen, rw, v, adv, ret) = (Row(logprobs), Row(refLogprobs), Row(klPenalty), Row(tokenRewards), Row(values), Row(advantages), Row(returns));
var perToken = Tables.Of(Enumerable.Range(0, n).Select(t => new { t, token = sampledIds[0][t] < run.Tokenizer.VocabSize ? run.Tokenizer.IdToToken((int)sampledIds[0][t]) : "(past the vocabulary)",
    logprob = lp[t], ref_logprob = rlp[t], kl_penalty = pen[t], reward = rw[t], value = v[t], advantage = adv[t], @return = ret[t] }));
display(perToken);

var steps = Enumerable.Range(0, n).Select(t => (double)t).ToList();
LineSeries Line(string name, float[] ys) => new(name, steps, ys.Select(y => (double)y).ToList());
display(WorkshopCharts.Lines("One summary, token by token", "token", "value",
    [Line("reward (KL penalty + score)", rw), Line("value", v), Line("advantage (whitened)", adv), Line("return", ret)]));

// **The clipped ratio.** Now the update itself: `Trainer.Step` on this batch (an extra step, not logged or saved; lesson
// 04 reads the checkpoint written above). Afterwards the policy gives each token a new probability; PPO's objective uses
// the ratio `exp(log p_new − log p_old)` only inside `[1 − ε, 1 + ε]` (ε = `Cliprange`), so no single batch can move a
// token's probability too far.

var update = run.Trainer.Step(articles.QueryIds, sampledIds, scores);                   // one PPO step on this batch
var noGradAfter = torch.no_grad();
var after = run.Policy.Forward(padded.InputIds, padded.AttentionMask, padded.DecoderInputIds, padded.DecoderMask);
var newLogprobs = PpoMath.LogprobsFromLogits(after.Logits, padded.Targets);              // log p_new(token)
noGradAfter.Dispose();
var ratio = (newLogprobs - logprobs).exp();
var clipped = ratio.clamp(1 - config.Ppo.Cliprange, 1 + config.Ppo.Cliprange);
var (r, rc) = (Row(ratio), Row(clipped));
display(Tables.Of(Enumerable.Range(0, n).Select(t => new { t, advantage = adv[t], ratio = r[t], clipped_ratio = rc[t], clipped = r[t] != rc[t] })));

// `ppo/policy/clipfrac` in the statistics is the share of tokens where the ratio left that band during the update.

// Next: **04-evaluation** compares this checkpoint with the base model on held-out articles.
