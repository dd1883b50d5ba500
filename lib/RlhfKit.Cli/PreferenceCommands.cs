using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Dpo;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Preferences;

namespace RlhfKit.Cli;

/// <summary>The preference verbs: <c>preferences</c> (AI feedback), <c>reward-model</c> (TRL's RewardTrainer),
/// <c>dpo</c> (TRL's DPOTrainer), <c>compare</c> (win rates under a learned reward), and <c>align</c>'s
/// <c>--reward-model</c>.</summary>
internal static class PreferenceCommands
{
    static string Shipped(string split) => Path.Combine(OfflineAssets.DataDirectory(), "preferences", split + ".jsonl");

    static readonly Option<string?> TrainOption = new("--train") { Description = "Training pairs, .jsonl or .parquet with prompt/chosen/rejected (default: data/preferences/train.jsonl)." };
    static readonly Option<string?> TestOption = new("--test") { Description = "Held-out pairs (default: data/preferences/test.jsonl)." };
    static readonly Option<int?> EpochsOption = new("--epochs") { Description = "Passes over the training pairs." };

    static string OutDir(ParseResult parse, Option<string?> output, string verb) =>
        Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", $"{verb}-{DateTime.Now:yyyyMMdd-HHmmss}"));

    static readonly Option<int?> CheckpointEveryOption = new("--checkpoint-every") { Description = "Write a resumable checkpoint every N steps (default 20); rerunning the same command on the same --out resumes from the latest." };

    static int CheckpointEvery(ParseResult parse) =>
        parse.GetValue(CheckpointEveryOption) is int n ? (n >= 1 ? n : throw new ArgumentException($"--checkpoint-every must be at least 1, got {n}.")) : 20;

    static string Resuming((string Name, int Step)? latest, int total) =>
        latest is { } l ? $" Resuming from checkpoint {l.Name} (step {l.Step} of {total})." : "";

