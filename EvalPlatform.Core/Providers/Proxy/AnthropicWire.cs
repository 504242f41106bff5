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
        var system = ProxyWire.Prop(request, "system");
        if (BlocksText(system) is { Length: > 0 } systemText)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = systemText });
        }

        foreach (var message in ProxyWire.Items(request, "messages"))
        {
            var role = ProxyWire.Str(message, "role") ?? "user";
            var content = ProxyWire.Prop(message, "content");
            if (content.ValueKind != JsonValueKind.Array)
            {
                messages.Add(new JsonObject { ["role"] = role, ["content"] = content.ValueKind == JsonValueKind.String ? content.GetString() : null });
                continue;
            }

            var text = new StringBuilder();
            var calls = new JsonArray();
            foreach (var block in content.EnumerateArray())
            {
                switch (ProxyWire.Str(block, "type"))
                {
                    case "text":
                        text.Append(text.Length > 0 ? "\n" : "").Append(ProxyWire.Str(block, "text"));
                        break;
                    case "tool_use":
                        calls.Add(new JsonObject
                        {
                            ["id"] = ProxyWire.Str(block, "id"),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = ProxyWire.Str(block, "name") ?? "", ["arguments"] = ProxyWire.Prop(block, "input") is { ValueKind: not JsonValueKind.Undefined } input ? input.GetRawText() : "{}" },
                        });
                        break;
                    case "tool_result":
                        var result = ProxyWire.Prop(block, "content");
                        messages.Add(new JsonObject
                        {
                            ["role"] = "tool",
                            ["tool_call_id"] = ProxyWire.Str(block, "tool_use_id"),
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
        JsonValueKind.Array => string.Join("\n", blocks.EnumerateArray().Select(b => ProxyWire.Str(b, "text")).Where(t => t is not null)),
        _ => null,
    };

    /// <summary>A non-streamed <c>message</c> body.</summary>
    public static ProxyAnswer ReadAnswer(JsonElement body)
    {
        var answer = new ProxyAnswer
        {
            Id = ProxyWire.Str(body, "id"),
            Model = ProxyWire.Str(body, "model"),
            FinishReason = ProxyWire.Str(body, "stop_reason"),
            Completed = true,
        };
        foreach (var block in ProxyWire.Items(body, "content"))
        {
            switch (ProxyWire.Str(block, "type"))
            {
                case "text":
                    answer.Text.Append(ProxyWire.Str(block, "text"));
                    break;
                case "tool_use":
                    answer.ToolCalls.Add(new ProxyToolCall(ProxyWire.Str(block, "id"), ProxyWire.Str(block, "name") ?? "",
                        ProxyWire.Prop(block, "input") is { ValueKind: not JsonValueKind.Undefined } input ? input.GetRawText() : "{}"));
                    break;
            }
        }

        ReadUsage(ProxyWire.Prop(body, "usage"), answer);
        return answer;
    }

    private static void ReadUsage(JsonElement usage, ProxyAnswer answer)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        // Anthropic counts cached input apart from input_tokens; the trace's prompt tokens are all the input the model read.
        var cacheRead = ProxyWire.WholeNumber(usage, "cache_read_input_tokens");
        var cacheWrite = ProxyWire.WholeNumber(usage, "cache_creation_input_tokens");
        if (ProxyWire.WholeNumber(usage, "input_tokens") is { } input)
        {
            answer.InputTokens = input + (cacheRead ?? 0) + (cacheWrite ?? 0);
        }

        answer.CachedInputTokens = cacheRead ?? answer.CachedInputTokens;
        answer.OutputTokens = ProxyWire.WholeNumber(usage, "output_tokens") ?? answer.OutputTokens;
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
            if (ProxyWire.TryParse(e.Data) is not { } data)
            {
                return false;
            }

            switch (ProxyWire.Str(data, "type") ?? e.Name)
            {
                case "message_start":
                    var message = ProxyWire.Prop(data, "message");
                    _answer.Id = ProxyWire.Str(message, "id");
                    _answer.Model = ProxyWire.Str(message, "model");
                    ReadUsage(ProxyWire.Prop(message, "usage"), _answer);
                    return false;
                case "content_block_start":
                    var start = ProxyWire.Prop(data, "content_block");
                    var type = ProxyWire.Str(start, "type") ?? "";
                    var initial = new StringBuilder(type == "text" ? ProxyWire.Str(start, "text") ?? "" : "");
                    _blocks[ProxyWire.WholeNumber(data, "index") ?? _blocks.Count] = (type, ProxyWire.Str(start, "id"), ProxyWire.Str(start, "name") ?? "", initial);
                    return type == "tool_use" || initial.Length > 0;
                case "content_block_delta":
                    var delta = ProxyWire.Prop(data, "delta");
                    var index = ProxyWire.WholeNumber(data, "index") ?? 0;
                    if (!_blocks.TryGetValue(index, out var block))
                    {
                        block = (ProxyWire.Str(delta, "type") == "input_json_delta" ? "tool_use" : "text", null, "", new StringBuilder());
                        _blocks[index] = block;
                    }

                    var piece = ProxyWire.Str(delta, "type") switch
                    {
                        "text_delta" => ProxyWire.Str(delta, "text"),
                        "input_json_delta" => ProxyWire.Str(delta, "partial_json"),
                        _ => null,
                    };
                    block.Content.Append(piece);
                    return piece is { Length: > 0 } || ProxyWire.Str(delta, "type") == "thinking_delta";
                case "message_delta":
                    _answer.FinishReason = ProxyWire.Str(ProxyWire.Prop(data, "delta"), "stop_reason") ?? _answer.FinishReason;
                    ReadUsage(ProxyWire.Prop(data, "usage"), _answer);
                    return false;
                case "message_stop":
                    _answer.Completed = true;
                    return false;
                case "error":
                    var error = ProxyWire.Prop(data, "error");
                    _answer.Error = ProxyWire.Str(error, "message") ?? ProxyWire.Str(error, "type") ?? data.GetRawText();
                    return false;
                default:
                    return false;
            }
        }
    }
}
