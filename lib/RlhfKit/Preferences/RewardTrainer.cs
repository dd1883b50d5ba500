using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfKit.Common;
using RlhfKit.Loading;
using RlhfKit.Models;
using RlhfKit.Rewards;
using RlhfKit.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Preferences;

/// <summary>
/// Options of TRL's <c>RewardTrainer</c> (0.7.x <c>RewardConfig</c>: <c>max_length</c>, and transformers'
/// <c>TrainingArguments</c> for the loop: AdamW, batch 8, gradient clipping at 1.0) in C# naming. The learning rate is
/// TrainingArguments' 5e-5, meant for fine-tuning every layer; <see cref="OfflineRecipe"/> trains only the top block and
/// the head of all-MiniLM-L6-v2, which wants a larger rate. The learning rate is constant.
/// </summary>
public sealed record RewardConfig
{
    /// <summary>Longest response in tokens, special tokens included (<c>max_length</c>).</summary>
    public int MaxLength { get; init; } = 128;
    public double LearningRate { get; init; } = 5e-5;
    /// <summary>Pairs per optimiser step (<c>per_device_train_batch_size</c>, default 8).</summary>
    public int BatchSize { get; init; } = 8;
    public int Epochs { get; init; } = 1;
    public double? MaxGradNorm { get; init; } = 1.0;
    /// <summary>Score <c>prompt + " " + response</c> instead of the response alone. Off by default: the kit's rewards
    /// score summaries only (a <see cref="CompositeReward"/> component sees the generated text, not the article).</summary>
    public bool IncludePrompt { get; init; }
    /// <summary>For BERT classifiers: how many of the top encoder blocks train with the pooler and head (null: all;
    /// 0: head only). Lower blocks stay frozen.</summary>
    public int? TrainTopLayers { get; init; }
    public int Seed { get; init; }

    /// <summary>The offline profile's reward model: all-MiniLM-L6-v2's top block, pooler and a one-output head,
    /// 4 epochs at 3e-4, batches of 16 pairs.</summary>
    public static RewardConfig OfflineRecipe => new() { LearningRate = 3e-4, BatchSize = 16, Epochs = 4, TrainTopLayers = 1, MaxLength = 64 };

    public void Validate()
    {
        static void Require(bool ok, string name, string message)
        {
            if (!ok) throw new ArgumentException(message, name);
        }
        Require(MaxLength >= 2, nameof(MaxLength), $"MaxLength must be at least 2, got {MaxLength}.");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), $"LearningRate must be a positive number, got {LearningRate}.");
        Require(BatchSize >= 1, nameof(BatchSize), $"BatchSize must be at least 1, got {BatchSize}.");
        Require(Epochs >= 1, nameof(Epochs), $"Epochs must be at least 1, got {Epochs}.");
        Require(MaxGradNorm is null || (double.IsFinite(MaxGradNorm.Value) && MaxGradNorm > 0), nameof(MaxGradNorm), $"MaxGradNorm must be null or a positive number, got {MaxGradNorm}.");
        Require(TrainTopLayers is null or >= 0, nameof(TrainTopLayers), $"TrainTopLayers must be null or at least 0, got {TrainTopLayers}.");
    }
}

/// <summary>Pair accuracy of a reward model: the fraction of pairs whose chosen response scores strictly higher.</summary>
public sealed record PairAccuracy(double Accuracy, int Correct, int Total, double MeanMargin);

