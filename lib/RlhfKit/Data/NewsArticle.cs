namespace RlhfKit.Data;

/// <summary>One news article: the text the policy summarizes, plus what the kit's offline corpus carries beside it.</summary>
/// <param name="Id">Stable identifier (the file's <c>id</c>, else one derived from the file and row).</param>
/// <param name="Text">The article; the prompt is <c>"summarize: " + Text</c> (<see cref="NewsDataset.Prompt"/>).</param>
/// <param name="Summary">A reference summary, where the source has one.</param>
/// <param name="Topic">A topic label, where the source has one.</param>
public sealed record NewsArticle(string Id, string Text, string? Summary = null, string? Topic = null);
