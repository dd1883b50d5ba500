using System.Globalization;
using System.Text;

namespace RlhfKit.Evaluation;

/// <summary>RFC 4180 CSV: CRLF between records; a field is quoted when it holds a comma, a quote, CR or LF, or
/// starts or ends with white space, and quotes inside are doubled.</summary>
internal static class Csv
{
    public static string Field(string? value)
    {
        if (value is null) return "";
        bool quote = value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
                     || value.AsSpan().IndexOfAny(",\"\r\n") >= 0;
        return quote ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }

    /// <summary>Round-trippable invariant text of a number; NaN and infinities as .NET writes them.</summary>
    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A data frame as CSV: a header of its column names, then one record per row (numbers round-trippable,
    /// missing values empty).</summary>
    public static string Of(Microsoft.Data.Analysis.DataFrame frame)
    {
        var sb = new StringBuilder();
        AppendRecord(sb, frame.Columns.Select(c => c.Name));
        for (long r = 0; r < frame.Rows.Count; r++)
            AppendRecord(sb, frame.Columns.Select(c => c[r] switch
            {
                null => "",
                double d => Number(d),
                float f => Number(f),
                IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
                var o => o.ToString(),
            }));
        return sb.ToString();
    }

    public static void AppendRecord(StringBuilder sb, IEnumerable<string?> fields)
    {
        bool first = true;
        foreach (var f in fields)
        {
            if (!first) sb.Append(',');
            sb.Append(Field(f));
            first = false;
        }
        sb.Append("\r\n");
    }

    /// <summary>Parses RFC 4180 text (CRLF or LF record ends; quoted fields may span lines).</summary>
    public static List<string[]> Parse(string text)
    {
        var records = new List<string[]>();
        var record = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        bool any = false; // the current record has content
        while (i < text.Length)
        {
            char ch = text[i];
            if (ch == '"' && field.Length == 0)
            {
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new FormatException("CSV: unterminated quoted field.");
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(text[i++]);
                }
                if (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                    throw new FormatException($"CSV: unexpected character '{text[i]}' after a quoted field at offset {i}.");
                any = true;
                continue;
            }
            if (ch == ',') { record.Add(field.ToString()); field.Clear(); any = true; i++; continue; }
            if (ch is '\r' or '\n')
            {
                if (ch == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                i++;
                if (any || field.Length > 0 || record.Count > 0) { record.Add(field.ToString()); records.Add([.. record]); }
                record.Clear(); field.Clear(); any = false;
                continue;
            }
            field.Append(ch); any = true; i++;
        }
        if (any || field.Length > 0 || record.Count > 0) { record.Add(field.ToString()); records.Add([.. record]); }
        return records;
    }
}
