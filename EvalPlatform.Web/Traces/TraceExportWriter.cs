using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Endpoints;

namespace EvalPlatform.Web.Traces;

/// <summary>The two export formats.</summary>
public enum ExportFormat
{
    /// <summary>One JSON object per line: the conversation in OpenAI chat format, tool calls, review.</summary>
    JsonLines,

    /// <summary>One row per trace: the last user message and the response as text, and the review.</summary>
    Csv,
}

/// <summary>
/// Writes exported traces to the response as they are read: nothing is collected in memory, and
/// the body is flushed every <see cref="FlushEvery"/> traces so the download starts at once.
/// Trace content is untrusted: JSON is written by a JSON writer, and CSV cells that a
/// spreadsheet would run as a formula (=, +, -, @) are prefixed with an apostrophe.
/// </summary>
public static class TraceExportWriter
{
    public const int FlushEvery = 100;

    public static readonly string[] CsvColumns =
    [
        "id", "external_id", "name", "created_at", "start_time", "model", "provider", "environment", "session_id", "user_id",
        "experiment", "variant", "tags", "input", "output", "latency_ms", "prompt_tokens", "completion_tokens", "cost", "error",
        "review_status", "review_reason", "review_detail", "review_score", "review_note", "reviewed_by", "reviewed_by_name", "reviewed_at",
    ];

    public static bool TryParseFormat(string? value, out ExportFormat format)
    {
        format = value?.ToLowerInvariant() switch
        {
            "jsonl" or "ndjson" => ExportFormat.JsonLines,
            "csv" => ExportFormat.Csv,
            _ => (ExportFormat)(-1),
        };
        return Enum.IsDefined(format);
    }

    public static string ContentType(ExportFormat format) =>
        format == ExportFormat.Csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";

    public static string FileName(ExportFormat format, DateTimeOffset now) =>
        $"traces-{now.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}.{(format == ExportFormat.Csv ? "csv" : "jsonl")}";

    /// <summary>Writes every item and returns how many there were.</summary>
    public static async Task<int> WriteAsync(PipeWriter output, ExportFormat format, IAsyncEnumerable<TraceExportItem> items, CancellationToken ct)
    {
        var count = 0;
        using var json = new Utf8JsonWriter(output);
        if (format == ExportFormat.Csv)
        {
            WriteText(output, string.Join(",", CsvColumns) + "\r\n");
        }

        await foreach (var item in items.WithCancellation(ct))
        {
            if (format == ExportFormat.Csv)
            {
                WriteText(output, CsvRow(item));
            }
            else
            {
                json.Reset(output);
                WriteJson(json, item);
                json.Flush();
                WriteText(output, "\n");
            }

            if (++count % FlushEvery == 0)
            {
                await output.FlushAsync(ct);
            }
        }

        await output.FlushAsync(ct);
        return count;
    }

