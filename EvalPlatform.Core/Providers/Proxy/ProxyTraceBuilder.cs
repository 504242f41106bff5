using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Ingestion;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>
/// What a caller names in the <c>X-EvalPlatform-*</c> headers: the trace's name, session, end user, tags, external id and
/// environment. Validated when read (by the proxy endpoints), so the trace they make is never refused for them.
/// </summary>
public sealed record ProxyCaller(
    string? TraceName = null, string? Session = null, string? User = null, IReadOnlyList<string>? Tags = null,
    string? ExternalId = null, string? Environment = null)
{
    public IReadOnlyList<string> TagList => Tags ?? [];
}

/// <summary>One call through the proxy as it happened: the request as sent upstream, what came back, and when.</summary>
public sealed class ProxyExchange
{
    public required ProxyProtocol Protocol { get; init; }

    /// <summary>The request body as sent upstream (after an experiment's config was applied).</summary>
    public required JsonElement Request { get; init; }

    public required ProxyCaller Caller { get; init; }

    /// <summary>The trace's <c>provider</c>: openai, anthropic or openai_compatible.</summary>
    public required string Provider { get; init; }

    /// <summary>The connection's name (metadata).</summary>
    public string? Connection { get; init; }

    public required DateTimeOffset StartedAt { get; init; }
    public double LatencyMs { get; set; }
    public double? TimeToFirstTokenMs { get; set; }

    /// <summary>The upstream's status; null when none came (a network error).</summary>
    public int? Status { get; set; }

    public bool Streamed { get; init; }

    /// <summary>The client went away before the answer ended: what arrived is recorded, marked.</summary>
    public bool Abandoned { get; set; }

    /// <summary>Answered from a cassette, without calling upstream.</summary>
    public bool Replayed { get; init; }

    public ProxyAnswer? Answer { get; set; }

    /// <summary>Why the call failed: the upstream's error, a dropped stream, a network error.</summary>
    public string? Error { get; set; }

    public string? Experiment { get; init; }
    public string? Variant { get; init; }
}

/// <summary>
/// Turns a proxied call into a trace in the native full shape (<see cref="TraceParser"/>), so it takes the normal ingestion
/// path: Chat = the request's messages and the answer as an assistant message (OpenAI's chat shape for every protocol),
/// Functions = one tool span per tool call, with its result when a later message of the conversation carries it,
/// Metadata = the parameters, the proxy's view of the call (protocol, connection, status, stream, abandoned) and usage
/// details. Cost is left to ingestion (<c>ModelPrices</c>), as for every door.
/// </summary>
public static class ProxyTraceBuilder
{
    /// <summary>The tag an abandoned stream's trace carries.</summary>
    public const string AbandonedTag = "abandoned";

    private static readonly HashSet<string> ContentFields = ["messages", "input", "instructions", "system", "tools", "stream", "model", "stream_options"];
    private static readonly HashSet<string> MessageFields = ["role", "content", "tool_calls", "tool_call_id", "name"];
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool", "function"];

