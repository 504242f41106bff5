using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Ingestion;

/// <summary>A trace that passed validation, ready to store; ids are assigned, the team is not yet.</summary>
public sealed record ParsedTrace(Trace Trace, int Index)
{
    /// <summary>Values stored other than as sent (an end up to a second before its start), by path.</summary>
    public IReadOnlyList<FieldAdjustment> Adjustments { get; init; } = [];
}

/// <summary>
/// A value stored other than as sent, by its JSON path (<c>traces[2].spans[0].end_time</c>), with the reason;
/// <paramref name="SpanKey"/> is the client's span id when the value is a span's.
/// </summary>
public sealed record FieldAdjustment(string Field, string Reason, string? SpanKey = null);

/// <summary>
/// Validates one submitted trace (the simple shape or the full shape) and turns it into the
/// stored tree. Both shapes become the same thing: a trace with a root <c>llm</c> span for the
/// conversation and a span per tool call or step. Every problem is reported with its path; an end up to
/// <see cref="IngestionLimits.MaxEndBeforeStart"/> before its start is adjusted (<see cref="EndTimes"/>), not refused.
/// </summary>
public static class TraceParser
{
    private static readonly HashSet<string> CommonFields =
    [
        "external_id", "name", "session_id", "user_id", "environment", "release", "tags", "model", "provider",
        "usage", "cost", "latency_ms", "time_to_first_token_ms", "error", "experiment", "variant", "metadata",
        "start_time", "end_time",
    ];

    private static readonly HashSet<string> SimpleFields = ["system_prompt", "user_input", "response", "function_calls"];
    private static readonly HashSet<string> FullFields = ["messages", "spans"];
    private static readonly HashSet<string> AllFields = [.. CommonFields, .. SimpleFields, .. FullFields];

    private static readonly HashSet<string> UsageFields = ["prompt_tokens", "completion_tokens", "total_tokens"];
    private static readonly HashSet<string> FunctionCallFields = ["name", "parameters", "result", "execution_time_ms", "error"];
    private static readonly HashSet<string> SpanFields = ["id", "parent_id", "kind", "name", "start_time", "end_time", "duration_ms", "input", "output", "attributes", "error", "model"];
    private static readonly HashSet<string> MessageRoles = ["system", "developer", "user", "assistant", "tool", "function"];

