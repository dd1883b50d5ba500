using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Dpo;
using RlhfKit.Loading;
using RlhfKit.Preferences;

namespace RlhfKit.Cli;

/// <summary>The preference verbs: <c>reward-model</c> (TRL's RewardTrainer) and <c>dpo</c> (TRL's DPOTrainer).</summary>
internal static class PreferenceCommands
{
    static string Shipped(string split) => Path.Combine(OfflineAssets.DataDirectory(), "preferences", split + ".jsonl");

    static readonly Option<string?> TrainOption = new("--train") { Description = "Training pairs, .jsonl or .parquet with prompt/chosen/rejected (default: data/preferences/train.jsonl)." };
    static readonly Option<string?> TestOption = new("--test") { Description = "Held-out pairs (default: data/preferences/test.jsonl)." };
    static readonly Option<int?> EpochsOption = new("--epochs") { Description = "Passes over the training pairs." };

    static string OutDir(ParseResult parse, Option<string?> output, string verb) =>
        Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", $"{verb}-{DateTime.Now:yyyyMMdd-HHmmss}"));

    static void WriteStats(string outDir, IReadOnlyList<Dictionary<string, double>> rows)
    {
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteAllText(Path.Combine(outDir, "stats.jsonl"), string.Concat(rows.Select(r => JsonSerializer.Serialize(r) + "\n")));
        var keys = rows.SelectMany(r => r.Keys).Distinct().ToList();
        var csv = new System.Text.StringBuilder(string.Join(",", keys)).Append('\n');
        foreach (var r in rows)
            csv.Append(string.Join(",", keys.Select(k => r.TryGetValue(k, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : ""))).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(outDir, "stats.csv"), csv.ToString());
    }

    public static Command RewardModel()
    {
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default runs/reward-model-<time>); the model is written to <out>/model." };
        var cmd = new Command("reward-model", "Train a reward model on preference pairs (TRL's RewardTrainer: one-output classifier on all-MiniLM-L6-v2, Bradley-Terry loss), report held-out pair accuracy, save it as a pipeline folder.")
        {
            TrainOption, TestOption, EpochsOption, output,
        };
        cmd.SetAction(parse =>
        {
            var train = PreferenceData.Read(parse.GetValue(TrainOption) ?? Shipped("train"));
            var test = PreferenceData.Read(parse.GetValue(TestOption) ?? Shipped("test"));
            var outDir = OutDir(parse, output, "reward-model");
            var config = RewardConfig.OfflineRecipe;
            if (parse.GetValue(EpochsOption) is int epochs) config = config with { Epochs = epochs };
            Console.Error.WriteLine($"Reward model: {train.Count} training pairs, {test.Count} held-out pairs, {config.Epochs} epochs.");
            var (model, tokenizer, files) = RewardTrainer.MiniLmRewardModel(config.Seed);
            var trainer = new RewardTrainer(model, tokenizer, config);
            var before = trainer.Accuracy(test);
            int total = config.Epochs * ((train.Count + config.BatchSize - 1) / config.BatchSize);
            var bar = new ConsoleProgress("reward-model");
            var rows = new List<Dictionary<string, double>>();
            trainer.Train(train, (step, epoch, loss) =>
            {
                rows.Add(new() { ["step"] = step + 1, ["epoch"] = epoch, ["loss"] = loss });
                bar.Update(step + 1, total, $"step {step + 1}/{total}  loss {loss:F4}");
            });
            var after = trainer.Accuracy(test);
            trainer.Save(Path.Combine(outDir, "model"), files, after);
            WriteStats(outDir, rows);
            Console.WriteLine($"held-out pair accuracy: {before.Accuracy:P1} before training, {after.Accuracy:P1} after ({after.Correct}/{after.Total}; mean margin {after.MeanMargin:F3})");
            Console.WriteLine($"Reward model: {Path.Combine(outDir, "model")} (load with LearnedReward.Load or TextClassificationPipeline.FromPretrainedAsync)");
            Console.WriteLine($"Output folder: {outDir}");
            return 0;
        });
        return cmd;
    }

    public static Command Dpo(Option<string> profileOption, Option<string> deviceOption)
    {
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default runs/dpo-<time>); the aligned policy is written to <out>/policy." };
        var beta = new Option<double?>("--beta") { Description = "DPO beta (default 0.1)." };
        var loss = new Option<string?>("--loss") { Description = "sigmoid (default), hinge or ipo." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many optimiser steps." };
        var lr = new Option<double?>("--lr") { Description = "AdamW learning rate (default 1e-4 offline, 5e-6 for the Hub profiles)." };
        var cmd = new Command("dpo", "Align the profile's policy directly on preference pairs with DPO (TRL's DPOTrainer), report held-out statistics, save the policy.")
        {
            profileOption, deviceOption, TrainOption, TestOption, EpochsOption, output, beta, loss, maxSteps, lr,
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
            var train = PreferenceData.Read(parse.GetValue(TrainOption) ?? Shipped("train"));
            var test = PreferenceData.Read(parse.GetValue(TestOption) ?? Shipped("test"));
            var outDir = OutDir(parse, output, "dpo");
            var files = await ProfileLoader.PolicyAsync(profile);
            var device = ProfileLoader.Device(profile.Device);
            var policy = AutoModel.T5FromPretrained(files.Folder, device);
            using var trainer = new DpoTrainer(config, policy, files.Tokenizer);
            int epochs = parse.GetValue(EpochsOption) ?? 2;
            int total = Math.Min(parse.GetValue(maxSteps) ?? int.MaxValue, epochs * ((train.Count + config.BatchSize - 1) / config.BatchSize));
            Console.Error.WriteLine($"DPO ({config.LossType}, beta {config.Beta}): {train.Count} training pairs, {test.Count} held-out pairs, {total} steps.");
            var bar = new ConsoleProgress("dpo");
            var log = trainer.Train(train, epochs, s => bar.Update(trainer.StepCount, total,
                $"step {trainer.StepCount}/{total}  loss {s["loss"]:F4}  margin {s["rewards/margins"]:F3}  acc {s["rewards/accuracies"]:P0}", force: true), maxSteps: total);
            var eval = trainer.Evaluate(test);
            WriteStats(outDir, log);
            AtomicFile.WriteAllText(Path.Combine(outDir, "eval.json"), JsonSerializer.Serialize(eval, new JsonSerializerOptions { WriteIndented = true }));
            PretrainedFolder.Save(Path.Combine(outDir, "policy"), policy.Config, policy.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach()),
                files.TokenizerFiles.Where(kv => kv.Key is not ("config.json" or "model.safetensors")).ToDictionary(kv => kv.Key, kv => kv.Value));
            foreach (var key in new[] { "eval_loss", "eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/margins", "eval_rewards/accuracies", "eval_logps/chosen", "eval_logps/rejected" })
                Console.WriteLine($"{key,-26}{eval[key],10:F4}");
            Console.WriteLine($"Policy: {Path.Combine(outDir, "policy")} (try: generate --policy {Path.Combine(outDir, "policy")})");
            Console.WriteLine($"Output folder: {outDir}");
            return 0;
        });
        return cmd;
    }
}
