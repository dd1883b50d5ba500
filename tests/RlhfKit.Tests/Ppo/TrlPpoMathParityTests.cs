using System.Text.Json;
using System.Text.RegularExpressions;
using RlhfKit.Ppo;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Ppo;

/// <summary>
/// Every case of <c>trl/ppo_math.json</c> (TRL 0.7.1's own outputs), dispatched on <c>function</c>. Shapes, arguments,
/// configuration and expectations all come from the file. Where TRL is well defined both the kit and its strict mode
/// must match TRL; where TRL returns NaN or raises, strict mode must do the same and the kit must return its
/// documented finite value instead.
/// </summary>
public class TrlPpoMathParityTests
{
    const double Atol = 1e-5, Rtol = 1e-5;
    const string Trainer = "trl.trainer.ppo_trainer.PPOTrainer.";

    static readonly Lazy<JsonDocument> Doc = new(() => Fixtures.Json("trl", "ppo_math.json"));
    static JsonElement Root => Doc.Value.RootElement;

    public static IEnumerable<object[]> CaseNames() =>
        Root.GetProperty("cases").EnumerateArray().Select(c => new object[] { c.GetProperty("name").GetString()! });

    static JsonElement Case(string name) =>
        Root.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public void FileIsTheExpectedSchemaAndVersion()
    {
        Assert.Equal("trl-ppo-math-reference/1", Root.GetProperty("schema").GetString());
        var cases = Root.GetProperty("cases").EnumerateArray().ToList();
        Assert.NotEmpty(cases);
        Assert.All(cases, c => Assert.Equal("0.7.1", c.GetProperty("trl_version").GetString()));
        var names = cases.Select(c => c.GetProperty("name").GetString()).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesTrl(string name)
    {
        using var scope = NewDisposeScope();
        var c = Case(name);
        var function = c.GetProperty("function").GetString()!;
        switch (function)
        {
            case "trl.core.logprobs_from_logits": LogprobsFromLogits(c); break;
            case "trl.core.entropy_from_logits": Single(c, a => PpoMath.EntropyFromLogits(T(a, "logits"))); break;
            case "trl.core.whiten": Single(c, a => PpoMath.Whiten(T(a, "values"), a.GetProperty("shift_mean").GetBoolean())); break;
            case "trl.core.clip_by_value": Single(c, a => PpoMath.ClipByValue(T(a, "x"), T(a, "tensor_min"), T(a, "tensor_max"))); break;
            case "trl.core.masked_mean": MaskedMean(c); break;
            case "trl.core.masked_var": MaskedVar(c); break;
            case "trl.core.masked_whiten": MaskedWhiten(c); break;
            case Trainer + "compute_rewards": ComputeRewards(c); break;
            case Trainer + "compute_advantages": ComputeAdvantages(c); break;
            case Trainer + "loss": Loss(c); break;
            case Trainer + "record_step_stats": RecordStepStats(c); break;
            case "trl.trainer.utils.AdaptiveKLController": KlController(c, adaptive: true); break;
            case "trl.trainer.utils.FixedKLController": KlController(c, adaptive: false); break;
            default: Assert.Fail($"case {name}: no test for TRL function {function}"); break;
        }
    }

    // ---- trl.core helpers ----

    static void Single(JsonElement c, Func<JsonElement, Tensor> run)
    {
        var expected = T(c.GetProperty("outputs"), "result");
        Fixtures.AssertClose(expected, run(c.GetProperty("args")), Atol, Rtol, Name(c));
    }

    static void LogprobsFromLogits(JsonElement c)
    {
        var a = c.GetProperty("args");
        var gather = a.GetProperty("gather").GetBoolean();
        var labels = a.GetProperty("labels").ValueKind == JsonValueKind.Null ? null : T(a, "labels");
        var actual = PpoMath.LogprobsFromLogits(T(a, "logits"), labels, gather);
        Fixtures.AssertClose(T(c.GetProperty("outputs"), "result"), actual, Atol, Rtol, Name(c));
    }

    static void MaskedMean(JsonElement c)
    {
        var a = c.GetProperty("args");
        var values = T(a, "values");
        var mask = T(a, "mask");
        long? axis = a.GetProperty("axis").ValueKind == JsonValueKind.Null ? null : a.GetProperty("axis").GetInt64();
        var expected = T(c.GetProperty("outputs"), "result");

        Fixtures.AssertClose(expected, PpoMath.MaskedMean(values, mask, axis, strictTrl: true), Atol, Rtol, Name(c) + " (strict)");

        // Kit: TRL's NaN appears exactly where the mask (slice) is empty, and the kit gives 0 there.
        var counts = axis is long ax ? mask.sum(ax) : mask.sum();
        Assert.True(expected.isnan().eq(counts.eq(0)).all().item<bool>(), $"{Name(c)}: TRL NaN where the mask is not empty");
        var kitExpected = where(expected.isnan(), zeros_like(expected), expected);
        Fixtures.AssertClose(kitExpected, PpoMath.MaskedMean(values, mask, axis), Atol, Rtol, Name(c) + " (kit)");
    }

    static void MaskedVar(JsonElement c)
    {
        var a = c.GetProperty("args");
        var values = T(a, "values");
        var mask = T(a, "mask");
        var unbiased = a.GetProperty("unbiased").GetBoolean();
        var n = mask.sum().item<long>();

        if (c.TryGetProperty("raises", out var raises))
        {
            Assert.Equal("ValueError", raises.GetProperty("type").GetString());
            Assert.Throws<ArgumentException>(() => PpoMath.MaskedVar(values, mask, unbiased, strictTrl: true));
            AssertKitVarIsZero();
            return;
        }
        var expected = T(c.GetProperty("outputs"), "result");
        Fixtures.AssertClose(expected, PpoMath.MaskedVar(values, mask, unbiased, strictTrl: true), Atol, Rtol, Name(c) + " (strict)");
        if (expected.isnan().any().item<bool>()) AssertKitVarIsZero();
        else Fixtures.AssertClose(expected, PpoMath.MaskedVar(values, mask, unbiased), Atol, Rtol, Name(c) + " (kit)");

        // Kit: a variance with too few valid elements (none; one when unbiased) is 0.
        void AssertKitVarIsZero()
        {
            Assert.True(n < (unbiased ? 2 : 1), $"{Name(c)}: TRL fails with {n} valid elements");
            Assert.Equal(0.0, PpoMath.MaskedVar(values, mask, unbiased).item<float>());
        }
    }

    static void MaskedWhiten(JsonElement c)
    {
        var a = c.GetProperty("args");
        var values = T(a, "values");
        var mask = T(a, "mask");
        var shiftMean = a.GetProperty("shift_mean").GetBoolean();
        var expected = T(c.GetProperty("outputs"), "result");

        Fixtures.AssertClose(expected, PpoMath.MaskedWhiten(values, mask, shiftMean, strictTrl: true), Atol, Rtol, Name(c) + " (strict)");
        if (!expected.isnan().any().item<bool>())
        {
            Fixtures.AssertClose(expected, PpoMath.MaskedWhiten(values, mask, shiftMean), Atol, Rtol, Name(c) + " (kit)");
            return;
        }
        // Kit: fewer than two valid elements -> shifted by the (single) masked value, or unchanged.
        var n = mask.sum().item<long>();
        Assert.True(n < 2, $"{Name(c)}: TRL NaN with {n} valid elements");
        var single = (values * mask).sum();
        var kitExpected = shiftMean && n == 1 ? values - single : values.clone();
        Fixtures.AssertClose(kitExpected, PpoMath.MaskedWhiten(values, mask, shiftMean), Atol, Rtol, Name(c) + " (kit)");
    }

    // ---- PPOTrainer methods ----

    static void ComputeRewards(JsonElement c)
    {
        var a = c.GetProperty("args");
        var cfg = c.GetProperty("config");
        var kind = ParseKind(cfg.GetProperty("kl_penalty").GetString()!);
        var klCoef = cfg.GetProperty("kl_ctl.value").GetDouble();
        var (scores, logprobs, refLogprobs, masks) = (T(a, "scores"), T(a, "logprobs"), T(a, "ref_logprobs"), T(a, "masks"));

        if (c.TryGetProperty("raises", out var raises))
        {
            Assert.Equal("IndexError", raises.GetProperty("type").GetString());
            Assert.Throws<ArgumentException>(() => PpoMath.ComputeRewards(scores, logprobs, refLogprobs, masks, klCoef, kind, strictTrl: true));
            // Kit: an empty row keeps only its KL terms; the other rows get their score at the last valid position.
            Assert.True(masks.ne(0).any(1).logical_not().any().item<bool>(), $"{Name(c)}: TRL raised without an empty mask row");
            var (expRewards, expNonScore) = ReferenceRewards(scores, logprobs, refLogprobs, masks, klCoef, kind);
            var (kitRewards, kitNonScore) = PpoMath.ComputeRewards(scores, logprobs, refLogprobs, masks, klCoef, kind);
            Fixtures.AssertClose(expNonScore, kitNonScore, Atol, Rtol, Name(c) + " non_score_rewards (kit)");
            Fixtures.AssertClose(expRewards, kitRewards, Atol, Rtol, Name(c) + " rewards (kit)");
            Assert.True(kitRewards.isfinite().all().item<bool>());
            return;
        }
        var o = c.GetProperty("outputs");
        foreach (var strict in new[] { false, true })
        {
            var (rewards, nonScore) = PpoMath.ComputeRewards(scores, logprobs, refLogprobs, masks, klCoef, kind, strict);
            Fixtures.AssertClose(T(o, "rewards"), rewards, Atol, Rtol, $"{Name(c)} rewards (strict={strict})");
            Fixtures.AssertClose(T(o, "non_score_rewards"), nonScore, Atol, Rtol, $"{Name(c)} non_score_rewards (strict={strict})");
        }
    }

    /// <summary>The kit's documented compute_rewards rule, written out element by element in double precision.</summary>
    static (Tensor Rewards, Tensor NonScore) ReferenceRewards(Tensor scores, Tensor logprobs, Tensor refLogprobs, Tensor masks, double klCoef, KlPenaltyKind kind)
    {
        var (b, len) = ((int)masks.shape[0], (int)masks.shape[1]);
        var vocab = kind == KlPenaltyKind.Full ? (int)logprobs.shape[2] : 1;
        var lp = Doubles(logprobs);
        var rf = Doubles(refLogprobs);
        var mk = Doubles(masks);
        var sc = Doubles(scores);
        var nonScore = new double[b * len];
        var rewards = new double[b * len];
        for (var i = 0; i < b; i++)
        {
            var last = -1;
            for (var t = 0; t < len; t++)
            {
                double kl = 0;
                for (var v = 0; v < vocab; v++)
                {
                    var k = (i * len + t) * vocab + v;
                    var d = lp[k] - rf[k];
                    kl += kind switch
                    {
                        KlPenaltyKind.Kl => d,
                        KlPenaltyKind.Abs => Math.Abs(d),
                        KlPenaltyKind.Mse => 0.5 * d * d,
                        _ => Math.Exp(lp[k]) * d,
                    };
                }
                nonScore[i * len + t] = rewards[i * len + t] = -klCoef * kl;
                if (mk[i * len + t] != 0) last = t;
            }
            if (last >= 0) rewards[i * len + last] += sc[i];
        }
        return (tensor(rewards).reshape(b, len), tensor(nonScore).reshape(b, len));
    }

    static void ComputeAdvantages(JsonElement c)
    {
        var a = c.GetProperty("args");
        var cfg = c.GetProperty("config");
        var (gamma, lam) = (cfg.GetProperty("gamma").GetDouble(), cfg.GetProperty("lam").GetDouble());
        var o = c.GetProperty("outputs");
        foreach (var strict in new[] { false, true })
        {
            var (values, advantages, returns) = PpoMath.ComputeAdvantages(T(a, "values"), T(a, "rewards"), T(a, "mask"), gamma, lam, strictTrl: strict);
            Fixtures.AssertClose(T(o, "values"), values, Atol, Rtol, $"{Name(c)} values (strict={strict})");
            Fixtures.AssertClose(T(o, "advantages"), advantages, Atol, Rtol, $"{Name(c)} advantages (strict={strict})");
            Fixtures.AssertClose(T(o, "returns"), returns, Atol, Rtol, $"{Name(c)} returns (strict={strict})");
        }
    }

    static void Loss(JsonElement c)
    {
        var a = c.GetProperty("args");
        var cfg = c.GetProperty("config");
        var config = new PpoConfig
        {
            Cliprange = cfg.GetProperty("cliprange").GetDouble(),
            CliprangeValue = cfg.GetProperty("cliprange_value").GetDouble(),
            VfCoef = cfg.GetProperty("vf_coef").GetDouble(),
            RatioThreshold = cfg.GetProperty("ratio_threshold").GetDouble(),
        };
        List<string> expectedWarnings = c.TryGetProperty("warnings", out var w) ? w.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
        var o = c.GetProperty("outputs");
        var expectedStats = o.GetProperty("stats");

        foreach (var strict in new[] { false, true })
        {
            var warnings = new List<string>();
            var r = PpoMath.Loss(T(a, "old_logprobs"), T(a, "values"), T(a, "logits"), T(a, "vpreds"), T(a, "logprobs"),
                T(a, "mask"), T(a, "advantages"), T(a, "returns"), config, warnings.Add, strict);
            var what = $"{Name(c)} (strict={strict})";
            Fixtures.AssertClose(T(o, "pg_loss"), r.PgLoss, Atol, Rtol, what + " pg_loss");
            Fixtures.AssertClose(T(o, "vf_loss_times_vf_coef"), r.VfLossTimesCoef, Atol, Rtol, what + " vf_loss_times_vf_coef");
            Assert.Equal(expectedStats.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), r.Stats.Keys.Order(StringComparer.Ordinal));
            foreach (var p in expectedStats.EnumerateObject())
                Fixtures.AssertClose(Fixtures.Tensor(p.Value), r.Stats[p.Name], Atol, Rtol, $"{what} {p.Name}");
            Assert.Equal(expectedWarnings, warnings);
            Assert.Equal(expectedWarnings.Count > 0, r.RatioThresholdExceeded);
        }
    }