    private static void WriteJson(Utf8JsonWriter w, TraceExportItem item)
    {
        var t = item.Trace;
        w.WriteStartObject();
        w.WriteString("id", t.Id);
        w.WriteString("external_id", t.ExternalId);
        w.WriteString("name", t.Name);
        w.WriteString("created_at", t.CreatedAt);
        w.WriteString("start_time", t.StartedAt);
        WriteNullable(w, "end_time", t.EndedAt);
        w.WriteString("model", t.Model);
        w.WriteString("provider", t.Provider);
        w.WriteString("environment", t.Environment);
        w.WriteString("release", t.Release);
        w.WriteString("session_id", t.SessionId);
        w.WriteString("user_id", t.UserId);
        w.WriteString("experiment", t.Experiment);
        w.WriteString("variant", t.Variant);
        w.WriteStartArray("tags");
        foreach (var tag in t.Tags)
        {
            w.WriteStringValue(tag);
        }

        w.WriteEndArray();
        w.WritePropertyName("metadata");
        WriteStoredJson(w, t.Metadata);
        w.WriteStartObject("usage");
        WriteNullable(w, "prompt_tokens", t.PromptTokens);
        WriteNullable(w, "completion_tokens", t.CompletionTokens);
        WriteNullable(w, "total_tokens", t.TotalTokens);
        w.WriteEndObject();
        WriteNullable(w, "cost", t.Cost);
        WriteNullable(w, "latency_ms", t.LatencyMs);
        w.WriteString("error", t.Error);

        w.WriteStartArray("messages");
        foreach (var m in ChatTranscript.From(item.Spans))
        {
            w.WriteStartObject();
            w.WriteString("role", m.Role);
            w.WriteString("content", m.Text);
            if (m.ToolCalls.Count > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (var call in m.ToolCalls)
                {
                    w.WriteStartObject();
                    w.WriteString("id", call.Id);
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", call.Name);
                    w.WriteString("arguments", call.Arguments);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            if (m.ToolCallId is not null)
            {
                w.WriteString("tool_call_id", m.ToolCallId);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("functions");
        foreach (var span in item.Spans.Where(s => s.Kind == SpanKind.Tool))
        {
            w.WriteStartObject();
            w.WriteString("name", span.Name);
            w.WritePropertyName("arguments");
            WriteStoredJson(w, span.Input);
            w.WritePropertyName("result");
            WriteStoredJson(w, span.Output);
            w.WriteString("error", span.Error);
            WriteNullable(w, "duration_ms", span.DurationMs);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("review");
        w.WriteString("status", TraceEndpoints.Wire(t.ReviewStatus));
        w.WriteString("reason", t.ReviewReason);
        w.WriteString("detail", t.ReviewDetail);
        WriteNullable(w, "score", t.HumanScore);
        w.WriteString("note", t.ReviewNote);
        w.WriteString("reviewed_by", t.ReviewedBy);
        w.WriteString("reviewed_by_name", item.ReviewedByName);
        WriteNullable(w, "reviewed_at", t.ReviewedAt);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Stored JSON (validated at ingestion) goes out as JSON; anything else as a string.</summary>
    private static void WriteStoredJson(Utf8JsonWriter w, string? stored)
    {
        if (stored is null)
        {
            w.WriteNullValue();
            return;
        }

        try
        {
            using var doc = JsonDocument.Parse(stored);
            doc.RootElement.WriteTo(w);
        }
        catch (JsonException)
        {
            w.WriteStringValue(stored);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, DateTimeOffset? value)
    {
        if (value is { } v)
        {
            w.WriteString(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, decimal? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static string CsvRow(TraceExportItem item)
    {
        var t = item.Trace;
        var messages = ChatTranscript.From(item.Spans);
        var input = messages.LastOrDefault(m => m.Role == "user" && !m.IsResponse)?.Text;
        var output = string.Join("\n", messages.Where(m => m.IsResponse && m.Text is not null).Select(m => m.Text));
        string?[] cells =
        [
            t.Id.ToString(), Text(t.ExternalId), Text(t.Name), Time(t.CreatedAt), Time(t.StartedAt), Text(t.Model), Text(t.Provider),
            Text(t.Environment), Text(t.SessionId), Text(t.UserId), Text(t.Experiment), Text(t.Variant), Text(string.Join(";", t.Tags)),
            Text(input), Text(output), Number(t.LatencyMs), Number(t.PromptTokens), Number(t.CompletionTokens), Number(t.Cost),
            Text(t.Error), TraceEndpoints.Wire(t.ReviewStatus), Text(t.ReviewReason), Text(t.ReviewDetail), Number(t.HumanScore),
            Text(t.ReviewNote), Text(t.ReviewedBy), Text(item.ReviewedByName), t.ReviewedAt is { } at ? Time(at) : null,
        ];
        return string.Join(",", cells.Select(Quote)) + "\r\n";
    }

    // RFC 4180: a cell with a comma, a quote or a line break is quoted, quotes doubled.
    private static string Quote(string? cell) =>
        cell is null ? "" : cell.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;

    // Untrusted text that a spreadsheet would evaluate as a formula is kept as text.
    private static string? Text(string? value) =>
        string.IsNullOrEmpty(value) ? value : value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string? Number(double? v) => v?.ToString("R", CultureInfo.InvariantCulture);

    private static string? Number(int? v) => v?.ToString(CultureInfo.InvariantCulture);

    private static string? Number(decimal? v) => v?.ToString(CultureInfo.InvariantCulture);

    private static void WriteText(PipeWriter output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
