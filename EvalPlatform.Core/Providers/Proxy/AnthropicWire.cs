using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>
/// Anthropic's messages API: the request's conversation turned into the OpenAI chat shape the trace keeps for every
/// protocol (tool_use blocks become tool calls, tool_result blocks tool messages), and the answer from a JSON body or a stream.
/// </summary>
public static class AnthropicWire
{
    /// <summary>The conversation of a request: <c>system</c> (a string or text blocks) first, then each message.</summary>
    public static List<JsonNode> Messages(JsonElement request)
    {
        var messages = new List<JsonNode>();
        var system = Wire.Prop(request, "system");
        if (BlocksText(system) is { Length: > 0 } systemText)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = systemText });
        }

        foreach (var message in Wire.Items(request, "messages"))
        {
            var role = Wire.Str(message, "role") ?? "user";
            var content = Wire.Prop(message, "content");
            if (content.ValueKind != JsonValueKind.Array)
            {
                messages.Add(new JsonObject { ["role"] = role, ["content"] = content.ValueKind == JsonValueKind.String ? content.GetString() : null });
                continue;
            }

            var text = new StringBuilder();
            var calls = new JsonArray();
            foreach (var block in content.EnumerateArray())
            {
                switch (Wire.Str(block, "type"))
                {
                    case "text":
                        text.Append(text.Length > 0 ? "\n" : "").Append(Wire.Str(block, "text"));
                        break;
                    case "tool_use":
                        calls.Add(new JsonObject
                        {
                            ["id"] = Wire.Str(block, "id"),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = Wire.Str(block, "name") ?? "", ["arguments"] = Wire.Prop(block, "input") is { ValueKind: not JsonValueKind.Undefined } input ? input.GetRawText() : "{}" },
                        });
                        break;
                    case "tool_result":
                        var result = Wire.Prop(block, "content");
                        messages.Add(new JsonObject
                        {
                            ["role"] = "tool",
                            ["tool_call_id"] = Wire.Str(block, "tool_use_id"),
                            ["content"] = result.ValueKind == JsonValueKind.String ? result.GetString() : BlocksText(result) ?? "",
                        });
                        break;
                }
            }

            if (text.Length > 0 || calls.Count > 0)
            {
                var turn = new JsonObject { ["role"] = role, ["content"] = text.Length > 0 ? text.ToString() : null };
                if (calls.Count > 0)
                {
                    turn["tool_calls"] = calls;
                }

                messages.Add(turn);
            }
        }

        return messages;
    }

    private static string? BlocksText(JsonElement blocks) => blocks.ValueKind switch
    {
        JsonValueKind.String => blocks.GetString(),
        JsonValueKind.Array => string.Join("\n", blocks.EnumerateArray().Select(b => Wire.Str(b, "text")).Where(t => t is not null)),
        _ => null,
    };

    /// <summary>A non-streamed <c>message</c> body.</summary>
    public static ProxyAnswer ReadAnswer(JsonElement body)
    {
        var answer = new ProxyAnswer
        {
            Id = Wire.Str(body, "id"),
            Model = Wire.Str(body, "model"),
            FinishReason = Wire.Str(body, "stop_reason"),
            Completed = true,
        };
        foreach (var block in Wire.Items(body, "content"))
        {
            switch (Wire.Str(block, "type"))
            {
                case "text":
                    answer.Text.Append(Wire.Str(block, "text"));
                    break;
                case "tool_use":
                    answer.ToolCalls.Add(new ProxyToolCall(Wire.Str(block, "id"), Wire.Str(block, "name") ?? "",
                        Wire.Prop(block, "input") is { ValueKind: not JsonValueKind.Undefined } input ? input.GetRawText() : "{}"));
                    break;
            }
        }

        ReadUsage(Wire.Prop(body, "usage"), answer);
        return answer;
    }

    private static void ReadUsage(JsonElement usage, ProxyAnswer answer)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        // Anthropic counts cached input apart from input_tokens; the trace's prompt tokens are all the input the model read.
        var cacheRead = Wire.Int(usage, "cache_read_input_tokens");
        var cacheWrite = Wire.Int(usage, "cache_creation_input_tokens");
        if (Wire.Int(usage, "input_tokens") is { } input)
        {
            answer.InputTokens = input + (cacheRead ?? 0) + (cacheWrite ?? 0);
        }

        answer.CachedInputTokens = cacheRead ?? answer.CachedInputTokens;
        answer.OutputTokens = Wire.Int(usage, "output_tokens") ?? answer.OutputTokens;
    }

    /// <summary>
    /// The events of a stream: <c>message_start</c> (id, model, input usage), <c>content_block_start</c> /
    /// <c>content_block_delta</c> (<c>text_delta</c>, <c>input_json_delta</c>) by block index, <c>message_delta</c> (stop
    /// reason, output usage), <c>message_stop</c> completes it; <c>error</c> events are kept; <c>ping</c> ignored.
    /// </summary>
    public sealed class StreamAssembler : IStreamAssembler
    {
        private readonly SortedDictionary<int, (string Type, string? Id, string Name, StringBuilder Content)> _blocks = [];
        private readonly ProxyAnswer _answer = new();

        public ProxyAnswer Answer
        {
            get
            {
                _answer.Text.Clear();
                _answer.ToolCalls.Clear();
                foreach (var block in _blocks.Values)
                {
                    if (block.Type == "text")
                    {
                        _answer.Text.Append(block.Content);
                    }
                    else if (block.Type == "tool_use")
                    {
                        _answer.ToolCalls.Add(new ProxyToolCall(block.Id, block.Name, block.Content.Length > 0 ? block.Content.ToString() : "{}"));
                    }
                }

                return _answer;
            }
        }

        public bool Add(SseEvent e)
        {
            if (Wire.TryParse(e.Data) is not { } data)
            {
                return false;
            }

            switch (Wire.Str(data, "type") ?? e.Name)
            {
                case "message_start":
                    var message = Wire.Prop(data, "message");
                    _answer.Id = Wire.Str(message, "id");
                    _answer.Model = Wire.Str(message, "model");
                    ReadUsage(Wire.Prop(message, "usage"), _answer);
                    return false;
                case "content_block_start":
                    var start = Wire.Prop(data, "content_block");
                    var type = Wire.Str(start, "type") ?? "";
                    var initial = new StringBuilder(type == "text" ? Wire.Str(start, "text") ?? "" : "");
                    _blocks[Wire.Int(data, "index") ?? _blocks.Count] = (type, Wire.Str(start, "id"), Wire.Str(start, "name") ?? "", initial);
                    return type == "tool_use" || initial.Length > 0;
                case "content_block_delta":
                    var delta = Wire.Prop(data, "delta");
                    var index = Wire.Int(data, "index") ?? 0;
                    if (!_blocks.TryGetValue(index, out var block))
                    {
                        block = (Wire.Str(delta, "type") == "input_json_delta" ? "tool_use" : "text", null, "", new StringBuilder());
                        _blocks[index] = block;
                    }

                    var piece = Wire.Str(delta, "type") switch
                    {
                        "text_delta" => Wire.Str(delta, "text"),
                        "input_json_delta" => Wire.Str(delta, "partial_json"),
                        _ => null,
                    };
                    block.Content.Append(piece);
                    return piece is { Length: > 0 } || Wire.Str(delta, "type") == "thinking_delta";
                case "message_delta":
                    _answer.FinishReason = Wire.Str(Wire.Prop(data, "delta"), "stop_reason") ?? _answer.FinishReason;
                    ReadUsage(Wire.Prop(data, "usage"), _answer);
                    return false;
                case "message_stop":
                    _answer.Completed = true;
                    return false;
                case "error":
                    var error = Wire.Prop(data, "error");
                    _answer.Error = Wire.Str(error, "message") ?? Wire.Str(error, "type") ?? data.GetRawText();
                    return false;
                default:
                    return false;
            }
        }
    }
}
