using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>
/// OpenAI's Responses API, passed through where the upstream has it: <c>instructions</c> and <c>input</c> (a string or items)
/// become chat messages for the trace; the answer's <c>output</c> items give the text and function calls.
/// </summary>
public static class OpenAiResponsesWire
{
    public static List<JsonNode> Messages(JsonElement request)
    {
        var messages = new List<JsonNode>();
        if (ProxyWire.Str(request, "instructions") is { Length: > 0 } instructions)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = instructions });
        }

        var input = ProxyWire.Prop(request, "input");
        if (input.ValueKind == JsonValueKind.String)
        {
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = input.GetString() });
            return messages;
        }

        foreach (var item in ProxyWire.Items(request, "input"))
        {
            switch (ProxyWire.Str(item, "type") ?? "message")
            {
                case "message":
                    var content = ProxyWire.Prop(item, "content");
                    messages.Add(new JsonObject
                    {
                        ["role"] = ProxyWire.Str(item, "role") ?? "user",
                        ["content"] = content.ValueKind == JsonValueKind.String
                            ? content.GetString()
                            : string.Join("\n", ProxyWire.Items(item, "content").Select(p => ProxyWire.Str(p, "text")).Where(t => t is not null)),
                    });
                    break;
                case "function_call":
                    messages.Add(new JsonObject
                    {
                        ["role"] = "assistant",
                        ["content"] = null,
                        ["tool_calls"] = new JsonArray(new JsonObject
                        {
                            ["id"] = ProxyWire.Str(item, "call_id"),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = ProxyWire.Str(item, "name") ?? "", ["arguments"] = ProxyWire.Str(item, "arguments") ?? "" },
                        }),
                    });
                    break;
                case "function_call_output":
                    messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = ProxyWire.Str(item, "call_id"), ["content"] = ProxyWire.Str(item, "output") ?? "" });
                    break;
            }
        }

        return messages;
    }

    /// <summary>A <c>response</c> object (the non-streamed body, or the one a <c>response.completed</c> event carries).</summary>
    public static ProxyAnswer ReadAnswer(JsonElement body)
    {
        var answer = new ProxyAnswer { Completed = true };
        Fill(body, answer);
        return answer;
    }

    private static void Fill(JsonElement body, ProxyAnswer answer)
    {
        answer.Id = ProxyWire.Str(body, "id") ?? answer.Id;
        answer.Model = ProxyWire.Str(body, "model") ?? answer.Model;
        answer.FinishReason = ProxyWire.Str(body, "status") ?? answer.FinishReason;
        answer.Text.Clear();
        answer.ToolCalls.Clear();
        foreach (var item in ProxyWire.Items(body, "output"))
        {
            switch (ProxyWire.Str(item, "type"))
            {
                case "message":
                    foreach (var part in ProxyWire.Items(item, "content"))
                    {
                        answer.Text.Append(ProxyWire.Str(part, "text"));
                    }

                    break;
                case "function_call":
                    answer.ToolCalls.Add(new ProxyToolCall(ProxyWire.Str(item, "call_id"), ProxyWire.Str(item, "name") ?? "", ProxyWire.Str(item, "arguments") ?? ""));
                    break;
            }
        }

        var usage = ProxyWire.Prop(body, "usage");
        answer.InputTokens = ProxyWire.WholeNumber(usage, "input_tokens") ?? answer.InputTokens;
        answer.OutputTokens = ProxyWire.WholeNumber(usage, "output_tokens") ?? answer.OutputTokens;
        answer.CachedInputTokens = ProxyWire.WholeNumber(ProxyWire.Prop(usage, "input_tokens_details"), "cached_tokens") ?? answer.CachedInputTokens;
        if (ProxyWire.Prop(body, "error") is { ValueKind: JsonValueKind.Object } error)
        {
            answer.Error = ProxyWire.Str(error, "message");
        }
    }

    /// <summary>The typed events: <c>response.output_text.delta</c> as it comes, the whole response from <c>response.completed</c>.</summary>
    public sealed class StreamAssembler : IStreamAssembler
    {
        public ProxyAnswer Answer { get; } = new();

        public bool Add(SseEvent e)
        {
            if (ProxyWire.TryParse(e.Data) is not { } data)
            {
                return false;
            }

            switch (ProxyWire.Str(data, "type") ?? e.Name)
            {
                case "response.created":
                    Answer.Id = ProxyWire.Str(ProxyWire.Prop(data, "response"), "id");
                    Answer.Model = ProxyWire.Str(ProxyWire.Prop(data, "response"), "model");
                    return false;
                case "response.output_text.delta":
                    Answer.Text.Append(ProxyWire.Str(data, "delta"));
                    return true;
                case "response.function_call_arguments.delta":
                    return true;
                case "response.completed" or "response.incomplete" or "response.failed":
                    Fill(ProxyWire.Prop(data, "response"), Answer);
                    Answer.Completed = true;
                    return false;
                case "error":
                    Answer.Error = ProxyWire.Str(data, "message") ?? data.GetRawText();
                    return false;
                default:
                    return false;
            }
        }
    }
}