    public static Command RewardModel()
    {
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default runs/reward-model-<time>); the model is written to <out>/model. An existing folder resumes from its latest checkpoint." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many optimiser steps in all." };
        var cmd = new Command("reward-model", "Train a reward model on preference pairs (TRL's RewardTrainer: one-output classifier on all-MiniLM-L6-v2, Bradley-Terry loss), report held-out pair accuracy, save it as a pipeline folder.")
        {
            TrainOption, TestOption, EpochsOption, output, maxSteps, CheckpointEveryOption,
        };
        cmd.SetAction(parse =>
        {
            var trainFile = Path.GetFullPath(parse.GetValue(TrainOption) ?? Shipped("train"));
            var train = PreferenceData.Read(trainFile);
            var test = PreferenceData.Read(parse.GetValue(TestOption) ?? Shipped("test"));
            var outDir = OutDir(parse, output, "reward-model");
            var config = RewardConfig.OfflineRecipe;
            if (parse.GetValue(EpochsOption) is int epochs) config = config with { Epochs = epochs };
            config.Validate();
            int every = CheckpointEvery(parse);
            int total = Math.Min(parse.GetValue(maxSteps) ?? int.MaxValue, config.Epochs * ((train.Count + config.BatchSize - 1) / config.BatchSize));
            var checkpoints = new TrainerCheckpoints(outDir);
            checkpoints.CheckRunConfig(new Dictionary<string, object?>
            {
                ["verb"] = "reward-model", ["train"] = trainFile, ["model"] = "all-MiniLM-L6-v2", ["learning_rate"] = config.LearningRate, ["per_device_train_batch_size"] = config.BatchSize,
                ["max_length"] = config.MaxLength, ["train_top_layers"] = config.TrainTopLayers, ["seed"] = config.Seed, ["num_train_epochs"] = config.Epochs, ["max_steps"] = total,
            }, ["verb", "train", "model", "learning_rate", "per_device_train_batch_size", "max_length", "train_top_layers", "seed"]);
            var latest = checkpoints.Latest();
            Console.Error.WriteLine($"Reward model: {train.Count} training pairs, {test.Count} held-out pairs, {config.Epochs} epochs, {total} steps.{Resuming(latest, total)}");
            var (model, tokenizer, files) = RewardTrainer.MiniLmRewardModel(config.Seed);
            using var trainer = new RewardTrainer(model, tokenizer, config);
            var before = trainer.Accuracy(test);
            var rows = new List<Dictionary<string, double>>();
            if (latest is { } resume)
            {
                var weights = RlhfKit.Checkpoints.CheckpointReader.ReadStateDict(Path.Combine(checkpoints.PathOf(resume.Name), "model", "model.safetensors"));
                try { RlhfKit.Checkpoints.StateDictLoader.LoadInto(model, weights, Path.Combine(checkpoints.PathOf(resume.Name), "model", "model.safetensors")); }
                finally { foreach (var t in weights.Values) t.Dispose(); }
                trainer.LoadOptimizer(Path.Combine(checkpoints.PathOf(resume.Name), "optimizer.bin"));
                rows = checkpoints.ReadStats(resume.Step);
            }
            int done = latest?.Step ?? 0;
            void Checkpoint()
            {
                checkpoints.Save(done, new Dictionary<string, object> { ["verb"] = "reward-model" }, dir =>
                {
                    trainer.Save(Path.Combine(dir, "model"), files);
                    trainer.SaveOptimizer(Path.Combine(dir, "optimizer.bin"));
                });
                checkpoints.WriteStats(rows);
            }
            var bar = new ConsoleProgress("reward-model");
            trainer.Train(train, (step, epoch, loss) =>
            {
                done = step + 1;
                rows.Add(new() { ["step"] = done, ["epoch"] = epoch, ["loss"] = loss });
                bar.Update(done, total, $"step {done}/{total}  loss {loss:F4}");
                if (done % every == 0 && done < total) Checkpoint();
            }, startStep: done, maxSteps: total);
            if (checkpoints.Latest()?.Step != done) Checkpoint();
            var after = trainer.Accuracy(test);
            trainer.Save(Path.Combine(outDir, "model"), files, after);
            checkpoints.WriteStats(rows);
            Console.WriteLine($"held-out pair accuracy: {before.Accuracy:P1} before training, {after.Accuracy:P1} after ({after.Correct}/{after.Total}; mean margin {after.MeanMargin:F3})");
            Console.WriteLine($"Reward model: {Path.Combine(outDir, "model")} (load with LearnedReward.Load or TextClassificationPipeline.FromPretrainedAsync)");
            Console.WriteLine($"Output folder: {outDir}");
            return 0;
        });
        return cmd;
    }

    public static Command Dpo(Option<string> profileOption, Option<string> deviceOption)
    {
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default runs/dpo-<time>); the aligned policy is written to <out>/policy. An existing folder resumes from its latest checkpoint." };
        var beta = new Option<double?>("--beta") { Description = "DPO beta (default 0.1)." };
        var loss = new Option<string?>("--loss") { Description = "sigmoid (default), hinge or ipo." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many optimiser steps in all." };
        var lr = new Option<double?>("--lr") { Description = "AdamW learning rate (default 1e-4 offline, 5e-6 for the Hub profiles)." };
        var cmd = new Command("dpo", "Align the profile's policy directly on preference pairs with DPO (TRL's DPOTrainer), report held-out statistics, save the policy.")
        {
            profileOption, deviceOption, TrainOption, TestOption, EpochsOption, output, beta, loss, maxSteps, lr, CheckpointEveryOption,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var profile = Profiles.Get(parse.GetValue(profileOption)!) with { Device = parse.GetValue(deviceOption)! };
            // Offline: 1e-4 for 2 epochs moves the held-out margin well above zero while the chosen summaries keep most of
            // their probability (1e-3 drives both responses' log-probabilities down by hundreds of nats: over-optimisation).
            var config = new DpoConfig { LearningRate = 1e-4, BatchSize = 8, MaxPromptLength = profile.MaxPromptTokens, Beta = parse.GetValue(beta) ?? 0.1 };
            if (profile.Profile != "offline") config = config with { LearningRate = 5e-6 };
            if (parse.GetValue(lr) is double rate) config = config with { LearningRate = rate };
            if (parse.GetValue(loss) is string name)
                config = config with { LossType = Enum.TryParse<DpoLossType>(name, ignoreCase: true, out var type) ? type : throw new ArgumentException($"--loss must be sigmoid, hinge or ipo, got '{name}'.") };
            config.Validate();
            int every = CheckpointEvery(parse);
            var trainFile = Path.GetFullPath(parse.GetValue(TrainOption) ?? Shipped("train"));
            var train = PreferenceData.Read(trainFile);
            var test = PreferenceData.Read(parse.GetValue(TestOption) ?? Shipped("test"));
            var outDir = OutDir(parse, output, "dpo");
            int epochs = parse.GetValue(EpochsOption) ?? 2;
            int total = Math.Min(parse.GetValue(maxSteps) ?? int.MaxValue, epochs * ((train.Count + config.BatchSize - 1) / config.BatchSize));
            var checkpoints = new TrainerCheckpoints(outDir);
            checkpoints.CheckRunConfig(new Dictionary<string, object?>
            {
                ["verb"] = "dpo", ["profile"] = profile.Profile, ["policy"] = profile.Policy, ["train"] = trainFile, ["beta"] = config.Beta, ["loss_type"] = config.LossType.ToString().ToLowerInvariant(),
                ["learning_rate"] = config.LearningRate, ["per_device_train_batch_size"] = config.BatchSize, ["max_prompt_length"] = config.MaxPromptLength,
                ["max_target_length"] = config.MaxTargetLength, ["seed"] = config.Seed, ["num_train_epochs"] = epochs, ["max_steps"] = total,
            }, ["verb", "profile", "policy", "train", "beta", "loss_type", "learning_rate", "per_device_train_batch_size", "max_prompt_length", "max_target_length", "seed"]);
            var latest = checkpoints.Latest();
            var files = await ProfileLoader.PolicyAsync(profile);
            var device = ProfileLoader.Device(profile.Device);
            // The reference is always the starting policy; a resumed run loads its policy from the checkpoint.
            var reference = AutoModel.T5FromPretrained(files.Folder, device);
            var policy = AutoModel.T5FromPretrained(latest is { } l ? Path.Combine(checkpoints.PathOf(l.Name), "policy") : files.Folder, device);
            using var trainer = new DpoTrainer(config, policy, files.Tokenizer, reference);
            var rows = new List<Dictionary<string, double>>();
            if (latest is { } resume)
            {
                trainer.LoadOptimizer(Path.Combine(checkpoints.PathOf(resume.Name), "optimizer.bin"));
                trainer.StepCount = resume.Step;
                rows = checkpoints.ReadStats(resume.Step);
            }
            var tokenizerFiles = files.TokenizerFiles.Where(kv => kv.Key is not ("config.json" or "model.safetensors")).ToDictionary(kv => kv.Key, kv => kv.Value);
            void SavePolicy(string folder) =>
                PretrainedFolder.Save(folder, policy.Config, policy.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach()), tokenizerFiles);
            void Checkpoint()
            {
                checkpoints.Save(trainer.StepCount, new Dictionary<string, object> { ["verb"] = "dpo" }, dir =>
                {
                    SavePolicy(Path.Combine(dir, "policy"));
                    trainer.SaveOptimizer(Path.Combine(dir, "optimizer.bin"));
                });
                checkpoints.WriteStats(rows);
            }
            Console.Error.WriteLine($"DPO ({config.LossType}, beta {config.Beta}): {train.Count} training pairs, {test.Count} held-out pairs, {total} steps.{Resuming(latest, total)}");
            var bar = new ConsoleProgress("dpo");
            trainer.Train(train, epochs, s =>
            {
                s["step"] = trainer.StepCount;
                rows.Add(s);
                bar.Update(trainer.StepCount, total, $"step {trainer.StepCount}/{total}  loss {s["loss"]:F4}  margin {s["rewards/margins"]:F3}  acc {s["rewards/accuracies"]:P0}", force: true);
                if (trainer.StepCount % every == 0 && trainer.StepCount < total) Checkpoint();
            }, maxSteps: total, startStep: trainer.StepCount);
            if (checkpoints.Latest()?.Step != trainer.StepCount) Checkpoint();
            var eval = trainer.Evaluate(test);
            checkpoints.WriteStats(rows);
            AtomicFile.WriteAllText(Path.Combine(outDir, "eval.json"), JsonSerializer.Serialize(eval, new JsonSerializerOptions { WriteIndented = true }));
            SavePolicy(Path.Combine(outDir, "policy"));
            foreach (var key in new[] { "eval_loss", "eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/margins", "eval_rewards/accuracies", "eval_logps/chosen", "eval_logps/rejected" })
                Console.WriteLine($"{key,-26}{eval[key],10:F4}");
            Console.WriteLine($"Policy: {Path.Combine(outDir, "policy")} (try: generate --policy {Path.Combine(outDir, "policy")})");
            Console.WriteLine($"Output folder: {outDir}");
            return 0;
        });
        return cmd;
    }

    // align --reward-model: PPO on a learned reward (InstructGPT's route), the loop unchanged.
    internal static readonly Option<string?> AlignRewardModel = new("--reward-model") { Description = "PPO on a learned reward: a reward-model folder (from 'reward-model --out DIR'); its logit replaces the profile's classifiers (see --keep-classifiers)." };
    internal static readonly Option<double?> AlignRewardWeight = new("--reward-weight") { Description = "Weight of the learned reward (default 1)." };
    internal static readonly Option<double?> AlignInitKlCoef = new("--init-kl-coef") { Description = "Initial KL coefficient of PPO (TRL's init_kl_coef; default: the profile's). Higher keeps the policy nearer the reference." };
    internal static readonly Option<bool> AlignKeepClassifiers = new("--keep-classifiers") { Description = "With --reward-model: keep the profile's classifiers in the reward beside the learned one." };

    /// <summary><paramref name="config"/> with the learned reward of <c>--reward-model</c> and the KL coefficient of
    /// <c>--init-kl-coef</c>, when given.</summary>
    internal static AlignmentConfig ApplyRewardModel(ParseResult parse, AlignmentConfig config)
    {
        if (parse.GetValue(AlignInitKlCoef) is double kl)
        {
            if (!double.IsFinite(kl) || kl < 0) throw new ArgumentException($"--init-kl-coef must be a number >= 0, got {kl}.");
            config = config with { Ppo = config.Ppo with { InitKlCoef = kl } };
        }
        if (parse.GetValue(AlignRewardModel) is not string folder)
        {
            if (parse.GetValue(AlignRewardWeight) is not null || parse.GetValue(AlignKeepClassifiers))
                throw new ArgumentException("--reward-weight and --keep-classifiers apply to --reward-model; give a reward model folder.");
            return config;
        }
        return config.WithLearnedReward(folder, parse.GetValue(AlignRewardWeight) ?? 1.0, parse.GetValue(AlignKeepClassifiers));
    }

    public static Command Preferences(Option<string> profileOption, Option<string> deviceOption)
    {
        var fromPolicy = new Option<bool>("--from-policy") { Description = "AI feedback: sample two summaries per article from the policy (temperature 1) and prefer the one the profile's reward scores higher." };
        var articles = new Option<int?>("--articles") { Description = "How many articles to sample (default 200)." };
        var split = new Option<string>("--split") { Description = "Which articles: train (default), validation or test.", DefaultValueFactory = _ => "train" };
        var policyOption = new Option<string?>("--policy") { Description = "The policy to sample from (default: the profile's; a run folder uses its latest checkpoint)." };
        var seed = new Option<long>("--seed") { Description = "Sampling seed (batch k uses seed + k).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out", "-o") { Description = "Where to write the pairs: .jsonl or .parquet (TRL's prompt/chosen/rejected columns).", Required = true };
        var cmd = new Command("preferences", "Make preference pairs. --from-policy: AI feedback (two samples per article, ranked by the composite reward; ties and identical samples left out). People's preferences are collected in lesson 05.")
        {
            profileOption, deviceOption, fromPolicy, articles, split, policyOption, seed, output,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            if (!parse.GetValue(fromPolicy))
                throw new ArgumentException("Say where the preferences come from: --from-policy (AI feedback). People's preferences are collected in lesson 05 (notebooks/05-preferences.ipynb).");
            var profile = Profiles.Get(parse.GetValue(profileOption)!) with { Device = parse.GetValue(deviceOption)! };
            var count = parse.GetValue(articles) ?? 200;
            if (count < 1) throw new ArgumentException($"--articles must be at least 1, got {count}.");
            var outPath = Path.GetFullPath(parse.GetValue(output)!);
            if (Path.GetExtension(outPath).ToLowerInvariant() is not (".jsonl" or ".json" or ".parquet"))
                throw new ArgumentException($"--out must end in .jsonl or .parquet, got '{Path.GetFileName(outPath)}'.");
            var device = ProfileLoader.Device(profile.Device);
            var data = await ProfileLoader.ArticlesAsync(profile, parse.GetValue(split)!);
            var files = await ProfileLoader.PolicyAsync(profile, policy: parse.GetValue(policyOption) is string p ? PreferenceComparison.PolicyFolder(p) : null);
            var policy = AutoModel.T5FromPretrained(files.Folder, device);
            var reward = await ProfileLoader.RewardAsync(profile, status: Console.Error.WriteLine);
            var chosen = data.Take(Math.Min(count, data.Count)).ToList();
            Console.Error.WriteLine($"AI feedback: 2 samples of {files.Folder} for each of {chosen.Count} {parse.GetValue(split)} articles, ranked by {string.Join(" + ", reward.Parts.Select(x => $"{x.Weight} x {x.Name}"))}.");
            var bar = new ConsoleProgress("preferences");
            var result = AiFeedback.Collect(policy, files.Tokenizer, chosen, reward, profile.Generation, profile.MaxPromptTokens,
                seed: parse.GetValue(seed), progress: (done, total) => bar.Update(done, total, $"{done}/{total} articles", force: true));
            if (result.Pairs.Count == 0) throw new InvalidDataException($"No preference pairs: all {result.Samples.Count} articles gave identical samples or ties.");
            PreferenceData.Write(outPath, result.Pairs);
            Console.WriteLine(result);
            Console.WriteLine($"Wrote {outPath}");
            return 0;
        });
        return cmd;
    }

    public static Command Compare(Option<string> profileOption, Option<string> deviceOption)
    {
        var rewardModel = new Option<string>("--reward-model") { Description = "The learned reward model that judges (a reward-model folder).", Required = true };
        var policies = new Option<string[]>("--policy") { Description = "A policy to compare with the base: NAME=FOLDER or FOLDER (an align run folder, a dpo folder or a model folder); repeat for several.", Required = true, AllowMultipleArgumentsPerToken = true };
        var articles = new Option<int?>("--articles") { Description = "Held-out articles (default: the profile's)." };
        var output = new Option<string?>("--out", "-o") { Description = "Folder for comparison.csv, win_rates.csv and win_rates.json." };
        var cmd = new Command("compare", "Aligned policies against the base on held-out articles: win rate under a learned reward (ties half, Wilson 95% interval), KL to the base, and each classifier's gain with its interval.")
        {
            profileOption, deviceOption, rewardModel, policies, articles, output,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profiles.Get(parse.GetValue(profileOption)!) with { Device = parse.GetValue(deviceOption)! };
            if (parse.GetValue(articles) is int n) config = config with { EvalArticles = n };
            config.Validate();
            var named = parse.GetValue(policies)!.Select(p => p.Split('=', 2) is [var name, var dir] && name.Length > 0 ? (name, dir) : (Path.GetFileName(Path.TrimEndingDirectorySeparator(p)), p))
                .Select(x => (Name: x.Item1, Folder: PreferenceComparison.PolicyFolder(x.Item2))).ToList();
            var judge = await PreferenceComparison.JudgeAsync(config, parse.GetValue(rewardModel)!);
            var device = ProfileLoader.Device(config.Device);
            var files = await ProfileLoader.PolicyAsync(config);
            var basePolicy = AutoModel.T5FromPretrained(files.Folder, device);
            var (_, eval) = await ProfileLoader.TrainAndEvalAsync(config);
            var models = named.Select(p => (p.Name, AutoModel.T5FromPretrained(p.Folder, device))).ToList();
            var methods = PreferenceComparison.Evaluate(config, basePolicy, models, files.Tokenizer, judge, eval, Console.Error.WriteLine);
            Console.WriteLine($"{"method",-14}{"win rate (learned)",20}{"95% Wilson",20}{"W/T/L",14}{"KL",9}{"95% CI of KL",22}");
            foreach (var m in methods)
            {
                var w = WinRate.Of(m.Evaluation, PreferenceComparison.Learned);
                var kl = m.Evaluation.Metric(EvaluationResult.Kl);
                Console.WriteLine($"{m.Method,-14}{w.Rate,20:P1}{$"[{w.Low:P1}, {w.High:P1}]",20}{$"{w.Wins}/{w.Ties}/{w.Losses}",14}{kl.AlignedMean,9:F2}{$"[{kl.AlignedCiLow:F2}, {kl.AlignedCiHigh:F2}]",22}");
            }
            Console.WriteLine($"\n{"method",-14}{"metric",-16}{"base",10}{"aligned",10}{"gain",10}{"95% CI of gain",26}");
            foreach (var m in methods)
                foreach (var s in m.Evaluation.Summary.Where(s => s.Metric != EvaluationResult.Total))
                    Console.WriteLine($"{m.Method,-14}{s.Metric,-16}{s.BaseMean,10:F4}{s.AlignedMean,10:F4}{s.DiffMean,10:F4}{$"[{s.DiffCiLow:F4}, {s.DiffCiHigh:F4}]",26}");
            if (parse.GetValue(output) is string dir)
                foreach (var f in PreferenceComparison.Save(Path.GetFullPath(dir), methods)) Console.WriteLine($"Wrote {f}");
            return 0;
        });
        return cmd;
    }
}