    public static JsonObject Build(ProxyExchange x)
    {
        var messages = Conversation(x.Protocol, x.Request);
        var answer = x.Answer;
        if (answer is not null && (answer.Text.Length > 0 || answer.ToolCalls.Count > 0))
        {
            messages.Add(answer.ToAssistantMessage());
        }

        var trace = new JsonObject
        {
            ["name"] = Cut(x.Caller.TraceName, IngestionLimits.MaxName) ?? DefaultName(x.Protocol),
            ["provider"] = x.Provider,
            ["start_time"] = x.StartedAt.ToString("O"),
            ["end_time"] = x.StartedAt.AddMilliseconds(x.LatencyMs).ToString("O"),
            ["latency_ms"] = Math.Round(x.LatencyMs, 3),
            ["messages"] = new JsonArray(messages.Take(IngestionLimits.MaxMessages).ToArray()),
        };
        Set(trace, "external_id", x.Caller.ExternalId);
        Set(trace, "session_id", x.Caller.Session);
        Set(trace, "user_id", x.Caller.User);
        Set(trace, "environment", x.Caller.Environment);
        Set(trace, "experiment", x.Experiment);
        Set(trace, "variant", x.Variant);
        Set(trace, "model", Cut(answer?.Model ?? ProxyWire.Str(x.Request, "model"), IngestionLimits.MaxShortText));
        if (x.TimeToFirstTokenMs is { } ttft)
        {
            trace["time_to_first_token_ms"] = Math.Round(ttft, 3);
        }

        var tags = x.Caller.TagList.ToList();
        if (x.Abandoned && tags.Count < IngestionLimits.MaxTags && !tags.Contains(AbandonedTag))
        {
            tags.Add(AbandonedTag);
        }

        if (tags.Count > 0)
        {
            trace["tags"] = new JsonArray(tags.Select(t => (JsonNode)t!).ToArray());
        }

        if (answer is { InputTokens: not null } or { OutputTokens: not null })
        {
            var usage = new JsonObject();
            Set(usage, "prompt_tokens", answer.InputTokens);
            Set(usage, "completion_tokens", answer.OutputTokens);
            trace["usage"] = usage;
        }

        if (x.Error is { } error)
        {
            trace["error"] = Cut(error, IngestionLimits.MaxErrorText);
        }

        if (ToolSpans(messages) is { Count: > 0 } spans)
        {
            trace["spans"] = spans;
        }

        trace["metadata"] = Metadata(x);
        return trace;
    }

    private static string DefaultName(ProxyProtocol protocol) => protocol switch
    {
        ProxyProtocol.OpenAiChat => "chat.completions",
        ProxyProtocol.OpenAiResponses => "responses",
        _ => "messages",
    };

    /// <summary>The request's conversation in the chat shape, each message trimmed to the fields a trace keeps.</summary>
    private static List<JsonNode> Conversation(ProxyProtocol protocol, JsonElement request)
    {
        var raw = protocol switch
        {
            ProxyProtocol.AnthropicMessages => AnthropicWire.Messages(request),
            ProxyProtocol.OpenAiResponses => OpenAiResponsesWire.Messages(request),
            _ => ProxyWire.Items(request, "messages").Select(m => JsonNode.Parse(m.GetRawText())!).ToList(),
        };
        var messages = new List<JsonNode>(raw.Count);
        foreach (var node in raw)
        {
            if (node is not JsonObject m)
            {
                continue;
            }

            var clean = new JsonObject();
            foreach (var (key, value) in m)
            {
                if (MessageFields.Contains(key))
                {
                    clean[key] = value?.DeepClone();
                }
            }

            if (clean["role"]?.GetValueKind() != JsonValueKind.String || !Roles.Contains(clean["role"]!.GetValue<string>()))
            {
                clean["role"] = "user";
            }

            if (clean["content"] is { } content && content.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Array or JsonValueKind.Null))
            {
                clean["content"] = content.ToJsonString();
            }

            foreach (var field in new[] { "tool_call_id", "name" })
            {
                if (clean[field] is { } v && (v.GetValueKind() != JsonValueKind.String || v.GetValue<string>().Length > IngestionLimits.MaxShortText))
                {
                    clean.Remove(field);
                }
            }

            if (clean["tool_calls"] is { } calls && !ValidToolCalls(calls))
            {
                clean.Remove("tool_calls");
            }

            messages.Add(clean);
        }

