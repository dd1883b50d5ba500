#!/usr/bin/env dotnet
#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 05-preferences.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run --project tools/NotebookScripts
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/05-preferences.cs
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
using RlhfKit.Dpo;
using RlhfKit.Preferences;
using static RlhfKit.Notebooks.ConsoleNotebook;

// # 05 · Feedback from people: preferences, a reward model, and DPO beside PPO
//
// Lessons 01-04 aligned the summarizer with two ready-made classifiers. The "H" in RLHF stands for feedback from
// *people*, and people find it easier to compare two answers than to score one. So most alignment since 2023 starts from
// **preference pairs**: a prompt, the response someone preferred (`chosen`) and the one they did not (`rejected`).
//
// There are two ways to use such pairs, and this lesson walks both on the same data:
//
// * **reward model + PPO** (InstructGPT): fit a classifier that scores the chosen response above the rejected one, then
//   run the PPO loop of lesson 03 with that classifier as the reward;
// * **DPO** (Rafailov et al. 2023): skip the reward model and the sampling, and push the policy's own probabilities
//   towards the chosen responses, measured against a frozen reference.
//
// At the end both are compared with the base policy on held-out articles.

// ## Load the kit
//
// The same first cell as every lesson: the kit from `artifacts/kit`, then `Notebook.Start()`.

// The notebook loads the kit with #r "../artifacts/kit/RlhfKit.Workshop.dll"; here the #:project line at the top does.
Notebook.Start();

// ## Choose the models and the device
//
// The only cell to change between an offline session and the workshop's FLAN-T5 models.

// "offline": small models built from the kit itself, no network (the default; minutes on a laptop).
// "workshop": FLAN-T5-small + the original RoBERTa reward models; "base": FLAN-T5-base (a GPU helps).
var profile = "offline";
var device = "cpu";   // "cuda" (or "cuda:1") with a CUDA build of the kit: see 00-environment
var config = Lesson.Config(profile, device);
display(Lesson.Describe(config));

// ## The policy, its reward and its articles
//
// The preference types live in two more namespaces. We load the starting policy (it stays frozen: it is the base of
// the comparison and the reference of PPO and DPO), the profile's reward and the training articles.

var files = await ProfileLoader.PolicyAsync(config);
var basePolicy = AutoModel.T5FromPretrained(files.Folder, ProfileLoader.Device(config.Device));
var reward = await Lesson.RewardAsync(config);
var train = await Lesson.LoadArticlesAsync(config, "train");
display($"policy {files.Folder}; {train.Count} training articles");

// ## Your preferences
//
// The policy writes two summaries of the same article (sampling at temperature 1, so they differ), and you say which
// one you prefer: `a`, `b`, or nothing to skip. In VS Code an input box opens above the notebook for each article.
// Where nobody can answer (the headless run in CI, the `.cs` version of this lesson) the answers are read from
// `data/preferences/recorded-answers.jsonl`, which holds what the kit's author answered for these very samples; pass
// your own file to `AskAsync` to replay yours.

var questions = AiFeedback.SampleTwo(basePolicy, files.Tokenizer, train.Take(6).ToList(), config.Generation, config.MaxPromptTokens, seed: 5);
var human = await HumanFeedback.AskAsync(questions);
display(Tables.Of(human.Answers.Select(a => new { article = a.Question.ArticleId, A = a.Question.A, B = a.Question.B, preferred = a.Preferred, from = a.Source })));

// ## Feedback from an AI
//
// Asking people is slow. A common shortcut (RLAIF) lets a model judge instead: here the profile's reward scores both
// samples and the higher one becomes `chosen`. Identical samples and ties say nothing and are left out. Note what this
// means: pairs made this way can only teach what the judge already believes.

var ai = AiFeedback.Collect(basePolicy, files.Tokenizer, train.Skip(400).Take(64).ToList(), reward, config.Generation, config.MaxPromptTokens, seed: 1);
display(Tables.Of(ai.Pairs.Take(4).Select(p => new { p.Chosen, p.Rejected })));

display(ai.ToString());

// ## The preference set
//
// Your few answers and the AI's pairs join the kit's shipped pairs (`data/preferences/train.jsonl`: for loaded
// articles, the neutral summary preferred over the loaded one). The columns are TRL's (`prompt`, `chosen`,
// `rejected`), so the file we write loads in Python with `datasets.load_dataset("json", ...)` as well.

var pairs = PreferenceLesson.ShippedPairs("train").Concat(human.Pairs).Concat(ai.Pairs).Distinct().ToList();
var heldOut = PreferenceLesson.ShippedPairs("test");
var folder = PreferenceLesson.Folder(config);
PreferenceData.Write(Path.Combine(folder, "pairs.jsonl"), pairs);
display($"{pairs.Count} training pairs, {heldOut.Count} held-out pairs (on held-out names)");

// ## A reward model from pairs
//
// TRL's `RewardTrainer`: a classifier with a single output `r(text)`, trained so that the chosen response scores higher,
// with the Bradley-Terry loss `-log σ(r(chosen) - r(rejected))`. Its measure is the **pair accuracy** on held-out pairs:
// how often `r(chosen) > r(rejected)`. Before training it is a coin toss.

