using System.Text.Json;
using RlhfKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Models;

/// <summary>RobertaForSequenceClassification against transformers on every RoBERTa fixture folder and checkpoint file.</summary>
public class RobertaParityTests
{
    const double HiddenTol = 1e-5, LogitTol = 1e-4;

    public static TheoryData<string, string> Checkpoints() => TestModels.CheckpointsOf("roberta");

    [Theory, MemberData(nameof(Checkpoints))]
    public void ClassifierMatchesTransformers(string folder, string file)
    {
        var model = TestModels.LoadRoberta(Fixtures.PathOf(folder), file);
        using var doc = Fixtures.Json(folder, "reference.json");
        using var scope = NewDisposeScope();
        var r = doc.RootElement;
        var inputs = r.GetProperty("inputs");
        var outputs = r.GetProperty("outputs");
        var ids = Fixtures.Tensor(inputs.GetProperty("input_ids"));
        var mask = Fixtures.Tensor(inputs.GetProperty("attention_mask"));

        Assert.Equal(Fixtures.Tensor(outputs.GetProperty("position_ids")).data<long>().ToArray(), model.roberta.embeddings.PositionIds(ids).data<long>().ToArray());
        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("embeddings_output")), model.roberta.embeddings.Forward(ids), HiddenTol, what: "embeddings_output");

        using var output = model.Forward(ids, mask, Fixtures.Tensor(inputs.GetProperty("labels")), outputHiddenStates: true);
        var expectedStates = outputs.GetProperty("hidden_states").EnumerateArray().ToList();
        Assert.Equal(expectedStates.Count, output.HiddenStates!.Count);
        for (int i = 0; i < expectedStates.Count; i++) Fixtures.AssertClose(Fixtures.Tensor(expectedStates[i]), output.HiddenStates[i], HiddenTol, what: $"hidden_states[{i}]");
        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("last_hidden_state")), output.LastHiddenState, HiddenTol, what: "last_hidden_state");
        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("logits")), output.Logits, LogitTol, what: "logits");
        Fixtures.AssertClose(Fixtures.Tensor(outputs.GetProperty("probs")), nn.functional.softmax(output.Logits, -1), HiddenTol, what: "probs");
        Assert.Equal(outputs.GetProperty("loss_with_labels").GetDouble(), output.Loss!.item<float>(), LogitTol);
        Assert.Equal(r.GetProperty("config").GetProperty("id2label").EnumerateObject().Count(), model.Id2Label.Count);
    }
}