        return messages;
    }

    private static bool ValidToolCalls(JsonNode calls) =>
        calls is JsonArray array && array.All(c => c is JsonObject o && o["function"] is JsonObject fn
            && fn["name"]?.GetValueKind() == JsonValueKind.String && fn["name"]!.GetValue<string>() is { Length: > 0 and <= IngestionLimits.MaxName });

    /// <summary>A tool span per tool call in the conversation, its output the tool message that answers its id, when one does.</summary>
    private static JsonArray ToolSpans(List<JsonNode> messages)
    {
        var results = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var m in messages.OfType<JsonObject>())
        {
            if (m["role"]?.GetValue<string>() == "tool" && m["tool_call_id"]?.GetValue<string>() is { } id)
            {
                results[id] = m["content"]?.DeepClone();
            }
        }

        var spans = new JsonArray();
        foreach (var m in messages.OfType<JsonObject>())
        {
            if (m["tool_calls"] is not JsonArray calls)
            {
                continue;
            }

            foreach (var call in calls.OfType<JsonObject>())
            {
                if (spans.Count >= IngestionLimits.MaxSpans - 1)
                {
                    return spans;
                }

                var fn = (JsonObject)call["function"]!;
                var id = call["id"]?.GetValueKind() == JsonValueKind.String ? call["id"]!.GetValue<string>() : null;
                var arguments = fn["arguments"]?.GetValueKind() == JsonValueKind.String ? fn["arguments"]!.GetValue<string>() : fn["arguments"]?.ToJsonString();
                var span = new JsonObject
                {
                    ["kind"] = "tool",
                    ["name"] = fn["name"]!.GetValue<string>(),
                    ["input"] = arguments is null ? null : ProxyWire.TryParse(arguments) is { } parsed ? JsonNode.Parse(parsed.GetRawText()) : arguments,
                };
                if (id is not null && id.Length <= IngestionLimits.MaxShortText)
                {
                    span["attributes"] = new JsonObject { ["tool_call_id"] = id };
                    if (results.TryGetValue(id, out var output))
                    {
                        span["output"] = output is JsonValue v && v.GetValueKind() == JsonValueKind.String && ProxyWire.TryParse(v.GetValue<string>()) is { ValueKind: JsonValueKind.Object or JsonValueKind.Array } json
                            ? JsonNode.Parse(json.GetRawText())
                            : output;
                    }
                }

                spans.Add(span);
            }
        }

        return spans;
    }

    private static JsonObject Metadata(ProxyExchange x)
    {
        var proxy = new JsonObject
        {
            ["protocol"] = x.Protocol switch
            {
                ProxyProtocol.OpenAiChat => "openai.chat.completions",
                ProxyProtocol.OpenAiResponses => "openai.responses",
                _ => "anthropic.messages",
            },
            ["stream"] = x.Streamed,
        };
        Set(proxy, "connection", x.Connection);
        Set(proxy, "status", x.Status);
        if (x.Abandoned)
        {
            proxy["abandoned"] = true;
        }

        if (x.Replayed)
        {
            proxy["replayed"] = true;
        }

        if (x.Answer is { Completed: false } && x.Streamed)
        {
            proxy["complete"] = false;
        }

        var metadata = new JsonObject { ["proxy"] = proxy };
        var parameters = new JsonObject();
        if (x.Request.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in x.Request.EnumerateObject())
            {
                if (!ContentFields.Contains(p.Name))
                {
                    parameters[p.Name] = JsonNode.Parse(p.Value.GetRawText());
                }
            }
        }

        if (parameters.Count > 0)
        {
            metadata["parameters"] = parameters;
        }

        var tools = ProxyWire.Items(x.Request, "tools").Select(t => ProxyWire.Str(t, "name") ?? ProxyWire.Str(ProxyWire.Prop(t, "function"), "name")).Where(n => n is not null).ToList();
        if (tools.Count > 0)
        {
            metadata["tools"] = new JsonArray(tools.Select(n => (JsonNode)n!).ToArray());
        }

        if (x.Answer is { } a)
        {
            Set(metadata, "finish_reason", a.FinishReason);
            Set(metadata, "response_id", a.Id);
            Set(metadata, "cached_input_tokens", a.CachedInputTokens);
        }

        // Ingestion refuses metadata over 256 KB; a trace is never lost for its parameters (a large JSON schema).
        if (metadata.ToJsonString().Length > MaxMetadataChars)
        {
            metadata.Remove("parameters");
            metadata["parameters_omitted"] = $"The parameters were larger than {MaxMetadataChars / 1024} KB.";
        }

        return metadata;
    }

    private const int MaxMetadataChars = 200 * 1024;

    private static void Set(JsonObject o, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            o[name] = value;
        }
    }

    private static void Set(JsonObject o, string name, int? value)
    {
        if (value is { } v)
        {
            o[name] = v;
        }
    }

    private static string? Cut(string? text, int max) => text is null ? null : text.Length <= max ? text : text[..(max - 1)] + "…";
}
