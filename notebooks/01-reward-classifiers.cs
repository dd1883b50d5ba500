#!/usr/bin/env dotnet
#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 01-reward-classifiers.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run --project tools/NotebookScripts
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/01-reward-classifiers.cs
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

// # 01 · The reward: two classifiers and a weighted sum
//
// In RLHF the model learns from a **reward**: one number per generated text, higher is better. The original RLHF recipe
// trains a reward model on human preference votes; this workshop uses two ready-made text classifiers as stand-ins for
// the humans:
//
// * a **sentiment** classifier: we reward the *neutral* class, because news summaries should not take sides;
// * an **acceptability** classifier (trained on CoLA-style data): we reward *grammatical* text.
//
// We use each classifier's **raw logit** of the label we want (not the softmax probability): logits are unbounded, so
// the reward keeps pushing even when a summary is already 99% neutral, and they are what the original workshop used
// (`function_to_apply='none'`).

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

// ## Load the two classifiers
//
// `config.Rewards` lists the reward components of the profile: a model (a local folder, or a Hub id such as
// `cardiffnlp/twitter-roberta-base-sentiment`), the label whose logit counts, and a weight.

var torchDevice = ProfileLoader.Device(config.Device);
var (acceptabilitySpec, neutralSpec) = (config.Rewards[0], config.Rewards[1]);
var acceptability = await TextClassificationPipeline.FromPretrainedAsync(acceptabilitySpec.Model, torchDevice);
var tone = await TextClassificationPipeline.FromPretrainedAsync(neutralSpec.Model, torchDevice);
display($"acceptability labels: {string.Join(", ", acceptability.Labels)}; tone labels: {string.Join(", ", tone.Labels)}");

// ## The workshop's sanity check
//
// The original workshop scored `['hello', 'I love you!', 'I hate you']` with the sentiment model and got neutral logits
// `[0.852, -0.747, -0.570]`: a plain greeting is neutral, love and hate are not. Label 0 is *negative*, 1 *neutral*,
// 2 *positive*. The offline profile's classifier is a different (smaller) model, so its numbers differ, but the ordering
// should agree: `hello` is the most neutral.

string[] sanity = ["hello", "I love you!", "I hate you"];
var sanityScores = tone.Classify(sanity, topK: null, FunctionToApply.None);
var sanityTable = Tables.Of(sanity.Zip(sanityScores, (text, s) => new
{
    text,
    negative = s.Single(x => x.Label == "LABEL_0").Score,
    neutral = s.Single(x => x.Label == "LABEL_1").Score,
    positive = s.Single(x => x.Label == "LABEL_2").Score,
}));
display(sanityTable);

// Logits versus probabilities: the same scores through a softmax add up to 1 per text. The top label is the same,
// but a probability saturates at 1, which is why the reward uses the logit.

var sanityProbabilities = tone.Classify(sanity, topK: 1, FunctionToApply.Softmax);
display(Tables.Of(sanity.Zip(sanityProbabilities, (text, s) => new { text, top_label = s[0].Label, probability = s[0].Score })));

// ## Score a few sentences
//
// Two neutral, grammatical sentences, an angry one and a scrambled one. Look at which classifier reacts to what.

string[] examples = ["The city council approved the new budget on Tuesday.", "Officials said the talks would continue next week.",
    "This disgraceful council wasted YOUR money AGAIN!!!", "budget the approved council Tuesday new on the"];
var acceptableScores = acceptability.LabelScores(examples, acceptabilitySpec.Label);
var neutralScores = tone.LabelScores(examples, neutralSpec.Label);
display(Tables.Of(examples.Select((text, i) => new { text, acceptable = acceptableScores[i], neutral = neutralScores[i] })));

// ## The composite reward
//
// The reward PPO maximizes is a weighted sum: **1 × acceptability + 0.5 × neutral** (the weights come from the profile,
// as in the original workshop). Grammar weighs more because a summary that is neutral but broken is useless.
// `CompositeReward` keeps every component's score next to the total, so you can see which part moved.

var reward = new CompositeReward()
    .Add(new ClassifierLogitReward(acceptabilitySpec.Name, acceptability, acceptabilitySpec.Label), acceptabilitySpec.Weight)
    .Add(new ClassifierLogitReward(neutralSpec.Name, tone, neutralSpec.Label), neutralSpec.Weight);
var breakdown = reward.Score(examples);
display(Tables.Of(examples.Select((text, i) => new
{
    text,
    acceptability = breakdown.Components[acceptabilitySpec.Name][i],
    neutral = breakdown.Components[neutralSpec.Name][i],
    total = breakdown.Total[i],
})));

// ## Add your own component
//
// A reward is just a function from text to a number, so you can add your own. A classic problem of RL with learned
// rewards is **reward hacking**: the policy finds text the judges like that humans would not (very short summaries are
// often both "neutral" and "grammatical"). Here is a length term that prefers summaries of about 20 words. Try other
// ideas: penalize exclamation marks, reward summaries that mention a number from the article...

float LengthPenalty(string text) => -Math.Abs(text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length - 20) / 10f;
var rewardWithLength = new CompositeReward()
    .Add(new ClassifierLogitReward(acceptabilitySpec.Name, acceptability, acceptabilitySpec.Label), acceptabilitySpec.Weight)
    .Add(new ClassifierLogitReward(neutralSpec.Name, tone, neutralSpec.Label), neutralSpec.Weight)
    .Add("length", LengthPenalty, weight: 0.2);
string[] lengths = ["Budget approved.", "The city council approved the new budget on Tuesday after a long debate about schools and roads."];
var lengthScores = rewardWithLength.Score(lengths);
display(Tables.Of(lengths.Select((text, i) => new { text, length = lengthScores.Components["length"][i], total = lengthScores.Total[i] })));

// To train with such a component, add it to a run's reward after creating the run (lesson 03):
// `run.Reward.Add("length", LengthPenalty, weight: 0.2);`. Next: **02-policy-and-data**, the model we are going to
// align.
