using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using RlhfKit.Alignment;
using RlhfKit.Benchmarks;
using RlhfKit.Data;
using RlhfKit.Evaluation;
using RlhfKit.Generation;
using RlhfKit.Hub;
using RlhfKit.Loading;
using RlhfKit.Ppo;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;

namespace RlhfKit.Cli;

internal static class Commands
{
    static readonly Option<string> ProfileOption = new("--profile", "-p")
    {
        Description = $"Which models and settings: {string.Join(", ", Profiles.Names)} (only offline needs no network).",
        DefaultValueFactory = _ => "offline",
    };

    static readonly Option<int?> EvalSamplesOption = new("--eval-samples") { Description = "Summaries each policy samples of every held-out article; gains are averaged per article before their intervals (default: the profile's, 4 offline)." };
    static readonly Option<string> DeviceOption = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };

    static readonly Option<string?> AssetsOption = new("--assets")
    {
        Description = "The offline profile's models folder (default: $RLHFKIT_ASSETS, else assets/offline in the kit).",
    };

    /// <summary>On every verb: print the full error and its stack trace (also <c>RLHFKIT_VERBOSE=1</c>).</summary>
    static readonly Option<bool> VerboseOption = new("--verbose")
    {
        Description = $"On failure, print the full error and its stack trace (also {CliErrors.VerboseVariable}=1).",
        Recursive = true,
    };

    /// <summary>Parses and runs a command line: what <c>Program</c> does, and what the tests call.</summary>
    public static Task<int> InvokeAsync(string[] args, CancellationToken cancellationToken = default) => InvokeAsync(Build(), args, cancellationToken);

    /// <summary>
    /// Runs <paramref name="args"/> against <paramref name="root"/> with the kit's error reporting (<see cref="CliErrors"/>):
    /// parse errors print one line each and exit with <see cref="ExitCodes.Usage"/>; an exception from a verb prints
    /// one line for expected errors and the stack trace for unexpected ones, or always with <c>--verbose</c>.
    /// </summary>
    internal static async Task<int> InvokeAsync(RootCommand root, string[] args, CancellationToken cancellationToken = default)
    {
        if (!root.Options.Contains(VerboseOption)) root.Options.Add(VerboseOption);
        var parse = root.Parse(args);
        var verbose = CliErrors.VerboseFromEnvironment() || (parse.GetResult(VerboseOption) is not null && parse.GetValue(VerboseOption));
        if (parse.Errors.Count > 0)
        {
            foreach (var message in parse.Errors.Select(e => CliErrors.OneLine(e.Message)).Distinct())
                Console.Error.WriteLine($"error: {message}");
            var verb = ReferenceEquals(parse.CommandResult.Command, root) ? "" : " " + parse.CommandResult.Command.Name;
            Console.Error.WriteLine($"(bad option; exit code {ExitCodes.Usage}. See 'rlhf{verb} --help'.)");
            return ExitCodes.Usage;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (Exception e)
        {
            return CliErrors.Report(e, verbose, Console.Error);
        }
    }

    public static RootCommand Build()
    {
        var root = new RootCommand("RlhfKit: align FLAN-T5 news summaries with PPO (the workshop's loop as commands).");
        root.Options.Add(VerboseOption);
        root.Subcommands.Add(Align());
        root.Subcommands.Add(Evaluate());
        root.Subcommands.Add(Score());
        root.Subcommands.Add(GenerateCommand());
        root.Subcommands.Add(Download());
        root.Subcommands.Add(Prepare());
        root.Subcommands.Add(Bench());
        root.Subcommands.Add(PreferenceCommands.RewardModel());
        root.Subcommands.Add(PreferenceCommands.Dpo(ProfileOption, DeviceOption));
        root.Subcommands.Add(PreferenceCommands.Preferences(ProfileOption, DeviceOption));
        root.Subcommands.Add(PreferenceCommands.Compare(ProfileOption, DeviceOption));
        return root;
    }

    static AlignmentConfig Profile(ParseResult parse) => ProfileOnly(parse) with { Device = parse.GetValue(DeviceOption)! };

    /// <summary>The profile named by <c>--profile</c>; the offline one with its models in <c>--assets</c> when given.</summary>
    static AlignmentConfig ProfileOnly(ParseResult parse)
    {
        var name = parse.GetValue(ProfileOption)!;
        var assets = parse.GetValue(AssetsOption);
        return assets is not null && name.Equals("offline", StringComparison.OrdinalIgnoreCase) ? Profiles.Offline(Path.GetFullPath(assets)) : Profiles.Get(name);
    }

    static string AssetsDirectory(ParseResult parse) => parse.GetValue(AssetsOption) is { } dir ? Path.GetFullPath(dir) : OfflineAssets.DefaultDirectory();

    static IProgress<HubDownloadProgress> DownloadBar()
    {
        var bars = new Dictionary<string, ConsoleProgress>();
        return new SyncProgress<HubDownloadProgress>(p =>
        {
            if (!bars.TryGetValue(p.FileName, out var bar)) bars[p.FileName] = bar = new ConsoleProgress($"download {p.FileName}");
            bar.Update(p.BytesDownloaded, Math.Max(1, p.TotalBytes), $"{ConsoleProgress.Bytes(p.BytesDownloaded)} / {ConsoleProgress.Bytes(p.TotalBytes)}");
        });
    }

    /// <summary>On the offline profile, builds what the verb needs and is missing: the reward classifiers, and the
    /// policy only when <paramref name="policy"/> (a verb that scores needs no policy).</summary>
    static void EnsureOfflineAssets(AlignmentConfig config, ParseResult parse, bool policy = true)
    {
        if (config.Profile != "offline") return;
        var dir = AssetsDirectory(parse);
        if (policy ? OfflineAssets.IsPrepared(dir) : OfflineAssets.ClassifiersPrepared(dir)) return;
        Console.Error.WriteLine("The offline models are not built yet: preparing them now (a few minutes, once).");
        OfflineAssets.Prepare(dir, status: Console.Error.WriteLine, buildPolicy: policy);
    }

    static Command Align()
    {
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (default runs/<profile>-<time>). An existing run folder resumes from its last checkpoint." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many PPO steps." };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the final evaluation." };
        var evalArticles = new Option<int?>("--eval-articles") { Description = "Evaluate on this many held-out articles (default: the profile's; at least 2)." };
        var checkpointEvery = new Option<int?>("--checkpoint-every") { Description = "Write a checkpoint every N steps (default: the profile's)." };
        var seed = new Option<int?>("--seed") { Description = "PPO's seed (TRL's PPOConfig.seed): the value head's start, the order of the articles and the rollouts' sampling (default: the profile's, 0). The evaluation's sampling does not change with it." };
        var noKl = new Option<bool>("--no-kl") { Description = "Train without the KL penalty (coefficient 0, not adapted): the lesson's reward-hacking run. The KL is still measured." };
        var dtype = new Option<string?>("--dtype") { Description = "Compute type of rollouts and reward scoring: float32 or bfloat16 (the PPO update stays float32; float16 is refused: T5 overflows it). Default: float32, except that the workshop profiles score rewards in bfloat16 on a CPU with native bfloat16 (AVX512-BF16 or AMX)." };
        var updateDtype = new Option<string?>("--update-dtype") { Description = "Compute type of the PPO update's matrix products: float32 (default) or bfloat16 (autocast: float32 weights, gradients and optimiser; faster on CPUs with AVX512-BF16 or AMX)." };
        var cmd = new Command("align", "Run PPO alignment end to end: load, train with progress, checkpoint, evaluate, write charts and a report.")
        {
            ProfileOption, DeviceOption, AssetsOption, output, maxSteps, noEval, evalArticles, EvalSamplesOption, dtype, updateDtype, noKl, checkpointEvery, seed,
            PreferenceCommands.AlignRewardModel, PreferenceCommands.AlignRewardWeight, PreferenceCommands.AlignKeepClassifiers, PreferenceCommands.AlignInitKlCoef,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse);
            if (parse.GetValue(maxSteps) is int steps) config = config with { MaxSteps = steps };
            if (parse.GetValue(evalArticles) is int n)
            {
                if (n < 2) return Usage($"--eval-articles must be at least 2, for a confidence interval (got {n}).");
                config = config with { EvalArticles = n };
            }
            if (WithEvalSamples(parse, ref config) is int bad) return bad;
            if (parse.GetValue(dtype) is string type) config = config with { InferenceDType = type, RewardDType = type };
            if (parse.GetValue(updateDtype) is string update) config = config with { UpdateDType = update };
            if (parse.GetValue(noKl)) config = config.WithoutKlPenalty();
            if (parse.GetValue(checkpointEvery) is int every) config = config with { CheckpointEvery = every };
            if (parse.GetValue(seed) is int s) config = config with { Ppo = config.Ppo with { Seed = s } };
            config = PreferenceCommands.ApplyRewardModel(parse, config); // --reward-model: PPO on a learned reward
            config.Validate(); // names a bad --dtype or --update-dtype before anything loads
            var outDir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", $"{config.Profile}-{DateTime.Now:yyyyMMdd-HHmmss}"));
            EnsureOfflineAssets(config, parse);

            // Ctrl+C and SIGTERM (docker stop, timeout, schedulers) finish the current step and write a checkpoint; run the
            // same command again to resume. A second signal ends the process at once.
            using var stop = new CancellationTokenSource();
            void Stop(string what)
            {
                Console.Error.WriteLine($"\n{what}: stopping after this step (checkpoint follows)...");
                stop.Cancel();
            }
            Console.CancelKeyPress += (_, e) => { if (stop.IsCancellationRequested) return; e.Cancel = true; Stop("Ctrl+C"); };
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { if (stop.IsCancellationRequested) return; c.Cancel = true; Stop("SIGTERM"); });

            AlignmentRun run;
            try { run = await AlignmentRun.CreateAsync(config, outDir, status: Console.Error.WriteLine, download: DownloadBar()); }
            catch (RunFolderLockedException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return ExitCodes.FolderInUse;
            }
            using var owned = run;
            run.Warn = m => Console.Error.WriteLine("\nwarning: " + m);
            var bar = new ConsoleProgress("align");
            run.Progress += p => bar.Update(p.Step, p.TotalSteps,
                $"step {p.Step}/{p.TotalSteps}  reward {Fmt(p.RewardMean)}  KL {Fmt(p.Kl)}  {p.Phase}  {(p.Remaining is TimeSpan r ? $"~{r:mm\\:ss} left" : "")}", force: p.Phase != "generating");
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, cancellation);
            try { run.Train(linked.Token); }
            catch (CheckpointWriteException e)
            {
                Console.Error.WriteLine("\nerror: " + e.Message);
                return ExitCodes.CheckpointFailed;
            }
            if (!run.Finished && run.StopReason is null)
                Console.Error.WriteLine($"Stopped at step {run.Trainer.StepCount} of {run.TotalSteps} (checkpoint {run.Checkpoints.Latest()?.Name}); run the same command again to resume.");

            EvaluationResult? evaluation = null;
            if (!parse.GetValue(noEval) && run.Finished)
            {
                Console.Error.WriteLine($"Evaluating base against aligned on {run.EvalData.Count} held-out articles ({run.Config.EvalSamples} sample{(run.Config.EvalSamples == 1 ? "" : "s")} of each)...");
                evaluation = run.Evaluate(log: Console.Error.WriteLine);
                PrintSummary(evaluation);
            }
            var files = RunOutputs.Save(outDir, run.Log, evaluation);
            Console.WriteLine($"Statistics: {Path.Combine(outDir, "stats.csv")}");
            foreach (var f in files) Console.WriteLine($"Wrote {f}");
            Console.WriteLine($"Checkpoint: {Path.Combine(outDir, "checkpoints")}");
            Console.WriteLine($"Output folder: {outDir}");
            return run.Finished ? ExitCodes.Ok : ExitCodes.Unfinished;
        });
        return cmd;
    }

    static Command Evaluate()
    {
        var run = new Option<string>("--run") { Description = "A run folder written by align (its latest checkpoint is evaluated).", Required = true };
        var articles = new Option<int?>("--articles") { Description = "Number of held-out articles (default: the profile's)." };
        var bestOf = new Option<int[]>("--best-of") { Description = "Also compare best-of-n of the base policy (TRL's BestOfNSampler), e.g. --best-of 4 16; writes methods.csv.", AllowMultipleArgumentsPerToken = true };
        var compare = new Option<string[]>("--compare") { Description = "Also compare other run folders' latest checkpoints (e.g. an align --no-kl run) on the same articles and seeds; writes methods.csv.", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("evaluate", "Evaluate a run's latest checkpoint against the base policy and rewrite its report and charts.")
        {
            ProfileOption, DeviceOption, AssetsOption, run, articles, EvalSamplesOption, bestOf, compare,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            // Arguments first: nothing loads or builds before they are known to be usable.
            var config = Profile(parse);
            if (parse.GetValue(articles) is int n)
            {
                if (n < 2) return Usage($"--articles must be at least 2, for a confidence interval (got {n}; EvalArticles needs 2 or more).");
                config = config with { EvalArticles = n };
            }
            if (WithEvalSamples(parse, ref config) is int bad) return bad;
            var ns = parse.GetValue(bestOf) ?? [];
            if (ns.Any(k => k < 1)) return Usage($"--best-of takes sample counts of 1 or more (got {ns.First(k => k < 1)}).");
            var outDir = Path.GetFullPath(parse.GetValue(run)!);
            var others = (parse.GetValue(compare) ?? []).Select(Path.GetFullPath).ToList();
            foreach (var folder in others.Prepend(outDir))
            {
                if (!Directory.Exists(folder)) return Missing($"The run folder {folder} does not exist.");
                if (!RunCheckpoints.Exists(folder)) return Missing($"{folder} holds no checkpoint (checkpoints/latest.json or a step-* folder); run 'align --out {folder}' first.");
            }
            config.Validate();
            ProfileLoader.Device(config.Device);
            EnsureOfflineAssets(config, parse);

            // Evaluation only reads the run (RunSnapshot): stats.jsonl, stats.csv and temporaries stay as they are. It
            // writes its report only while holding the run folder's lock; while align holds it, it prints and writes nothing.
            RunFolderLock? writer = null;
            try { writer = RunFolderLock.Acquire(outDir, "evaluate", Console.Error.WriteLine); }
            catch (RunFolderLockedException e)
            {
                Console.Error.WriteLine($"note: {e.Folder} is in use by {e.HolderText}: evaluating its latest checkpoint read-only, without writing the report.");
            }
            using var held = writer;
            using var snapshot = await RunSnapshot.OpenAsync(config, outDir, status: Console.Error.WriteLine, download: DownloadBar());
            var evaluation = snapshot.Evaluate(log: Console.Error.WriteLine);
            PrintSummary(evaluation);
            var methods = new List<MethodResult> { new(Path.GetFileName(outDir), evaluation) };
            foreach (var folder in others)
            {
                // Another run of the same profile: the same articles and seeds give the same base summaries, so gains pair.
                using var other = await RunSnapshot.OpenAsync(config, folder, status: Console.Error.WriteLine);
                methods.Add(new(Path.GetFileName(folder), other.Evaluate(log: Console.Error.WriteLine)));
            }
            foreach (var k in ns)
            {
                Console.Error.WriteLine($"Best-of-{k} of the base policy on the same articles...");
                methods.Add(new($"best-of-{k}", snapshot.EvaluateBestOfN(evaluation, k)));
            }
            if (methods.Count > 1) PrintMethods(methods);
            var changes = ChangedWords.Compute(evaluation.Rows.Select(r => r.BaseSummary), evaluation.Rows.Select(r => r.AlignedSummary), top: 8, minCount: 2);
            Console.WriteLine("Words the aligned summaries use more (+) and less (-), per 1,000 words: "
                + string.Join(", ", changes.Select(c => $"{c.Word} {c.Change:+0.0;-0.0}")));
            if (writer is null) return 0;
            foreach (var f in RunOutputs.Save(outDir, snapshot.Log, evaluation)) Console.WriteLine($"Wrote {f}");
            if (methods.Count > 1)
                foreach (var f in RunOutputs.SaveComparison(outDir, methods, changes)) Console.WriteLine($"Wrote {f}");
            return 0;
        });
        return cmd;
    }

    static Command Score()
    {
        var texts = new Argument<string[]>("texts") { Description = "Texts to score (default: the workshop's sanity check).", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("score", "Score texts with the profile's reward models (raw logits of each component and the weighted total).")
        {
            ProfileOption, DeviceOption, AssetsOption, texts,
        };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse);
            config.Validate();
            EnsureOfflineAssets(config, parse, policy: false); // scoring needs the classifiers only, no policy
            var input = parse.GetValue(texts) is { Length: > 0 } given ? given : ["hello", "I love you!", "I hate you"];
            if (EmptyText(input) is { } empty) return Usage(empty);
            var reward = await ProfileLoader.RewardAsync(config, download: DownloadBar());
            foreach (var member in reward.Members.OfType<ClassifierLogitReward>())
            {
                var pipeline = member.Pipeline;
                for (int i = 0; i < input.Length; i++)
                    if (pipeline.Tokenizer.Encode(input[i], addSpecialTokens: true).Count is var tokens && tokens > pipeline.MaxTokens)
                        Console.Error.WriteLine($"warning: text {i + 1} ({input[i].Length:N0} characters) is {tokens:N0} tokens; the {member.Name} classifier reads only the first {pipeline.MaxTokens} (the rest is cut off).");
            }
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
        var cmd = new Command("generate", "Summarize articles with a policy.") { ProfileOption, DeviceOption, AssetsOption, policy, count, sample, texts };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = Profile(parse); // generation needs no reward: the offline classifiers are not built here
            var given = parse.GetValue(texts) ?? [];
            if (EmptyText(given) is { } empty) return Usage(empty);
            if (given.Length == 0 && parse.GetValue(count) < 1) return Usage($"--articles must be at least 1 (got {parse.GetValue(count)}).");
            if (parse.GetValue(policy) is { } named && (named.StartsWith('.') || Path.IsPathRooted(named)) && !Directory.Exists(named))
                return Missing($"The policy folder {Path.GetFullPath(named)} does not exist.");
            var device = ProfileLoader.Device(config.Device);
            var policyFiles = await ProfileLoader.PolicyAsync(config, download: DownloadBar(), policy: parse.GetValue(policy));
            // Through the value-head loader, so a PPO checkpoint (the kit's or TRL's, v_head.* beside the T5) works too.
            var model = Seq2SeqLMWithValueHead.FromPretrained(policyFiles.Folder, device).pretrained_model;
            var articles = given.Length > 0 ? given.ToList()
                : (await ProfileLoader.ArticlesAsync(config, "test")).Take(parse.GetValue(count)).Select(a => a.Text).ToList();
            for (int i = 0; i < articles.Count; i++)
                if (policyFiles.Tokenizer.Encode(NewsDataset.Prompt(articles[i]), addSpecialTokens: true).Count is var tokens && tokens > config.MaxPromptTokens)
                    Console.Error.WriteLine($"warning: article {i + 1} ({articles[i].Length:N0} characters) is {tokens:N0} tokens with its prompt; the policy reads only the first {config.MaxPromptTokens} (the rest is cut off).");
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
        var cmd = new Command("download", "Fetch a profile's models and data into the Hugging Face cache, for use later without network.") { ProfileOption, AssetsOption };
        cmd.SetAction(async (parse, cancellation) =>
        {
            var config = ProfileOnly(parse);
            if (config.Profile == "offline") { OfflineAssets.Prepare(AssetsDirectory(parse), status: Console.Error.WriteLine); return 0; }
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
        var only = new Option<string?>("--only") { Description = "Retrain only this classifier (tone or acceptability) into the assets folder, and print its held-out accuracy." };
        var cmd = new Command("prepare", "Build the offline profile's models: two classifiers on the real pretrained all-MiniLM-L6-v2, and the small summarizer.")
        {
            assets, force, trainPolicy, only,
        };
        cmd.SetAction(parse =>
        {
            if (parse.GetValue(only) is string name)
            {
                if (parse.GetValue(trainPolicy)) throw new ArgumentException("--only retrains one classifier; it does not go with --train-policy.");
                var metrics = OfflineAssets.Retrain(name, parse.GetValue(assets), Console.Error.WriteLine);
                Console.WriteLine($"{name} classifier: held-out accuracy {metrics.Accuracy:P1} ({metrics.Correct}/{metrics.Total}, chance {metrics.ChanceAccuracy:P1})");
                return 0;
            }
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
        var dtype = new Option<string?>("--dtype") { Description = "Compute type of the generation, PPO and reward sections: float32 (default) or bfloat16 (models cast to bfloat16, the PPO update under bfloat16 autocast). The agreement section compares both either way." };
        var cmd = new Command("bench", "Performance benchmarks: matmul peak, cached vs recomputed generation, a PPO step by phase with peak memory, reward scoring, bfloat16 agreement.")
        {
            quick, output, threads, sections, repetitions, ppoSteps, ppoEpochs, policy, dtype,
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
            if (parse.GetValue(dtype) is string type)
                options = options with
                {
                    DType = type.ToLowerInvariant() switch
                    {
                        "float32" or "float" => null,
                        "bfloat16" or "bf16" => TorchSharp.torch.ScalarType.BFloat16,
                        _ => throw new ArgumentException($"--dtype '{type}' is not one of float32, bfloat16."),
                    },
                };
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

    static void PrintMethods(IReadOnlyList<MethodResult> methods)
    {
        var frame = MethodComparison.ToDataFrame(methods);
        Console.WriteLine($"{"method",-22}{"metric",-16}{"mean",10}{"gain",10}{"95% CI of gain",26}");
        for (long r = 0; r < frame.Rows.Count; r++)
            Console.WriteLine($"{frame["method"][r],-22}{frame["metric"][r],-16}{(double)frame["mean"][r]!,10:F4}{(double)frame["gain"][r]!,10:F4}{$"[{(double)frame["gain_ci_low"][r]!:F4}, {(double)frame["gain_ci_high"][r]!:F4}]",26}");
    }

    /// <summary>Applies <c>--eval-samples</c>; the usage exit code when it is below 1, else null.</summary>
    static int? WithEvalSamples(ParseResult parse, ref AlignmentConfig config)
    {
        if (parse.GetValue(EvalSamplesOption) is not int k) return null;
        if (k < 1) return Usage($"--eval-samples must be at least 1 (got {k}).");
        config = config with { EvalSamples = k };
        return null;
    }

    static int Usage(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return ExitCodes.Usage;
    }

    /// <summary>A needed file or folder is missing: one line, <see cref="ExitCodes.NoInput"/>.</summary>
    static int Missing(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return ExitCodes.NoInput;
    }

    /// <summary>A message naming the first empty (or blank) text, or null when every text has content.</summary>
    static string? EmptyText(IReadOnlyList<string> texts)
    {
        for (int i = 0; i < texts.Count; i++)
            if (string.IsNullOrWhiteSpace(texts[i])) return $"text {i + 1} of {texts.Count} is empty; give each text some words (or none at all for the defaults).";
        return null;
    }

    static string Fmt(double? x) => x is double v ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