    static void RecordStepStats(JsonElement c)
    {
        var a = c.GetProperty("args");
        var trainStats = TrainStats(a.GetProperty("train_stats"));
        var stats = PpoMath.RecordStepStats(a.GetProperty("kl_coef").GetDouble(), T(a, "scores"), T(a, "logprobs"), T(a, "ref_logprobs"),
            T(a, "non_score_reward"), T(a, "masks"), Ints(a.GetProperty("query_lengths")), Ints(a.GetProperty("response_lengths")), trainStats);

        var o = c.GetProperty("outputs");
        Assert.Equal(o.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), stats.Keys.Order(StringComparer.Ordinal));
        foreach (var p in o.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Number)
            {
                AssertNumber(Fixtures.Double(p.Value), stats.Scalars[p.Name], $"{Name(c)} {p.Name}");
                continue;
            }
            var expected = Fixtures.Tensor(p.Value);
            if (expected.numel() == 1 && stats.Scalars.TryGetValue(p.Name, out var scalar))
                AssertNumber(expected.item<float>(), scalar, $"{Name(c)} {p.Name}");
            else
                Fixtures.AssertClose(expected.flatten(), tensor(stats.Distributions[p.Name]), Atol, Rtol, $"{Name(c)} {p.Name}");
        }
    }

    /// <summary>The per-minibatch loss stats: inline (one object, or a list of them), or the text
    /// "...outputs.stats of case NAME..." naming the case whose stats were stacked.</summary>
    static List<IReadOnlyDictionary<string, Tensor>> TrainStats(JsonElement e)
    {
        static IReadOnlyDictionary<string, Tensor> Dict(JsonElement o) =>
            o.EnumerateObject().ToDictionary(p => p.Name, p => Fixtures.Tensor(p.Value), StringComparer.Ordinal);
        switch (e.ValueKind)
        {
            case JsonValueKind.Object: return [Dict(e)];
            case JsonValueKind.Array: return e.EnumerateArray().Select(Dict).ToList();
            default:
                var text = e.GetString()!;
                var refs = Regex.Matches(text, @"outputs\.stats of case ([\w.\-]+)").Select(m => m.Groups[1].Value).ToList();
                Assert.True(refs.Count > 0, $"cannot read train_stats reference '{text}'");
                return refs.Select(r => Dict(Case(r).GetProperty("outputs").GetProperty("stats"))).ToList();
        }
    }

    static void KlController(JsonElement c, bool adaptive)
    {
        var a = c.GetProperty("args");
        var ctor = a.GetProperty("constructor");
        IKlController ctl = adaptive
            ? new AdaptiveKlController(ctor.GetProperty("init_kl_coef").GetDouble(), ctor.GetProperty("target").GetDouble(), ctor.GetProperty("horizon").GetDouble())
            : new FixedKlController(ctor.GetProperty("kl_coef").GetDouble());
        var updates = a.GetProperty("updates").EnumerateArray().ToList();
        var expected = c.GetProperty("outputs").GetProperty("value_after_each_update").EnumerateArray().Select(x => x.GetDouble()).ToList();
        Assert.Equal(updates.Count, expected.Count);
        for (var i = 0; i < updates.Count; i++)
        {
            var u = updates[i].EnumerateArray().ToList();
            ctl.Update(u[0].GetDouble(), u[1].GetInt32());
            Assert.True(Math.Abs(ctl.Value - expected[i]) <= 1e-14 * Math.Abs(expected[i]),
                $"{Name(c)} after update {i} ({u[0]}, {u[1]}): expected {expected[i]:R}, got {ctl.Value:R}");
        }
    }

    // ---- helpers ----

    static Tensor T(JsonElement parent, string name) => Fixtures.Tensor(parent.GetProperty(name));

    static string Name(JsonElement c) => c.GetProperty("name").GetString()!;

    static double[] Doubles(Tensor t) => t.to_type(ScalarType.Float64).flatten().data<double>().ToArray();

    static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    static KlPenaltyKind ParseKind(string s) => s switch
    {
        "kl" => KlPenaltyKind.Kl,
        "abs" => KlPenaltyKind.Abs,
        "mse" => KlPenaltyKind.Mse,
        "full" => KlPenaltyKind.Full,
        _ => throw new FormatException($"unknown kl_penalty '{s}'"),
    };

    static void AssertNumber(double expected, double actual, string what)
    {
        if (double.IsNaN(expected)) { Assert.True(double.IsNaN(actual), $"{what}: expected NaN, got {actual}"); return; }
        Assert.True(Math.Abs(actual - expected) <= Atol + Rtol * Math.Abs(expected), $"{what}: expected {expected:R}, got {actual:R}");
    }
}
