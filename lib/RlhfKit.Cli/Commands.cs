using System.CommandLine;
using System.Globalization;
using RlhfKit.Alignment;
using RlhfKit.Benchmarks;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Hub;
using RlhfKit.Loading;
using RlhfKit.Tokenization;

namespace RlhfKit.Cli;

internal static class Commands
{
    static readonly Option<string> ProfileOption = new("--profile", "-p")
    {
        Description = $"Which models and settings: {string.Join(", ", Profiles.Names)} (only offline needs no network).",
        DefaultValueFactory = _ => "offline",
    };

    static readonly Option<string> DeviceOption = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };

    public static RootCommand Build()
    {
        var root = new RootCommand("RlhfKit: align FLAN-T5 news summaries with PPO (the workshop's loop as commands).");
        root.Subcommands.Add(Align());
        root.Subcommands.Add(Evaluate());
        root.Subcommands.Add(Score());
        root.Subcommands.Add(GenerateCommand());
        root.Subcommands.Add(Download());
        root.Subcommands.Add(Prepare());
        root.Subcommands.Add(Bench());
        root.Subcommands.Add(PreferenceCommands.RewardModel());
        root.Subcommands.Add(PreferenceCommands.Dpo(ProfileOption, DeviceOption));
        return root;
    }

    static AlignmentConfig Profile(ParseResult parse) => Profiles.Get(parse.GetValue(ProfileOption)!) with { Device = parse.GetValue(DeviceOption)! };

    static IProgress<HubDownloadProgress> DownloadBar()
    {
        var bars = new Dictionary<string, ConsoleProgress>();
        return new SyncProgress<HubDownloadProgress>(p =>
        {
            if (!bars.TryGetValue(p.FileName, out var bar)) bars[p.FileName] = bar = new ConsoleProgress($"download {p.FileName}");
            bar.Update(p.BytesDownloaded, Math.Max(1, p.TotalBytes), $"{ConsoleProgress.Bytes(p.BytesDownloaded)} / {ConsoleProgress.Bytes(p.TotalBytes)}");
        });
    }

    static void EnsureOfflineAssets(AlignmentConfig config)
    {
        if (config.Profile != "offline" || OfflineAssets.IsPrepared()) return;
        Console.Error.WriteLine("The offline models are not built yet: preparing them now (a few minutes, once).");
        OfflineAssets.Prepare(status: Console.Error.WriteLine);
    }

    static Command Align()
    {
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default runs/<profile>-<time>). An existing run folder resumes from its last checkpoint." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many PPO steps." };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the final evaluation." };
        var dtype = new Option<string?>("--dtype") { Description = "Compute type of rollouts and reward scoring: float32 (default), bfloat16 or float16 (for CUDA; the PPO update stays float32)." };
        var cmd = new Command("align", "Run PPO alignment end to end: load, train with progress, checkpoint, evaluate, write charts and a report.")
        {
            ProfileOption, DeviceOption, output, maxSteps, noEval, dtype,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse);
            if (parse.GetValue(maxSteps) is int steps) config = config with { MaxSteps = steps };
            if (parse.GetValue(dtype) is string type) config = config with { InferenceDType = type };
            config.Validate(); // names a bad --dtype before anything loads
            var outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", $"{config.Profile}-{DateTime.Now:yyyyMMdd-HHmmss}"));
            EnsureOfflineAssets(config);

            using var run = await AlignmentRun.CreateAsync(config, outDir, status: Console.Error.WriteLine, download: DownloadBar());
            run.Warn = m => Console.Error.WriteLine("\nwarning: " + m);
            var bar = new ConsoleProgress("align");
            run.Progress += p => bar.Update(p.Step, p.TotalSteps,
                $"step {p.Step}/{p.TotalSteps}  reward {Fmt(p.RewardMean)}  KL {Fmt(p.Kl)}  {p.Phase}  {(p.Remaining is TimeSpan r ? $"~{r:mm\\:ss} left" : "")}", force: p.Phase != "generating");
            // Ctrl+C finishes the current step and writes a checkpoint; run the same command again to resume.
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); Console.Error.WriteLine("\nstopping after this step (checkpoint follows)..."); };
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, cancellation);
            run.Train(linked.Token);

            EvaluationResult? evaluation = null;
            if (!parse.GetValue(noEval) && run.Finished)
            {
                Console.Error.WriteLine($"Evaluating base against aligned on {run.EvalData.Count} held-out articles...");
                evaluation = run.Evaluate(log: Console.Error.WriteLine);
                PrintSummary(evaluation);
            }
            var files = RunOutputs.Save(outDir, run.Log, evaluation);
            Console.WriteLine($"Statistics: {Path.Combine(outDir, "stats.csv")}");
            foreach (var f in files) Console.WriteLine($"Wrote {f}");
            Console.WriteLine($"Checkpoint: {Path.Combine(outDir, "checkpoints")}");
            Console.WriteLine($"Output folder: {outDir}");
            return run.Finished ? 0 : 3;
        });
        return cmd;
    }

    static Command Evaluate()
    {
        var run = new Option<string>("--run") { Description = "A run folder written by align (its latest checkpoint is evaluated).", Required = true };
        var articles = new Option<int?>("--articles") { Description = "Number of held-out articles (default: the profile's)." };
        var cmd = new Command("evaluate", "Evaluate a run's latest checkpoint against the base policy and rewrite its report and charts.")
        {
            ProfileOption, DeviceOption, run, articles,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse);
            if (parse.GetValue(articles) is int n) config = config with { EvalArticles = n };
            EnsureOfflineAssets(config);
            var outDir = Path.GetFullPath(parse.GetValue(run)!);
            if (!RunCheckpoints.Exists(outDir))
                throw new DirectoryNotFoundException($"{outDir} holds no checkpoint (checkpoints/latest.json); run 'align --out {outDir}' first.");
            using var loaded = await AlignmentRun.CreateAsync(config, outDir, status: Console.Error.WriteLine, download: DownloadBar());
            var evaluation = loaded.Evaluate(log: Console.Error.WriteLine);
            PrintSummary(evaluation);
            foreach (var f in RunOutputs.Save(outDir, loaded.Log, evaluation)) Console.WriteLine($"Wrote {f}");
            return 0;
        });
        return cmd;
    }

    static Command Score()
    {
        var texts = new Argument<string[]>("texts") { Description = "Texts to score (default: the workshop's sanity check).", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("score", "Score texts with the profile's reward models (raw logits of each component and the weighted total).")
        {
            ProfileOption, DeviceOption, texts,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse);
            EnsureOfflineAssets(config);
            var input = parse.GetValue(texts) is { Length: > 0 } given ? given : ["hello", "I love you!", "I hate you"];
            var reward = await ProfileLoader.RewardAsync(config, download: DownloadBar());
            var scores = reward.Score(input);
            Console.WriteLine(string.Join("\t", new[] { "text" }.Concat(scores.Components.Keys).Append("total")));
            for (int i = 0; i < input.Length; i++)
                Console.WriteLine(string.Join("\t", new[] { input[i] }.Concat(scores.Components.Values.Select(c => c[i].ToString("F4", CultureInfo.InvariantCulture)))
                    .Append(scores.Total[i].ToString("F4", CultureInfo.InvariantCulture))));
            return 0;
        });
        return cmd;
    }

    static Command GenerateCommand()
    {
        var policy = new Option<string?>("--policy") { Description = "A policy folder or Hub id (default: the profile's policy); a run's checkpoint folder works too." };
        var count = new Option<int>("--articles") { Description = "Summarize this many held-out articles when no text is given.", DefaultValueFactory = _ => 3 };
        var sample = new Option<bool>("--sample") { Description = "Sample (seeded) instead of greedy decoding." };
        var texts = new Argument<string[]>("texts") { Description = "Articles to summarize.", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("generate", "Summarize articles with a policy.") { ProfileOption, DeviceOption, policy, count, sample, texts };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse); // generation needs no reward: the offline classifiers are not built here
            var policyFiles = await ProfileLoader.PolicyAsync(config, download: DownloadBar(), policy: parse.GetValue(policy));
            var device = ProfileLoader.Device(config.Device);
            var model = AutoModel.T5FromPretrained(policyFiles.Folder, device);
            var articles = parse.GetValue(texts) is { Length: > 0 } given ? given.ToList()
                : (await ProfileLoader.ArticlesAsync(config, "test")).Take(parse.GetValue(count)).Select(a => a.Text).ToList();
            var generation = parse.GetValue(sample) ? config.Generation with { Seed = 0 } : new GenerationConfig { MaxNewTokens = config.Generation.MaxNewTokens };
            var queries = PromptedBatch.Queries(articles, policyFiles.Tokenizer, config.MaxPromptTokens);
            using var output = Seq2SeqGenerator.Generate(model, queries, generation, device);
            var summaries = policyFiles.Tokenizer.Decode(output.ResponseIds());
            for (int i = 0; i < articles.Count; i++) Console.WriteLine($"ARTICLE: {articles[i]}\nSUMMARY: {summaries[i]}\n");
            return 0;
        });
        return cmd;
    }

    static Command Download()
    {
        var cmd = new Command("download", "Fetch a profile's models and data into the Hugging Face cache, for use later without network.") { ProfileOption };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profiles.Get(parse.GetValue(ProfileOption)!);
            if (config.Profile == "offline") { OfflineAssets.Prepare(status: Console.Error.WriteLine); return 0; }
            using var hub = new HubClient();
            var progress = DownloadBar();
            Console.WriteLine(await Pretrained.ResolveAsync(config.Policy, ["config.json", "spiece.model"], ["tokenizer_config.json", "generation_config.json", "special_tokens_map.json"], hub: hub, progress: progress, cancellationToken: cancellation));
            foreach (var spec in config.Rewards)
                Console.WriteLine(await Pretrained.ResolveAsync(spec.Model, ["config.json"], ["vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"], hub: hub, progress: progress, cancellationToken: cancellation));
            foreach (var split in new[] { "train", "test" })
                Console.WriteLine($"{config.Data} {split}: {(await NewsDataset.FromHubAsync(hub, config.Data, split, progress: progress, cancellationToken: cancellation)).Count} articles");
            Console.WriteLine($"Cached under {hub.Options.CacheDir}. Set HF_HUB_OFFLINE=1 to run without network.");
            return 0;
        });
        return cmd;
    }

    static Command Prepare()
    {
        var assets = new Option<string?>("--assets") { Description = "Output folder (default: assets/offline in the kit, or $RLHFKIT_ASSETS)." };
        var force = new Option<bool>("--force") { Description = "Rebuild the classifiers even if they exist." };
        var trainPolicy = new Option<bool>("--train-policy") { Description = "Also retrain the small summarizer (slow; its result is committed)." };
        var cmd = new Command("prepare", "Build the offline profile's models: two classifiers on the real pretrained all-MiniLM-L6-v2, and the small summarizer.")
        {
            assets, force, trainPolicy,
        };
        cmd.SetAction(parse =>
        {
            var result = OfflineAssets.Prepare(parse.GetValue(assets), parse.GetValue(force), parse.GetValue(trainPolicy), Console.Error.WriteLine);
            Console.WriteLine($"tone classifier: held-out accuracy {result.Tone.Accuracy:P1} (chance {result.Tone.ChanceAccuracy:P1})");
            Console.WriteLine($"acceptability classifier: held-out accuracy {result.Acceptability.Accuracy:P1} (chance {result.Acceptability.ChanceAccuracy:P1})");
            Console.WriteLine($"assets: {result.Directory} ({result.Elapsed.TotalSeconds:F0} s)");
            return 0;
        });
        return cmd;
    }

    static Command Bench()
    {
        var quick = new Option<bool>("--quick") { Description = "Small shapes (seconds): a smoke test, not representative figures." };
        var output = new Option<string>("--out", "-o") { Description = "Folder for bench.json and bench.md.", DefaultValueFactory = _ => Path.Combine("runs", "bench") };
        var threads = new Option<int?>("--threads") { Description = "torch.set_num_threads before measuring (default: TorchSharp's choice)." };
        var sections = new Option<string[]>("--sections")
        {
            Description = $"Sections to run (default all): {string.Join(", ", BenchmarkOptions.AllSections)}.",
            AllowMultipleArgumentsPerToken = true,
        };
        var repetitions = new Option<int?>("--reps") { Description = "Timed runs per measurement (median reported)." };
        var ppoSteps = new Option<int?>("--ppo-steps") { Description = "Measured PPO steps (default 1, after a warm-up step)." };
        var ppoEpochs = new Option<int?>("--ppo-epochs") { Description = "PPO epochs of the measured step (default 4, the workshop's; fewer for a quicker memory check)." };
        var policy = new Option<string?>("--policy") { Description = "A T5 folder to time generation on as well (default: the offline policy, assets/offline/policy)." };
        var cmd = new Command("bench", "Performance benchmarks: matmul peak, cached vs recomputed generation, a PPO step by phase with peak memory, reward scoring.")
        {
            quick, output, threads, sections, repetitions, ppoSteps, ppoEpochs, policy,
        };
        cmd.SetAction(parse =>
        {
            var folder = parse.GetValue(policy) ?? Path.Combine(OfflineAssets.DefaultDirectory(), "policy");
            if (!File.Exists(Path.Combine(folder, "config.json")))
            {
                Console.Error.WriteLine($"No T5 model in {folder}: skipping the policy generation benchmark.");
                folder = null;
            }
            var options = parse.GetValue(quick) ? BenchmarkOptions.Quick(folder) : BenchmarkOptions.Full(folder);
            options = options with { Threads = parse.GetValue(threads), Log = Console.Error.WriteLine };
            if (parse.GetValue(sections) is { Length: > 0 } chosen) options = options with { Sections = chosen.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList() };
            if (parse.GetValue(repetitions) is int reps) options = options with { Repetitions = reps };
            if (parse.GetValue(ppoSteps) is int steps) options = options with { PpoSteps = steps };
            if (parse.GetValue(ppoEpochs) is int epochs) options = options with { Ppo = options.Ppo with { PpoEpochs = epochs } };
            var report = PerformanceBenchmark.Run(options);
            Console.WriteLine(BenchmarkOutput.ToMarkdown(report));
            foreach (var f in BenchmarkOutput.Save(report, Path.GetFullPath(parse.GetValue(output)!))) Console.WriteLine($"Wrote {f}");
            return 0;
        });
        return cmd;
    }

    static void PrintSummary(EvaluationResult evaluation)
    {
        Console.WriteLine($"{"metric",-16}{"base",10}{"aligned",10}{"gain",10}{"95% CI of gain",26}{"rel.",9}");
        foreach (var m in evaluation.Summary)
            Console.WriteLine($"{m.Metric,-16}{m.BaseMean,10:F4}{m.AlignedMean,10:F4}{m.DiffMean,10:F4}{$"[{m.DiffCiLow:F4}, {m.DiffCiHigh:F4}]",26}{(double.IsNaN(m.RelativeGainPercent) ? "" : $"{m.RelativeGainPercent:F1}%"),9}");
    }

    static string Fmt(double? x) => x is double v ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