var (rm, rmTokenizer, rmFiles) = RewardTrainer.MiniLmRewardModel();
var rewardTrainer = new RewardTrainer(rm, rmTokenizer, PreferenceLesson.RewardConfig());
var before = rewardTrainer.Accuracy(heldOut);
var losses = rewardTrainer.Train(pairs);
var after = rewardTrainer.Accuracy(heldOut);
display($"held-out pair accuracy: {before.Accuracy:P1} before, {after.Accuracy:P1} after ({after.Correct}/{after.Total})");

// Saved as a Hugging Face folder, the reward model loads back as a `TextClassificationPipeline` like the classifiers of
// lesson 01. Its single logit is the learned reward.

var rewardModel = Path.Combine(folder, "reward-model");
rewardTrainer.Save(rewardModel, rmFiles, after);
var learned = LearnedReward.Load(rewardModel);
var examples = new[] { heldOut[0].Chosen, heldOut[0].Rejected };
display(examples.Zip(learned.Score(examples), (text, r) => new { text, learned_reward = r }));

// ## Route 1: PPO on the learned reward
//
// The loop of lesson 03, unchanged; only the reward differs. The learned reward's margins are large (about 16 logits
// between a neutral and a loaded summary). The offline profile divides every score by its running spread before PPO
// sees it, so they arrive at unit scale whatever the weight (0.2 here, which a profile without score scaling needs); the
// KL coefficient starts at 0.2 instead of 0.1, so that the policy stays near the reference while it chases the reward.

var ppoConfig = PreferenceLesson.PpoOnLearnedReward(config, rewardModel);
Lesson.StartOver(Path.Combine(folder, "ppo"));
var run = await AlignmentRun.CreateAsync(ppoConfig, Path.Combine(folder, "ppo"), status: Console.WriteLine);
var bar = display(new ProgressView(null));
run.Progress += p => bar.Update(new ProgressView(p));
run.Train();
display($"PPO on the learned reward: {run.Trainer.StepCount} steps, last KL {run.Log[^1].Stats["objective/kl"]:F2}");

// ## Route 2: DPO on the same pairs
//
// No reward model and no sampling: for each pair DPO compares how much more likely the policy makes the chosen summary
// than the rejected one, relative to the frozen reference, and raises that difference:
// `-log σ(β [(log π(chosen) - log π_ref(chosen)) - (log π(rejected) - log π_ref(rejected))])`. Its statistics carry
// TRL's names; `rewards/margins` on held-out pairs should turn positive.

var dpoPolicy = AutoModel.T5FromPretrained(files.Folder, ProfileLoader.Device(config.Device));
var dpo = new DpoTrainer(new DpoConfig { LearningRate = 1e-4, MaxPromptLength = config.MaxPromptTokens }, dpoPolicy, files.Tokenizer, reference: basePolicy);
var dpoLog = dpo.Train(pairs, epochs: 2, maxSteps: PreferenceLesson.Steps(80));
var dpoEval = dpo.Evaluate(heldOut);
display(Tables.Of(new[] { "eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/margins", "eval_rewards/accuracies" }.Select(k => new { statistic = k, value = dpoEval[k] })));

// ## Which route worked?
//
// Both aligned policies and the base summarize the same **held-out** articles with the same seeded sampling. The judge
// is the learned reward model: a policy's **win rate** is the share of articles where its summary scores higher than the
// base's (ties count half). A policy that changed nothing wins 50%; the interval (Wilson, 95%) says whether a rate is
// above 50% or could be luck. The KL says how far each policy moved from the base to get there.

var judge = await PreferenceComparison.JudgeAsync(config, rewardModel);
var (_, evalArticles) = await ProfileLoader.TrainAndEvalAsync(config);
var methods = PreferenceComparison.Evaluate(config, basePolicy, [("PPO (learned reward)", run.Policy.pretrained_model), ("DPO", dpoPolicy)], files.Tokenizer, judge, evalArticles);
display(PreferenceComparison.WinRates(methods));

display(PreferenceComparison.WinRateChart(methods));

// The same policies under the profile's classifiers, which never saw a preference pair: did learning "neutral over
// loaded" from pairs also move the neutral classifier, and did either route cost acceptability?

display(MethodComparison.ToDataFrame(methods));

display(RunCharts.GainsByMethod(methods));

display(PreferenceComparison.Save(folder, methods).Select(f => Path.GetRelativePath(folder, f)));

// ## Where to go from here
//
// * Answer the six questions yourself (VS Code), add more articles, and see whether your pairs change the reward model.
// * Train on AI feedback alone (`ai.Pairs`): what does the reward model learn, and what does PPO on it do?
// * The command line does the same at scale: `preferences --from-policy --articles 500 --out pairs.jsonl`,
//   `reward-model --train pairs.jsonl`, `dpo --train pairs.jsonl`, `align --reward-model DIR` and `compare`.
