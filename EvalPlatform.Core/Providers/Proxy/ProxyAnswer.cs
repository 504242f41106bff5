using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>The provider APIs the proxy speaks, each with its own request and answer shapes.</summary>
public enum ProxyProtocol
{
    /// <summary>OpenAI's <c>POST /v1/chat/completions</c> (and every OpenAI-compatible server's).</summary>
    OpenAiChat,

    /// <summary>OpenAI's <c>POST /v1/responses</c>.</summary>
    OpenAiResponses,

    /// <summary>Anthropic's <c>POST /v1/messages</c>.</summary>
    AnthropicMessages,
}

/// <summary>A tool call the model made: its id, the function's name and its arguments as the model wrote them (JSON text).</summary>
public sealed record ProxyToolCall(string? Id, string Name, string Arguments);

/// <summary>
/// What an upstream answered, the same for every protocol: assembled from a JSON body or, piece by piece, from a stream
/// (<see cref="IStreamAssembler"/>). A stream cut short leaves what arrived, with <see cref="Completed"/> false.
/// </summary>
public sealed class ProxyAnswer
{
    public string? Id { get; set; }
    public string? Model { get; set; }
    public StringBuilder Text { get; } = new();
    public List<ProxyToolCall> ToolCalls { get; } = [];
    public string? FinishReason { get; set; }
    public int? InputTokens { get; set; }
    public int? OutputTokens { get; set; }
    public int? CachedInputTokens { get; set; }

    /// <summary>The upstream's error message (an error body, or an error event inside a stream).</summary>
    public string? Error { get; set; }

    /// <summary>The answer is whole: a JSON body, or a stream that reached its end marker.</summary>
    public bool Completed { get; set; }

    /// <summary>The answer as an OpenAI chat assistant message, the trace's shape for every protocol (tool calls included).</summary>
    public JsonObject ToAssistantMessage()
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = Text.Length > 0 ? Text.ToString() : null };
        if (ToolCalls.Count > 0)
        {
            message["tool_calls"] = new JsonArray(ToolCalls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id,
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments },
            }).ToArray());
        }

        return message;
    }
}

/// <summary>Assembles a streamed answer event by event, as the tee reads them.</summary>
public interface IStreamAssembler
{
    ProxyAnswer Answer { get; }

    /// <summary>Takes one event; true when it carried generated content (text or a tool call), which times the first token.</summary>
    bool Add(SseEvent e);
}

/// <summary>Reading helpers for the wire formats: tolerant of missing or mistyped fields (an answer is recorded as it came).</summary>
public static class ProxyWire
{
    public static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static int? WholeNumber(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    public static JsonElement Prop(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    public static IEnumerable<JsonElement> Items(JsonElement e, string name) =>
        Prop(e, name) is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray() : [];

    public static JsonElement? TryParse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The message of an error body: OpenAI's and Anthropic's <c>{"error":{"message"}}</c>, else the text itself (cut).</summary>
    public static string ErrorMessage(int status, string body)
    {
        if (TryParse(body) is { } json && Prop(json, "error") is var error)
        {
            if (Str(error, "message") is { } message)
            {
                return $"{status}: {message}";
            }

            if (error.ValueKind == JsonValueKind.String)
            {
                return $"{status}: {error.GetString()}";
            }
        }

        var text = body.Trim();
        return text.Length == 0 ? $"The upstream answered {status}." : $"{status}: {(text.Length > 2000 ? text[..2000] + "…" : text)}";
    }
}
