#!/usr/bin/env dotnet
#:project ../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// GENERATED from 00-environment.ipynb (the notebook is the source): edit the notebook, then run
//   dotnet run --project tools/NotebookScripts
// Run this lesson without a notebook, from the kit's folder: dotnet run notebooks/00-environment.cs
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

// # 00 · Check your machine
//
// This workshop aligns a summarizer with **reinforcement learning from human feedback (RLHF)**: a FLAN-T5 model writes
// news summaries, two classifiers judge them (is the text *neutral*? is it *grammatical*?), and **PPO** nudges the
// model towards summaries the judges like, without letting it drift far from what it wrote before.
//
// The lessons, in order:
//
// | notebook | what you do |
// |---|---|
// | **00-environment** (this one) | check that .NET, TorchSharp, the models and the charts are ready |
// | 01-reward-classifiers | score texts with the two reward classifiers; build the reward |
// | 02-policy-and-data | summarize articles with the model to be aligned; see why generation settings matter |
// | 03-ppo-training | run PPO with a live progress bar and chart; save checkpoints |
// | 04-evaluation | compare the base and the aligned model on articles neither saw |
//
// Run the cells from top to bottom (Shift+Enter). This notebook changes nothing on your machine: it looks and tells you
// what to fix.

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

// ## The checks
//
// * **.NET / TorchSharp**: the runtime, TorchSharp's version and the LibTorch it loaded (a tensor sum proves the native
//   libraries work; on Linux the kit patches and preloads them by itself).
// * **Torch backend / CUDA / device**: `cpu` unless the kit was built with a CUDA backend (`environment.md`); GPU names
//   and memory when `nvidia-smi` is there; whether the device chosen above works.
// * **Hugging Face cache**: where downloaded models live (`HF_HOME`, `HF_HUB_CACHE`), offline mode, token.
// * **models / articles**: for `offline`, the kit's own models in `assets/offline`; for `workshop`/`base`, whether the
//   Hub models are cached already.
// * **plotly.js**: the local copy the charts use so that they draw without internet.
// * **run folder**: where lessons 03 and 04 keep their run (`runs/notebook-<profile>`).

var report = EnvironmentReport.Collect(config);
display(report);

// ## Do charts draw here?
//
// The kit draws its charts with plotly.js from your disk. If a curve appears below, charts work in this notebook without
// internet. A blank area means plotly.js is missing: run `scripts/setup.sh` (it needs `npm`).

var xs = Enumerable.Range(0, 21).Select(i => i / 2.0).ToList();
var curve = new LineSeries("reward - 0.2 x KL", xs, xs.Select(x => Math.Log(1 + x) - 0.2 * 0.05 * x * x).ToList());
display(WorkshopCharts.Lines("Does this chart draw?", "KL budget", "objective", [curve]));

// ## Verdict

var verdict = report.AllOk
    ? "Everything is in place: go on with 01-reward-classifiers."
    : "Fix the rows marked ❌ (see 'what to do'), then run this notebook again:\n" + string.Join("\n", report.Problems.Select(p => $"- {p.Item}: {p.Fix}"));
display(verdict);
