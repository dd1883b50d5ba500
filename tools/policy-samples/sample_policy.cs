#!/usr/bin/env dotnet
#:project ../../lib/RlhfKit.Workshop/RlhfKit.Workshop.csproj
#:property TreatWarningsAsErrors=false
#:property PublishAot=false
// Samples summaries from the offline base policy exactly as PPO's rollouts do (pure sampling, the offline profile's
// token budget), for building and labelling the acceptability data in data/policy-samples.
//   dotnet run tools/policy-samples/sample_policy.cs -- <split> <samples per article> <out.jsonl> [seed]
using System.Text.Json;
using RlhfKit.Alignment;
using RlhfKit.Data;
using RlhfKit.Generation;
using RlhfKit.Loading;
using RlhfKit.Native;
using RlhfKit.Tokenization;
using static TorchSharp.torch;

TorchRuntime.EnsureLoaded();
var split = args.Length > 0 ? args[0] : "test";
int perArticle = args.Length > 1 ? int.Parse(args[1]) : 2;
var outPath = args.Length > 2 ? args[2] : $"samples-{split}.jsonl";
long seed = args.Length > 3 ? long.Parse(args[3]) : 0;
var config = Profiles.Offline();
var policy = await ProfileLoader.PolicyAsync(config);
var model = AutoModel.T5FromPretrained(policy.Folder);
model.eval();
var articles = NewsDataset.LoadOffline(split);
using var writer = new StreamWriter(outPath);
int batch = 16, k = 0;
for (int start = 0; start < articles.Count; start += batch, k++)
{
    var chunk = articles.Skip(start).Take(batch).ToList();
    var queries = PromptedBatch.Queries(chunk.Select(a => a.Text), policy.Tokenizer, config.MaxPromptTokens);
    for (int s = 0; s < perArticle; s++)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var output = Seq2SeqGenerator.Generate(model, queries, config.Generation with { Seed = seed + 1000L * k + s });
        var texts = policy.Tokenizer.Decode(output.ResponseIds());
        for (int i = 0; i < chunk.Count; i++)
            writer.WriteLine(JsonSerializer.Serialize(new { article = chunk[i].Id, sample = s, text = texts[i] }));
    }
    Console.Error.WriteLine($"{Math.Min(start + batch, articles.Count)}/{articles.Count}");
}
