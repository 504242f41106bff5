using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Web.Traces;

/// <summary>A tool call the model asked for, inside an assistant message.</summary>
public sealed record ChatToolCall(string? Id, string Name, string? Arguments);

/// <summary>One turn of the conversation as the Chat tab shows it.</summary>
public sealed record ChatMessage(string Role, string? Text, IReadOnlyList<ChatToolCall> ToolCalls, string? ToolCallId, bool IsResponse);

/// <summary>
/// The conversation of a trace, read from its generation span: the input messages (OpenAI,
/// Anthropic-style content parts, LangChain) and the response (a message, OpenAI choices, or text).
/// </summary>
public static class ChatTranscript
{
    public static IReadOnlyList<ChatMessage> From(IReadOnlyList<Span> spans)
    {
        var generation = spans.FirstOrDefault(s => s.Kind == SpanKind.Llm);
        if (generation is null)
        {
            return [];
        }

        var messages = new List<ChatMessage>();
        if (StoredJson.TryParse(generation.Input) is { } input)
        {
            var list = input.ValueKind == JsonValueKind.Object && input.TryGetProperty("messages", out var m) ? m : input;
            if (list.ValueKind == JsonValueKind.Array)
            {
                messages.AddRange(list.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object).Select(e => Read(e, isResponse: false)));
            }
        }

        if (StoredJson.TryParse(generation.Output) is { } output)
        {
            if (output.ValueKind == JsonValueKind.String)
            {
                messages.Add(new ChatMessage("assistant", output.GetString(), [], null, IsResponse: true));
            }
            else if (output.ValueKind == JsonValueKind.Object && output.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                messages.AddRange(choices.EnumerateArray()
                    .Where(c => c.ValueKind == JsonValueKind.Object && c.TryGetProperty("message", out var cm) && cm.ValueKind == JsonValueKind.Object)
                    .Select(c => Read(c.GetProperty("message"), isResponse: true)));
            }
            else if (output.ValueKind == JsonValueKind.Object)
            {
                messages.Add(Read(output, isResponse: true));
            }
        }

        return messages;
    }

    private static ChatMessage Read(JsonElement message, bool isResponse)
    {
        var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "assistant";
        var calls = new List<ChatToolCall>();
        if (message.TryGetProperty("tool_calls", out var toolCalls) && toolCalls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in toolCalls.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.Object))
            {
                var fn = call.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? f : call;
                calls.Add(new ChatToolCall(
                    Text(call, "id"),
                    Text(fn, "name") ?? "(unnamed)",
                    fn.TryGetProperty("arguments", out var args) ? (args.ValueKind == JsonValueKind.String ? args.GetString() : args.GetRawText()) : null));
            }
        }

        return new ChatMessage(role, TraceParser.ContentText(message), calls, Text(message, "tool_call_id"), isResponse && role == "assistant");
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Pretty-prints stored JSON for display; non-JSON text is returned as it is.</summary>
    public static string Pretty(string? json)
    {
        if (StoredJson.TryParse(json) is not { } element)
        {
            return json ?? "";
        }

        return element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : JsonSerializer.Serialize(element, PrettyOptions);
    }

    private static readonly JsonSerializerOptions PrettyOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
