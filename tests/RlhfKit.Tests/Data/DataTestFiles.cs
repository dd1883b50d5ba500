using Parquet;
using Parquet.Schema;
using RlhfKit.Data;

namespace RlhfKit.Tests.Data;

/// <summary>Builds the small parquet and JSONL files the data tests read.</summary>
public static class DataTestFiles
{
    /// <summary>A parquet file of string columns (nullable, as pyarrow writes them), one row group per
    /// <paramref name="rowGroupSize"/> rows, in the shape of argilla/news-summary (text, id, prediction_agent, ...).</summary>
    public static byte[] Parquet(IReadOnlyDictionary<string, string?[]> columns, int rowGroupSize = int.MaxValue)
    {
        var fields = columns.Keys.Select(name => new DataField<string>(name)).ToArray();
        var schema = new ParquetSchema(fields);
        var rows = columns.Values.First().Length;
        using var stream = new MemoryStream();
        Task.Run(async () =>
        {
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            for (var start = 0; start < rows; start += rowGroupSize)
            {
                using var group = writer.CreateRowGroup();
                foreach (var field in fields)
                    await group.WriteAsync(field, columns[field.Name].Skip(start).Take(rowGroupSize).ToArray()!);
            }
        }).GetAwaiter().GetResult();
        return stream.ToArray();
    }

    public static byte[] NewsParquet(params string[] texts) => Parquet(new Dictionary<string, string?[]>
    {
        ["text"] = texts,
        ["prediction_agent"] = texts.Select(_ => (string?)"facebook/bart-large-cnn").ToArray(),
    });

    public static NewsDataset Numbered(int count) =>
        new(Enumerable.Range(0, count).Select(i => new NewsArticle($"a{i}", $"article {i}")));
}