    public static ParsedTrace? Parse(JsonElement element, string path, int index, DateTimeOffset now, List<FieldError> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(path.Length == 0 ? "$" : path, $"A trace must be a JSON object, not {JsonFields.Describe(element)}."));
            return null;
        }

        var before = errors.Count;
        StorableText.RejectNul(element, path, errors);
        var f = new JsonFields(element, path, errors);
        f.RejectUnknown(AllFields, "Put custom data in 'metadata'.");
        if (SimpleFields.Any(f.Has) && FullFields.Any(f.Has))
        {
            f.Error("messages", "Use either the simple shape (system_prompt, user_input, response, function_calls) or the full shape (messages, spans), not both.");
        }

        var trace = new Trace
        {
            Id = Uuid7.Create(now),
            ExternalId = f.String("external_id", IngestionLimits.MaxShortText),
            Name = f.String("name", IngestionLimits.MaxName),
            SessionId = f.String("session_id", IngestionLimits.MaxShortText),
            UserId = f.String("user_id", IngestionLimits.MaxShortText),
            Environment = f.String("environment", IngestionLimits.MaxShortText),
            Release = f.String("release", IngestionLimits.MaxShortText),
            Tags = f.StringArray("tags", IngestionLimits.MaxTags, IngestionLimits.MaxTagLength),
            Model = f.String("model", IngestionLimits.MaxShortText),
            Provider = f.String("provider", IngestionLimits.MaxShortText),
            Cost = f.NonNegativeDecimal("cost"),
            LatencyMs = f.NonNegativeNumber("latency_ms"),
            TimeToFirstTokenMs = f.NonNegativeNumber("time_to_first_token_ms"),
            Error = f.String("error", IngestionLimits.MaxErrorText),
            Experiment = f.String("experiment", IngestionLimits.MaxShortText),
            Variant = f.String("variant", IngestionLimits.MaxShortText),
            ContentHash = CanonicalJson.Hash(element),
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (f.Object("metadata") is not null)
        {
            trace.Metadata = f.Json("metadata", 256 * 1024);
        }

        var adjustments = new List<FieldAdjustment>();
        ReadUsage(f, trace);
        ReadTimes(f, trace, now, adjustments);

        var ctx = new SpanBuilder(trace);
        string? userInput;
        string? response;
        if (SimpleFields.Any(f.Has) || !FullFields.Any(f.Has))
        {
            (userInput, response) = ReadSimple(f, ctx);
        }
        else
        {
            (userInput, response) = ReadFull(f, ctx, adjustments);
        }

        if (errors.Count > before)
        {
            return null;
        }

        trace.Model ??= trace.Spans.FirstOrDefault(s => s.Kind == SpanKind.Llm && s.Model is not null)?.Model;
        if (trace.Cost is null)
        {
            trace.Cost = ModelPrices.Compute(trace.Model, trace.PromptTokens, trace.CompletionTokens);
            trace.CostComputed = trace.Cost is not null;
        }

        trace.InputPreview = Preview(userInput);
        trace.OutputPreview = Preview(response);
        trace.SearchText = SearchText(userInput, response);
        trace.SortKey = Trace.MakeSortKey(now, trace.Id);
        return new ParsedTrace(trace, index) { Adjustments = adjustments };
    }

    private static void ReadUsage(JsonFields f, Trace trace)
    {
        if (f.Object("usage") is not { } usage)
        {
            return;
        }

        var u = new JsonFields(usage, f.PathOf("usage"), ErrorsOf(f));
        u.RejectUnknown(UsageFields, "Usage takes prompt_tokens, completion_tokens, total_tokens.");
        trace.PromptTokens = u.NonNegativeInt("prompt_tokens");
        trace.CompletionTokens = u.NonNegativeInt("completion_tokens");
        trace.TotalTokens = u.NonNegativeInt("total_tokens")
            ?? (trace.PromptTokens is null && trace.CompletionTokens is null ? null : (trace.PromptTokens ?? 0) + (trace.CompletionTokens ?? 0));
    }

    private static void ReadTimes(JsonFields f, Trace trace, DateTimeOffset now, List<FieldAdjustment> adjustments)
    {
        var start = f.Time("start_time");
        var end = f.Time("end_time");
        if (start is { } from && end is { } to && to < from)
        {
            if (EndTimes.Refusal(from, to) is { } refusal)
            {
                f.Error("end_time", refusal);
            }
            else
            {
                (trace.Metadata, var reason) = EndTimes.KeepOriginal(trace.Metadata, to, from - to, "trace", "metadata key");
                adjustments.Add(new FieldAdjustment(f.PathOf("end_time"), reason));
                end = from;
            }
        }

        var latency = trace.LatencyMs;
        trace.StartedAt = start ?? (end is not null && latency is not null ? end.Value.AddMilliseconds(-latency.Value) : end ?? now);
        trace.EndedAt = end ?? (latency is not null ? trace.StartedAt.AddMilliseconds(latency.Value) : null);
        trace.LatencyMs ??= trace.EndedAt is { } e ? (e - trace.StartedAt).TotalMilliseconds : null;
    }

    private static (string? UserInput, string? Response) ReadSimple(JsonFields f, SpanBuilder spans)
    {
        var system = f.String("system_prompt", IngestionLimits.MaxLongText);
        var user = f.String("user_input", IngestionLimits.MaxLongText);
        var response = f.String("response", IngestionLimits.MaxLongText);
        var trace = spans.Trace;

        if (system is not null || user is not null || response is not null)
        {
            var messages = new List<object>();
            if (system is not null)
            {
                messages.Add(new { role = "system", content = system });
            }

            if (user is not null)
            {
                messages.Add(new { role = "user", content = user });
            }

            spans.AddGeneration(
                JsonSerializer.Serialize(new { messages }),
                response is null ? null : JsonSerializer.Serialize(new { role = "assistant", content = response }));
        }

        if (f.Array("function_calls") is { } calls)
        {
            var i = 0;
            foreach (var call in calls.EnumerateArray())
            {
                var path = $"{f.PathOf("function_calls")}[{i++}]";
                if (call.ValueKind != JsonValueKind.Object)
                {
                    ErrorsOf(f).Add(new FieldError(path, "A function call must be an object."));
                    continue;
                }

                var c = new JsonFields(call, path, ErrorsOf(f));
                c.RejectUnknown(FunctionCallFields, "A function call takes name, parameters, result, execution_time_ms, error.");
                var duration = c.NonNegativeNumber("execution_time_ms");
                spans.Add(new Span
                {
                    Kind = SpanKind.Tool,
                    Name = c.String("name", IngestionLimits.MaxName, required: true) ?? "",
                    StartedAt = trace.StartedAt,
                    EndedAt = duration is null ? null : trace.StartedAt.AddMilliseconds(duration.Value),
                    DurationMs = duration,
                    Input = c.Json("parameters"),
                    Output = c.Json("result"),
                    Error = c.String("error", IngestionLimits.MaxErrorText),
                });
            }

            if (i > IngestionLimits.MaxSpans)
            {
                f.Error("function_calls", $"At most {IngestionLimits.MaxSpans} function calls.");
            }
        }

        return (user, response);
    }

    private static (string? UserInput, string? Response) ReadFull(JsonFields f, SpanBuilder spans, List<FieldAdjustment> adjustments)
    {
        string? userInput = null;
        string? response = null;
        if (f.Array("messages") is { } messages)
        {
            var list = messages.EnumerateArray().ToList();
            if (list.Count > IngestionLimits.MaxMessages)
            {
                f.Error("messages", $"At most {IngestionLimits.MaxMessages} messages.");
            }

            for (var i = 0; i < list.Count; i++)
            {
                ValidateMessage(list[i], $"{f.PathOf("messages")}[{i}]", ErrorsOf(f));
            }

            // The trailing assistant message is the response; everything before it is the input.
            var last = list.Count > 0 && Role(list[^1]) == "assistant" ? list[^1] : (JsonElement?)null;
            var input = last is null ? list : list[..^1];
            userInput = input.Where(m => Role(m) == "user").Select(ContentText).LastOrDefault();
            response = last is null ? null : ContentText(last.Value);
            spans.AddGeneration("{\"messages\":[" + string.Join(",", input.Select(m => m.GetRawText())) + "]}", last?.GetRawText());
        }

        if (f.Array("spans") is { } spanArray)
        {
            ReadSpans(f, spanArray, spans, adjustments);
        }

        return (userInput, response);
    }

    private static void ReadSpans(JsonFields f, JsonElement array, SpanBuilder spans, List<FieldAdjustment> adjustments)
    {
        var errors = ErrorsOf(f);
        var byId = new Dictionary<string, Span>(StringComparer.Ordinal);
        var parents = new List<(Span Span, string ParentId, string Path)>();
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var path = $"{f.PathOf("spans")}[{i++}]";
            if (i > IngestionLimits.MaxSpans)
            {
                f.Error("spans", $"At most {IngestionLimits.MaxSpans} spans.");
                break;
            }

            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError(path, "A span must be an object."));
                continue;
            }

            var s = new JsonFields(item, path, errors);
            s.RejectUnknown(SpanFields, "Put custom data in 'attributes'.");
            var id = s.String("id", IngestionLimits.MaxShortText);
            var start = s.Time("start_time") ?? spans.Trace.StartedAt;
            var end = s.Time("end_time");
            var duration = s.NonNegativeNumber("duration_ms");
            string? adjustment = null;
            if (end is { } e && e < start)
            {
                if (EndTimes.Refusal(start, e) is { } refusal)
                {
                    s.Error("end_time", refusal);
                }
                else
                {
                    adjustment = s.PathOf("end_time");
                }
            }

            var attributes = s.Object("attributes");
            var span = new Span
            {
                ExternalId = id,
                Kind = ReadKind(s),
                Name = s.String("name", IngestionLimits.MaxName, required: true) ?? "",
                StartedAt = start,
                EndedAt = end ?? (duration is null ? null : start.AddMilliseconds(duration.Value)),
                DurationMs = duration ?? (end is null ? null : (end.Value - start).TotalMilliseconds),
                Input = s.Json("input"),
                Output = s.Json("output"),
                Attributes = attributes is null ? null : s.Json("attributes", 256 * 1024),
                Error = s.String("error", IngestionLimits.MaxErrorText),
                Model = s.String("model", IngestionLimits.MaxShortText),
            };
            if (adjustment is not null)
            {
                (span.Attributes, var reason) = EndTimes.KeepOriginal(span.Attributes, end!.Value, start - end.Value);
                span.EndedAt = start;
                span.DurationMs = duration ?? 0;
                adjustments.Add(new FieldAdjustment(adjustment, reason, id));
            }

            if (id is not null && !byId.TryAdd(id, span))
            {
                s.Error("id", $"Duplicate span id '{id}' in this trace.");
            }

            if (s.String("parent_id", IngestionLimits.MaxShortText) is { } parentId)
            {
                parents.Add((span, parentId, s.PathOf("parent_id")));
            }

            spans.Add(span);
        }

        foreach (var (span, parentId, path) in parents)
        {
            if (byId.TryGetValue(parentId, out var parent))
            {
                span.ParentSpanId = parent.Id;
            }
            else
            {
                errors.Add(new FieldError(path, $"Unknown span parent '{parentId}': no span of this trace has that id."));
            }
        }

        // Every span must reach a root by following parents; one that cannot is in a cycle.
        var byGuid = spans.Trace.Spans.ToDictionary(s => s.Id);
        foreach (var span in spans.Trace.Spans.Where(s => s.ParentSpanId is not null))
        {
            var seen = new HashSet<Guid>();
            var current = span;
            while (current.ParentSpanId is { } p && byGuid.TryGetValue(p, out var next))
            {
                if (!seen.Add(current.Id))
                {
                    f.Error("spans", $"The spans' parent_id links form a cycle (through '{span.ExternalId}').");
                    return;
                }

                current = next;
            }
        }
    }

    private static SpanKind ReadKind(JsonFields s)
    {
        var kind = s.String("kind", 20);
        return kind?.ToLowerInvariant() switch
        {
            null or "other" => SpanKind.Other,
            "llm" or "generation" => SpanKind.Llm,
            "tool" or "function" => SpanKind.Tool,
            "retrieval" or "retriever" => SpanKind.Retrieval,
            "chain" or "agent" => SpanKind.Chain,
            _ => Invalid(),
        };

        SpanKind Invalid()
        {
            s.Error("kind", "Must be one of llm, tool, retrieval, chain, other.");
            return SpanKind.Other;
        }
    }

    private static void ValidateMessage(JsonElement message, string path, List<FieldError> errors)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(path, "A message must be an object with a role."));
            return;
        }

        var m = new JsonFields(message, path, errors);
        var role = m.String("role", 20, required: true);
        if (role is not null && !MessageRoles.Contains(role))
        {
            m.Error("role", "Must be one of system, developer, user, assistant, tool, function.");
        }

        if (message.TryGetProperty("content", out var content) && content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array or JsonValueKind.Null))
        {
            m.Error("content", "Must be a string, an array of content parts, or null.");
        }
        else if (content.ValueKind == JsonValueKind.String && content.GetString()!.Length > IngestionLimits.MaxLongText)
        {
            m.Error("content", $"Must be at most {IngestionLimits.MaxLongText} characters.");
        }

        if (m.Array("tool_calls") is { } calls)
        {
            var i = 0;
            foreach (var call in calls.EnumerateArray())
            {
                var callPath = $"{m.PathOf("tool_calls")}[{i++}]";
                if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object)
                {
                    errors.Add(new FieldError(callPath, "A tool call must be an object with a 'function' object (name, arguments)."));
                    continue;
                }

                new JsonFields(fn, $"{callPath}.function", errors).String("name", IngestionLimits.MaxName, required: true);
            }
        }

        m.String("tool_call_id", IngestionLimits.MaxShortText);
        m.String("name", IngestionLimits.MaxShortText);
    }

    private static string? Role(JsonElement message) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;

    /// <summary>The text of a message's content: the string, or its text parts joined.</summary>
    public static string? ContentText(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content))
        {
            return null;
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString();
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            {
                text.Append(text.Length > 0 ? "\n" : "").Append(t.GetString());
            }
        }

        return text.Length > 0 ? text.ToString() : null;
    }

    internal static string? Preview(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        // Whitespace runs become one space; stops reading once the preview is full (a response can be long).
        var oneLine = new StringBuilder(Math.Min(text.Length, IngestionLimits.PreviewLength + 1));
        var space = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                space = oneLine.Length > 0;
                continue;
            }

            if (space)
            {
                oneLine.Append(' ');
                space = false;
            }

            oneLine.Append(c);
            if (oneLine.Length > IngestionLimits.PreviewLength)
            {
                return oneLine.ToString(0, IngestionLimits.PreviewLength - 1) + "…";
            }
        }

        return oneLine.ToString();
    }

    internal static string? SearchText(string? input, string? response)
    {
        var text = $"{input}\n{response}".Trim();
        if (text.Length == 0)
        {
            return null;
        }

        return (text.Length <= IngestionLimits.SearchTextLength ? text : text[..IngestionLimits.SearchTextLength]).ToLowerInvariant();
    }

    private static List<FieldError> ErrorsOf(JsonFields f) => f.Errors;

    /// <summary>Adds spans in order, giving each its id, trace and position.</summary>
    private sealed class SpanBuilder(Trace trace)
    {
        public Trace Trace => trace;

        /// <summary>The root generation span: the conversation in, the response out, timed like the trace.</summary>
        public void AddGeneration(string inputJson, string? outputJson) => Add(new Span
        {
            Kind = SpanKind.Llm,
            Name = trace.Model ?? trace.Name ?? "generation",
            Model = trace.Model,
            StartedAt = trace.StartedAt,
            EndedAt = trace.EndedAt,
            DurationMs = trace.LatencyMs,
            Input = inputJson,
            Output = outputJson,
            Attributes = trace.Provider is null ? null : JsonSerializer.Serialize(new { provider = trace.Provider }),
            Error = trace.Error,
        });

        public void Add(Span span)
        {
            span.Id = Uuid7.Create(trace.CreatedAt);
            span.TraceId = trace.Id;
            span.Position = trace.Spans.Count;
            trace.Spans.Add(span);
        }
    }
}