/// <summary>
/// Trains a sequence classifier with one output as a reward model on preference pairs, as TRL's <c>RewardTrainer</c>:
/// the Bradley-Terry loss <c>-log σ(r(chosen) - r(rejected))</c> averaged over pairs, where <c>r</c> is the classifier's
/// single logit, and the pair accuracy on held-out pairs. <see cref="Save"/> writes a Hugging Face folder that
/// <see cref="TextClassificationPipeline.FromPretrainedAsync"/> loads back; its <c>LABEL_0</c> logit is the reward
/// (<see cref="LearnedReward"/> makes it a <see cref="CompositeReward"/> component).
/// </summary>
/// <remarks>TRL's <c>compute_accuracy</c> takes the argmax of (chosen, rejected), so a tie counts as correct there; the
/// kit counts a tie as wrong. TRL's optional <c>margin</c> column is not read. Dispose the trainer to free its AdamW
/// moments (made on the first <see cref="Train"/>); the model is the caller's and stays usable.</remarks>
public sealed class RewardTrainer : IDisposable
{
    public RewardTrainer(ISequenceClassifier model, IHfTokenizer tokenizer, RewardConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (model is not nn.Module) throw new ArgumentException("The reward model must be a TorchSharp module.", nameof(model));
        if (model.Id2Label.Count != 1) throw new ArgumentException($"A reward model has one output (num_labels = 1); this one has {model.Id2Label.Count} labels ({string.Join(", ", model.Id2Label)}).", nameof(model));
        Model = model;
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Config = config;
    }

    public ISequenceClassifier Model { get; }
    public IHfTokenizer Tokenizer { get; }
    public RewardConfig Config { get; }
    nn.Module Module => (nn.Module)Model;
    Device Device => Module.parameters().First().device;

    // trl.trainer.reward_trainer.RewardTrainer.compute_loss
    /// <summary>The Bradley-Terry loss <c>mean(-log σ(chosen - rejected))</c> of reward tensors [B] (or [B, 1]).</summary>
    public static Tensor Loss(Tensor chosenRewards, Tensor rejectedRewards)
    {
        using var scope = NewDisposeScope();
        return (-nn.functional.logsigmoid(chosenRewards - rejectedRewards)).mean().MoveToOuterDisposeScope();
    }

    string Text(PreferencePair p, string response) => Config.IncludePrompt ? p.Prompt + " " + response : response;

    /// <summary>Rewards [texts] (the single logit) of <paramref name="texts"/>, with gradients when enabled.</summary>
    Tensor Rewards(IReadOnlyList<string> texts)
    {
        using var scope = NewDisposeScope();
        var rows = texts.Select(t => Tokenizer.Encode(t, addSpecialTokens: true, maxLength: Math.Min(Config.MaxLength, Model.MaxTokens)).Select(i => (long)i).ToArray()).ToList();
        var (ids, mask) = Batching.PadRight(rows, Model.PadTokenId);
        using var output = Model.Forward(ids.to(Device), mask.to(Device));
        return output.Logits[.., 0].clone().MoveToOuterDisposeScope();
    }

    /// <summary>Trainable parameters: all, or for BERT with <see cref="RewardConfig.TrainTopLayers"/> the top blocks,
    /// the pooler and the classifier.</summary>
    List<TorchSharp.Modules.Parameter> Trainable()
    {
        foreach (var p in Module.parameters()) p.requires_grad = false;
        IEnumerable<nn.Module> parts = [Module];
        if (Config.TrainTopLayers is int top && Model is BertForSequenceClassification bert)
        {
            var layers = bert.bert.encoder.layer;
            if (top > layers.Count) throw new ArgumentException($"TrainTopLayers ({top}) exceeds the encoder's {layers.Count} blocks.");
            parts = new List<nn.Module> { bert.bert.pooler!, bert.classifier }.Concat(Enumerable.Range(layers.Count - top, top).Select(i => (nn.Module)layers[i]));
        }
        var trainable = parts.SelectMany(m => m.parameters()).ToList();
        foreach (var p in trainable) p.requires_grad = true;
        return trainable;
    }

    TorchSharp.Modules.AdamW? _optimizer;
    List<TorchSharp.Modules.Parameter>? _parameters;
    bool _disposed;

