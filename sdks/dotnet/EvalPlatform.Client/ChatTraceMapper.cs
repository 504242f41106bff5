using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace EvalPlatform.Client;

/// <summary>
/// Turns one chat call into a trace of the full shape: the conversation in the OpenAI chat format
/// (assistant <c>tool_calls</c>, <c>tool</c> messages with their results; the response last) and a
/// <c>tool</c> span per tool call with its arguments, result and error.
/// </summary>
internal static class ChatTraceMapper
{
    private const int MaxErrorLength = 10_000;
    private const int MaxShortText = 200;
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    public static EvalTrace ToTrace(
        IReadOnlyList<ChatMessage> input, ChatOptions? options, ChatResponse? response, ChatClientMetadata? metadata,
        DateTimeOffset startedAt, TimeSpan latency, TimeSpan? firstToken, Exception? error, bool streaming)
    {
        var all = response is null ? input : [.. input, .. response.Messages];
        var messages = new List<JsonObject>();
        foreach (var message in all)
        {
            AddMessage(messages, message);
        }

        var trace = new EvalTrace
        {
            Model = Short(response?.ModelId ?? options?.ModelId ?? metadata?.DefaultModelId),
            Provider = Short(metadata?.ProviderName),
            StartTime = startedAt,
            EndTime = startedAt + latency,
            LatencyMs = latency.TotalMilliseconds,
            TimeToFirstTokenMs = firstToken?.TotalMilliseconds,
            Error = error is null ? null : Truncate($"{error.GetType().Name}: {error.Message}", MaxErrorLength),
            Messages = messages.Count > 0 ? messages : null,
            Spans = ToolSpans(all, startedAt),
        };

        if (response?.Usage is { } usage && (usage.InputTokenCount is not null || usage.OutputTokenCount is not null))
        {
            trace.Usage = new EvalUsage(Clamp(usage.InputTokenCount), Clamp(usage.OutputTokenCount), Clamp(usage.TotalTokenCount));
        }

        var extra = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (streaming)
        {
            extra["streaming"] = true;
        }

        if (response?.FinishReason is { } finish)
        {
            extra["finish_reason"] = finish.Value;
        }

        if (response?.ResponseId is { } responseId)
        {
            extra["response_id"] = responseId;
        }

        if (extra.Count > 0)
        {
            trace.Metadata = extra;
        }

        return trace;
    }

    private static void AddMessage(List<JsonObject> messages, ChatMessage message)
    {
        var role = message.Role.Value.ToLowerInvariant();
        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count > 0)
        {
            // OpenAI format: one "tool" message per result, linked to its call by id.
            foreach (var result in results)
            {
                messages.Add(new JsonObject
                {
                    ["role"] = "tool",
                    ["tool_call_id"] = result.CallId,
                    ["content"] = ResultText(result),
                });
            }

            if (message.Contents.All(c => c is FunctionResultContent))
            {
                return;
            }
        }

        var json = new JsonObject
        {
            ["role"] = Roles.Contains(role) ? role : "user",
            ["content"] = Content(message),
        };
        if (message.AuthorName is { Length: > 0 } author)
        {
            json["name"] = Short(author);
        }

        var calls = message.Contents.OfType<FunctionCallContent>().ToList();
        if (calls.Count > 0)
        {
            json["role"] = "assistant";
            json["tool_calls"] = new JsonArray([.. calls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.CallId,
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = c.Name,
                    ["arguments"] = c.Arguments is null ? "{}" : Serialize(c.Arguments),
                },
            })]);
        }

        messages.Add(json);
    }

    /// <summary>The message's text, or content parts when it carries more than text (media as a short description, never its bytes).</summary>
    private static JsonNode? Content(ChatMessage message)
    {
        var parts = message.Contents.Where(c => c is not (FunctionCallContent or FunctionResultContent or UsageContent)).ToList();
        if (parts.All(p => p is TextContent))
        {
            var text = message.Text;
            return text.Length == 0 ? null : JsonValue.Create(text);
        }

        var array = new JsonArray();
        foreach (var part in parts)
        {
            switch (part)
            {
                case TextContent text:
                    array.Add(new JsonObject { ["type"] = "text", ["text"] = text.Text });
                    break;
                case UriContent uri when uri.HasTopLevelMediaType("image"):
                    array.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = uri.Uri.ToString() } });
                    break;
                case UriContent uri:
                    array.Add(new JsonObject { ["type"] = "text", ["text"] = $"[{uri.MediaType}: {uri.Uri}]" });
                    break;
                case DataContent data:
                    array.Add(new JsonObject { ["type"] = "text", ["text"] = $"[{data.MediaType}, {data.Data.Length} bytes]" });
                    break;
                case TextReasoningContent reasoning when !string.IsNullOrEmpty(reasoning.Text):
                    array.Add(new JsonObject { ["type"] = "text", ["text"] = $"[reasoning] {reasoning.Text}" });
                    break;
                case ErrorContent failure:
                    array.Add(new JsonObject { ["type"] = "text", ["text"] = $"[error] {failure.Message}" });
                    break;
                default:
                    break;
            }
        }

        return array.Count == 0 ? null : array;
    }

    /// <summary>A tool span per call, with the result found by call id anywhere in the conversation.</summary>
    private static List<EvalSpan>? ToolSpans(IReadOnlyList<ChatMessage> messages, DateTimeOffset startedAt)
    {
        var results = new Dictionary<string, FunctionResultContent>(StringComparer.Ordinal);
        foreach (var result in messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>())
        {
            if (result.CallId is { } id)
            {
                results.TryAdd(id, result);
            }
        }

        var spans = new List<EvalSpan>();
        foreach (var call in messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>())
        {
            results.TryGetValue(call.CallId ?? "", out var result);
            var exception = result?.Exception ?? call.Exception;
            spans.Add(new EvalSpan
            {
                Id = $"tool-{spans.Count + 1}",
                Kind = "tool",
                Name = string.IsNullOrEmpty(call.Name) ? "tool" : call.Name,
                StartTime = startedAt,
                Input = call.Arguments is null ? null : JsonNode.Parse(Serialize(call.Arguments)),
                Output = result is null ? null : ResultNode(result),
                Error = exception is null ? null : Truncate($"{exception.GetType().Name}: {exception.Message}", MaxErrorLength),
                Attributes = call.CallId is null ? null : new Dictionary<string, object?> { ["call_id"] = call.CallId },
            });
        }

        return spans.Count > 0 ? spans : null;
    }

    private static JsonNode? ResultNode(FunctionResultContent result)
    {
        if (result.Result is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(Serialize(result.Result));
        }
        catch (JsonException)
        {
            return JsonValue.Create(result.Result.ToString());
        }
    }

    private static string? ResultText(FunctionResultContent result) =>
        result.Result switch
        {
            null => result.Exception is { } e ? $"Error: {e.Message}" : null,
            string s => s,
            _ => Serialize(result.Result),
        };

    private static string Serialize(object value)
    {
        try
        {
            return JsonSerializer.Serialize(value, AIJsonUtilities.DefaultOptions.GetTypeInfo(value.GetType()));
        }
#pragma warning disable CA1031 // A value that cannot be serialized is shown as text rather than losing the trace.
        catch (Exception)
#pragma warning restore CA1031
        {
            return JsonSerializer.Serialize(value.ToString());
        }
    }

    private static int? Clamp(long? count) => count is null ? null : (int)Math.Clamp(count.Value, 0, int.MaxValue);

    private static string? Short(string? text) => text is null ? null : Truncate(text, MaxShortText);

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
