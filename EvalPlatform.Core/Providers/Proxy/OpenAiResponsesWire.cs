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
        if (Wire.Str(request, "instructions") is { Length: > 0 } instructions)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = instructions });
        }

        var input = Wire.Prop(request, "input");
        if (input.ValueKind == JsonValueKind.String)
        {
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = input.GetString() });
            return messages;
        }

        foreach (var item in Wire.Items(request, "input"))
        {
            switch (Wire.Str(item, "type") ?? "message")
            {
                case "message":
                    var content = Wire.Prop(item, "content");
                    messages.Add(new JsonObject
                    {
                        ["role"] = Wire.Str(item, "role") ?? "user",
                        ["content"] = content.ValueKind == JsonValueKind.String
                            ? content.GetString()
                            : string.Join("\n", Wire.Items(item, "content").Select(p => Wire.Str(p, "text")).Where(t => t is not null)),
                    });
                    break;
                case "function_call":
                    messages.Add(new JsonObject
                    {
                        ["role"] = "assistant",
                        ["content"] = null,
                        ["tool_calls"] = new JsonArray(new JsonObject
                        {
                            ["id"] = Wire.Str(item, "call_id"),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = Wire.Str(item, "name") ?? "", ["arguments"] = Wire.Str(item, "arguments") ?? "" },
                        }),
                    });
                    break;
                case "function_call_output":
                    messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = Wire.Str(item, "call_id"), ["content"] = Wire.Str(item, "output") ?? "" });
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
        answer.Id = Wire.Str(body, "id") ?? answer.Id;
        answer.Model = Wire.Str(body, "model") ?? answer.Model;
        answer.FinishReason = Wire.Str(body, "status") ?? answer.FinishReason;
        answer.Text.Clear();
        answer.ToolCalls.Clear();
        foreach (var item in Wire.Items(body, "output"))
        {
            switch (Wire.Str(item, "type"))
            {
                case "message":
                    foreach (var part in Wire.Items(item, "content"))
                    {
                        answer.Text.Append(Wire.Str(part, "text"));
                    }

                    break;
                case "function_call":
                    answer.ToolCalls.Add(new ProxyToolCall(Wire.Str(item, "call_id"), Wire.Str(item, "name") ?? "", Wire.Str(item, "arguments") ?? ""));
                    break;
            }
        }

        var usage = Wire.Prop(body, "usage");
        answer.InputTokens = Wire.Int(usage, "input_tokens") ?? answer.InputTokens;
        answer.OutputTokens = Wire.Int(usage, "output_tokens") ?? answer.OutputTokens;
        answer.CachedInputTokens = Wire.Int(Wire.Prop(usage, "input_tokens_details"), "cached_tokens") ?? answer.CachedInputTokens;
        if (Wire.Prop(body, "error") is { ValueKind: JsonValueKind.Object } error)
        {
            answer.Error = Wire.Str(error, "message");
        }
    }

    /// <summary>The typed events: <c>response.output_text.delta</c> as it comes, the whole response from <c>response.completed</c>.</summary>
    public sealed class StreamAssembler : IStreamAssembler
    {
        public ProxyAnswer Answer { get; } = new();

        public bool Add(SseEvent e)
        {
            if (Wire.TryParse(e.Data) is not { } data)
            {
                return false;
            }

            switch (Wire.Str(data, "type") ?? e.Name)
            {
                case "response.created":
                    Answer.Id = Wire.Str(Wire.Prop(data, "response"), "id");
                    Answer.Model = Wire.Str(Wire.Prop(data, "response"), "model");
                    return false;
                case "response.output_text.delta":
                    Answer.Text.Append(Wire.Str(data, "delta"));
                    return true;
                case "response.function_call_arguments.delta":
                    return true;
                case "response.completed" or "response.incomplete" or "response.failed":
                    Fill(Wire.Prop(data, "response"), Answer);
                    Answer.Completed = true;
                    return false;
                case "error":
                    Answer.Error = Wire.Str(data, "message") ?? data.GetRawText();
                    return false;
                default:
                    return false;
            }
        }
    }
}