    /// <summary>The AdamW optimiser of the trainable parameters, made on first use and kept, so its moments carry over
    /// between <see cref="Train"/> calls and through <see cref="SaveOptimizer"/> / <see cref="LoadOptimizer"/>.</summary>
    (List<TorchSharp.Modules.Parameter> Parameters, TorchSharp.Modules.AdamW Optimizer) Optimizer()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_optimizer is null)
        {
            _parameters = Trainable();
            _optimizer = Optimizers.AdamW(_parameters, lr: Config.LearningRate, weight_decay: 0);
        }
        else foreach (var p in _parameters!) p.requires_grad = true;
        return (_parameters!, _optimizer);
    }

    /// <summary>Trains for <see cref="RewardConfig.Epochs"/> epochs over shuffled <paramref name="train"/> pairs;
    /// <paramref name="onStep"/> gets (step, epoch, loss) after each optimiser step. The first
    /// <paramref name="startStep"/> batches are passed over (a resumed run: the order depends only on the seed) and the
    /// run ends after <paramref name="maxSteps"/> batches in all. Returns the mean loss of each epoch trained.</summary>
    public List<double> Train(IReadOnlyList<PreferencePair> train, Action<int, int, double>? onStep = null, int startStep = 0, int? maxSteps = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count == 0) throw new ArgumentException("Training needs at least one pair.", nameof(train));
        ArgumentOutOfRangeException.ThrowIfNegative(startStep);
        var (parameters, optimizer) = Optimizer();
        var epochLosses = new List<double>();
        int step = 0;
        try
        {
            for (int epoch = 0; epoch < Config.Epochs; epoch++)
            {
                var order = Seeding.Permutation(train.Count, Seeding.Derive(Config.Seed, epoch, stream: 0));
                double sum = 0; int batches = 0;
                for (int start = 0; start < order.Length; start += Config.BatchSize)
                {
                    if (maxSteps is int max && step >= max) break;
                    if (step < startStep) { step++; continue; }
                    using var scope = NewDisposeScope();
                    // Dropout on, as transformers' Trainer trains (TRL's RewardTrainer keeps it).
                    Module.train();
                    var pairs = order.Skip(start).Take(Config.BatchSize).Select(i => train[i]).ToList();
                    var rewards = Rewards(pairs.Select(p => Text(p, p.Chosen)).Concat(pairs.Select(p => Text(p, p.Rejected))).ToList());
                    var loss = Loss(rewards[..pairs.Count], rewards[pairs.Count..]);
                    optimizer.zero_grad();
                    loss.backward();
                    var norm = nn.utils.clip_grad_norm_(parameters, Config.MaxGradNorm ?? double.PositiveInfinity);
                    if (double.IsFinite(norm)) optimizer.step()?.Dispose();
                    var value = loss.item<float>();
                    sum += value; batches++;
                    onStep?.Invoke(step++, epoch, value);
                }
                if (batches > 0) epochLosses.Add(sum / batches);
            }
        }
        finally
        {
            Module.eval();
            foreach (var p in Module.parameters()) p.requires_grad = false;
        }
        return epochLosses;
    }

    /// <summary>Saves the AdamW moments (atomically), so a resumed run continues the same optimisation.</summary>
    public void SaveOptimizer(string path)
    {
        var temp = AtomicFile.TempSibling(path);
        Optimizer().Optimizer.save_state_dict(temp);
        AtomicFile.Publish(temp, path);
    }

    /// <summary>Loads moments saved by <see cref="SaveOptimizer"/> into this trainer's optimiser.</summary>
    public void LoadOptimizer(string path)
    {
        Optimizer().Optimizer.load_state_dict(path);
        foreach (var p in Module.parameters()) p.requires_grad = false;
    }

    /// <summary>Frees the optimiser's moments (and its step buffer); the model keeps its trained weights, and
    /// <see cref="Score"/>, <see cref="Accuracy"/> and <see cref="Save"/> still work. Training or the optimiser's state
    /// after that throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _optimizer?.Dispose();
        _optimizer = null;
        _parameters = null;
    }

    /// <summary>Rewards of many texts without gradients, in batches of 64.</summary>
    public float[] Score(IReadOnlyList<string> texts)
    {
        Module.eval();
        using var noGrad = no_grad();
        var result = new List<float>();
        for (int start = 0; start < texts.Count; start += 64)
        {
            using var r = Rewards(texts.Skip(start).Take(64).ToList());
            using var cpu = r.to_type(float32).cpu();
            result.AddRange(cpu.data<float>().ToArray());
        }
        return result.ToArray();
    }

    // trl.trainer.utils.compute_accuracy
    /// <summary>The fraction of <paramref name="pairs"/> whose chosen response gets the strictly higher reward, and the
    /// mean margin <c>r(chosen) - r(rejected)</c>.</summary>
    public PairAccuracy Accuracy(IReadOnlyList<PreferencePair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) throw new ArgumentException("Accuracy needs at least one pair.", nameof(pairs));
        var chosen = Score(pairs.Select(p => Text(p, p.Chosen)).ToList());
        var rejected = Score(pairs.Select(p => Text(p, p.Rejected)).ToList());
        int correct = chosen.Zip(rejected).Count(x => x.First > x.Second);
        return new PairAccuracy((double)correct / pairs.Count, correct, pairs.Count, chosen.Zip(rejected).Average(x => (double)x.First - x.Second));
    }

    /// <summary>Writes a folder <c>transformers</c> and <see cref="TextClassificationPipeline.FromPretrainedAsync"/> load:
    /// config.json (one label, <c>LABEL_0</c>), model.safetensors, the tokenizer's files (name to contents, e.g.
    /// <c>vocab.txt</c> and <c>tokenizer_config.json</c>), and <c>metrics.json</c> when given.</summary>
    public void Save(string folder, IReadOnlyDictionary<string, byte[]> tokenizerFiles, object? metrics = null)
    {
        var config = Model switch
        {
            BertForSequenceClassification b => (PretrainedConfig)b.Config,
            RobertaForSequenceClassification r => r.Config,
            _ => throw new NotSupportedException($"Saving a {Model.GetType().Name} is not supported (BERT and RoBERTa are)."),
        };
        var files = new Dictionary<string, byte[]>(tokenizerFiles);
        if (metrics is not null) files["metrics.json"] = JsonSerializer.SerializeToUtf8Bytes(metrics);
        var state = Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach());
        PretrainedFolder.Save(folder, config, state, files);
    }

    /// <summary>A reward model on the real pretrained all-MiniLM-L6-v2 (the offline profile's encoder) with a fresh
    /// one-output head drawn from <paramref name="seed"/>, its WordPiece tokenizer, and the tokenizer files
    /// <see cref="Save"/> needs.</summary>
    public static (BertForSequenceClassification Model, BertTokenizer Tokenizer, Dictionary<string, byte[]> TokenizerFiles) MiniLmRewardModel(int seed = 0)
    {
        manual_seed(seed);
        var model = new BertForSequenceClassification(MiniLm.Config(numLabels: 1));
        MiniLm.LoadEncoderInto(model.bert);
        model.eval();
        var vocab = Path.Combine(Path.GetTempPath(), $"rlhfkit-minilm-vocab-{Environment.ProcessId}-{Guid.NewGuid():N}.txt");
        try
        {
            MiniLm.WriteVocab(vocab);
            var tokenizer = BertTokenizer.FromVocab(vocab, doLowerCase: true);
            var files = new Dictionary<string, byte[]>
            {
                ["vocab.txt"] = File.ReadAllBytes(vocab),
                ["tokenizer_config.json"] = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = true, ["model_max_length"] = 512 }),
            };
            return (model, tokenizer, files);
        }
        finally { File.Delete(vocab); }
    }
}

/// <summary>A learned reward model as a <see cref="CompositeReward"/> component: its single (<c>LABEL_0</c>) raw logit.</summary>
public static class LearnedReward
{
    /// <summary>Loads the reward model folder <paramref name="folder"/> (written by <see cref="RewardTrainer.Save"/>)
    /// as a pipeline and wraps its logit as a component named <paramref name="name"/>.</summary>
    public static ClassifierLogitReward Load(string folder, string name = "learned", Device? device = null)
    {
        var pipeline = Task.Run(() => TextClassificationPipeline.FromPretrainedAsync(folder, device)).GetAwaiter().GetResult();
        if (pipeline.Labels.Count != 1) throw new InvalidDataException($"{Path.Combine(folder, "config.json")}: a reward model has one label; this one has {pipeline.Labels.Count}.");
        return new ClassifierLogitReward(name, pipeline, pipeline.Labels[0]);
    }
}
