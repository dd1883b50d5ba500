namespace RlhfKit.Rewards;

/// <summary>Scores a batch of texts; one number per text, higher is better.</summary>
public interface IRewardComponent
{
    string Name { get; }
    float[] Score(IReadOnlyList<string> texts);
}

/// <summary>The raw logit of one label of a classifier: the workshop's neutral (sentiment <c>LABEL_1</c>) and
/// acceptability (CoLA <c>LABEL_1</c>) rewards.</summary>
public sealed class ClassifierLogitReward(string name, TextClassificationPipeline pipeline, string label) : IRewardComponent
{
    public string Name { get; } = name;
    public TextClassificationPipeline Pipeline { get; } = pipeline;
    public string Label { get; } = label;
    public float[] Score(IReadOnlyList<string> texts) => Pipeline.LabelScores(texts, Label, FunctionToApply.None);
}

/// <summary>Any function from texts to scores, so attendees can add their own component in a notebook cell.</summary>
public sealed class FunctionReward(string name, Func<string, float> score) : IRewardComponent
{
    public string Name { get; } = name;
    public float[] Score(IReadOnlyList<string> texts) => texts.Select(score).ToArray();
}

/// <summary>Per text: the weighted total and each component's raw score.</summary>
public sealed record RewardBreakdown(float[] Total, IReadOnlyDictionary<string, float[]> Components);

/// <summary>
/// A weighted sum of named reward components, <c>total = Σ_k w_k · r_k(text)</c> (the workshop's default:
/// 1 x acceptability + 0.5 x neutrality). Scaling, normalising and clipping the scores is the PPO trainer's job
/// (<c>PpoConfig.UseScoreScaling</c>, <c>UseScoreNorm</c>, <c>ScoreClip</c>, as in TRL), so a reward scores base and
/// aligned summaries on the same scale.
/// </summary>
public sealed class CompositeReward
{
    readonly List<(IRewardComponent Component, double Weight)> _parts = [];
    public IReadOnlyList<(string Name, double Weight)> Parts => _parts.Select(p => (p.Component.Name, p.Weight)).ToList();
    /// <summary>The components themselves, in the order added (to ask a classifier its token limit, for example).</summary>
    public IReadOnlyList<IRewardComponent> Members => _parts.Select(p => p.Component).ToList();

    public CompositeReward Add(IRewardComponent component, double weight = 1.0)
    {
        ArgumentNullException.ThrowIfNull(component);
        if (double.IsNaN(weight) || double.IsInfinity(weight)) throw new ArgumentException($"Weight of '{component.Name}' must be finite (got {weight}).", nameof(weight));
        if (_parts.Any(p => p.Component.Name == component.Name)) throw new ArgumentException($"A component named '{component.Name}' is already part of this reward.", nameof(component));
        _parts.Add((component, weight));
        return this;
    }

    public CompositeReward Add(string name, Func<string, float> score, double weight = 1.0) => Add(new FunctionReward(name, score), weight);

    public RewardBreakdown Score(IReadOnlyList<string> texts)
    {
        if (_parts.Count == 0) throw new InvalidOperationException("The reward has no components; Add at least one.");
        var components = new Dictionary<string, float[]>();
        var total = new double[texts.Count];
        foreach (var (component, weight) in _parts)
        {
            var scores = component.Score(texts);
            if (scores.Length != texts.Count)
                throw new InvalidOperationException($"Reward component '{component.Name}' returned {scores.Length} scores for {texts.Count} texts.");
            components[component.Name] = scores;
            for (int i = 0; i < total.Length; i++) total[i] += weight * scores[i];
        }
        return new RewardBreakdown(total.Select(x => (float)x).ToArray(), components);
    }
}
