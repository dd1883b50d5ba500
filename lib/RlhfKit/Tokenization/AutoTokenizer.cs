namespace RlhfKit.Tokenization;

/// <summary>Picks the tokenizer for an HF model folder, like HF's <c>AutoTokenizer.from_pretrained</c>.</summary>
public static class AutoTokenizer
{
    static readonly string[] T5Types = ["t5", "mt5", "umt5", "longt5"];
    static readonly string[] RobertaTypes = ["roberta", "bart", "longformer"];
    static readonly string[] BertTypes = ["bert", "distilbert", "electra"];

    /// <summary>
    /// Chooses by <c>tokenizer_config.json</c>'s <c>tokenizer_class</c>, else <c>config.json</c>'s <c>model_type</c>
    /// (t5/mt5 → <see cref="T5Tokenizer"/>, roberta → <see cref="RobertaTokenizer"/>, bert/distilbert → <see cref="BertTokenizer"/>),
    /// else by the files present: <c>spiece.model</c>, <c>vocab.json</c> + <c>merges.txt</c>, <c>vocab.txt</c>.
    /// </summary>
    public static PreTrainedTokenizer FromPretrained(string folder)
    {
        TokenizerFiles.RequireFolder(folder);
        var tokenizerClass = TokenizerFiles.String(TokenizerFiles.ReadOptionalJson(folder, "tokenizer_config.json"), "tokenizer_class");
        var modelType = TokenizerFiles.String(TokenizerFiles.ReadOptionalJson(folder, "config.json"), "model_type")?.ToLowerInvariant();

        var kind = tokenizerClass switch
        {
            not null when tokenizerClass.StartsWith("T5Tokenizer", StringComparison.Ordinal) => "t5",
            not null when tokenizerClass.StartsWith("RobertaTokenizer", StringComparison.Ordinal) => "roberta",
            not null when tokenizerClass.StartsWith("BertTokenizer", StringComparison.Ordinal) => "bert",
            _ => null,
        };
        kind ??= modelType switch
        {
            not null when T5Types.Contains(modelType) => "t5",
            not null when RobertaTypes.Contains(modelType) => "roberta",
            not null when BertTypes.Contains(modelType) => "bert",
            _ => null,
        };
        bool Has(string name) => File.Exists(Path.Combine(folder, name));
        kind ??= Has("spiece.model") ? "t5"
            : Has("vocab.json") || Has("merges.txt") ? "roberta"
            : Has("vocab.txt") ? "bert"
            : null;

        return kind switch
        {
            "t5" => T5Tokenizer.FromPretrained(folder),
            "roberta" => RobertaTokenizer.FromPretrained(folder),
            "bert" => BertTokenizer.FromPretrained(folder),
            _ when modelType is not null && !Has("tokenizer.json") => throw new FileNotFoundException(
                $"no tokenizer files in '{Path.GetFullPath(folder)}' for model_type '{modelType}': expected spiece.model (T5), vocab.json + merges.txt (RoBERTa) or vocab.txt (BERT)."),
            _ when Has("tokenizer.json") => throw new NotSupportedException(
                $"'{Path.GetFullPath(folder)}' has only tokenizer.json{(modelType is null ? "" : $" (model_type '{modelType}')")}; the kit reads spiece.model (T5), vocab.json + merges.txt (RoBERTa) or vocab.txt (BERT)."),
            _ => throw new FileNotFoundException(
                $"no tokenizer files in '{Path.GetFullPath(folder)}': expected spiece.model (T5), vocab.json + merges.txt (RoBERTa) or vocab.txt (BERT)."),
        };
    }
}
