using System.Globalization;
using System.Text;

namespace EvalPlatform.Web.Analytics;

/// <summary>
/// A chart's figures as CSV (RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled; CRLF
/// line ends), safe to open in a spreadsheet: a text field that a spreadsheet would read as a formula (starting
/// with =, +, -, @, a tab or a carriage return) is prefixed with an apostrophe (OWASP's advice for CSV injection).
/// Numbers are written invariantly and never prefixed, so they stay numbers.
/// </summary>
public static class AnalyticsCsv
{
    public static string Write(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<object?>> rows)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        var csv = new StringBuilder();
        AppendRow(csv, header);
        foreach (var row in rows)
        {
            AppendRow(csv, row);
        }

        return csv.ToString();
    }

    /// <summary>A link target that downloads <paramref name="csv"/> without a round trip (with the anchor's download attribute).</summary>
    public static string DataUri(string csv) => "data:text/csv;charset=utf-8," + Uri.EscapeDataString(csv);

    public static string Field(object? value) => value switch
    {
        null => "",
        double d => double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "",
        decimal m => m.ToString(CultureInfo.InvariantCulture),
        long or int => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        DateTimeOffset t => t.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        _ => Text(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""),
    };

    private static string Text(string text)
    {
        if (text.Length > 0 && text[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            text = "'" + text;
        }

        return text.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }

    private static void AppendRow<T>(StringBuilder csv, IReadOnlyList<T> row)
    {
        for (var i = 0; i < row.Count; i++)
        {
            if (i > 0)
            {
                csv.Append(',');
            }

            csv.Append(Field(row[i]));
        }

        csv.Append("\r\n");
    }
}
