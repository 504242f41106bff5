using System.Text.Json.Nodes;

namespace EvalPlatform.Core.LangSmith;

/// <summary>
/// Converts the message formats LangSmith runs carry (OpenAI chat, Anthropic messages, LangChain
/// serialized or dict messages, LangChain content blocks) into OpenAI chat messages, the one format
/// the Chat tab reads: <c>{role, content, tool_calls[{id, type:"function", function{name, arguments}}], tool_call_id}</c>.
/// Content that is all text becomes a string; other blocks (images, reasoning…) are kept as parts
/// beside the text parts, so nothing the client sent is dropped.
/// </summary>
public static class ChatMessages
{
    private static readonly Dictionary<string, string> LangChainRoles = new(StringComparer.Ordinal)
    {
        ["human"] = "user", ["HumanMessage"] = "user", ["HumanMessageChunk"] = "user",
        ["ai"] = "assistant", ["AIMessage"] = "assistant", ["AIMessageChunk"] = "assistant",
        ["system"] = "system", ["SystemMessage"] = "system", ["SystemMessageChunk"] = "system",
        ["tool"] = "tool", ["ToolMessage"] = "tool", ["ToolMessageChunk"] = "tool",
        ["function"] = "function", ["FunctionMessage"] = "function", ["FunctionMessageChunk"] = "function",
        ["developer"] = "developer",
    };

    /// <summary>A list of messages in any supported format; LangChain's batched <c>[[…]]</c> takes its first list.</summary>
    public static List<JsonObject> ConvertList(JsonArray messages)
    {
        var list = messages.Count > 0 && messages[0] is JsonArray first && messages.All(m => m is JsonArray) ? first : messages;
        var result = new List<JsonObject>();
        foreach (var item in list)
        {
            switch (item)
            {
                case JsonObject o:
                    result.AddRange(Convert(o));
                    break;
                case JsonValue v when v.TryGetValue<string>(out var text):
                    result.Add(new JsonObject { ["role"] = "user", ["content"] = text });
                    break;
            }
        }

        return result;
    }

    /// <summary>
    /// One message in any supported format. Usually one OpenAI message; an Anthropic user message
    /// holding <c>tool_result</c> blocks becomes one <c>role:"tool"</c> message per result (plus the rest).
    /// </summary>
    public static List<JsonObject> Convert(JsonObject message)
    {
        // LangChain serialized: {"lc":1,"type":"constructor","id":[…,"HumanMessage"],"kwargs":{…}}.
        if (message["lc"] is not null && message["kwargs"] is JsonObject kwargs)
        {
            var className = message["id"] is JsonArray id && id.Count > 0 ? Text(id[^1]) : null;
            return Build(Role(className, kwargs), kwargs);
        }

        // LangChain messages_to_dict: {"type":"human","data":{"content":…}}.
        if (message["data"] is JsonObject data && Text(message["type"]) is { } dataType && LangChainRoles.ContainsKey(dataType))
        {
            return Build(Role(dataType, data), data);
        }

        var role = Text(message["role"]) ?? (Text(message["type"]) is { } type && LangChainRoles.TryGetValue(type, out var mapped) ? mapped : null);
        if (role is null && Text(message["type"]) == "chat")
        {
            role = Text(message["role"]);
        }

        return Build(role ?? "assistant", message);
    }

    private static string Role(string? typeOrClass, JsonObject fields) =>
        typeOrClass is not null && LangChainRoles.TryGetValue(typeOrClass, out var role)
            ? role
            : Text(fields["role"]) ?? "user";

    private static List<JsonObject> Build(string role, JsonObject source)
    {
        var result = new List<JsonObject>();
        var toolCalls = new JsonArray();
        var parts = new List<JsonNode>();
        var toolResults = new List<JsonObject>();
        var content = source["content"];
        if (content is JsonArray blocks)
        {
            foreach (var block in blocks)
            {
                ReadBlock(block, parts, toolCalls, toolResults);
            }
        }

        // LangChain: kwargs.tool_calls [{name, args, id}]; OpenAI: tool_calls [{id, type, function}]; older LangChain: additional_kwargs.tool_calls.
        var calls = source["tool_calls"] as JsonArray ?? (source["additional_kwargs"] as JsonObject)?["tool_calls"] as JsonArray;
        if (calls is not null)
        {
            foreach (var call in calls.OfType<JsonObject>())
            {
                AddCall(toolCalls, call);
            }
        }

        // Anthropic puts tool results in a user message; each becomes a tool message of its own, first.
        result.AddRange(toolResults);
        var message = new JsonObject { ["role"] = role };
        if (content is JsonArray)
        {
            message["content"] = parts.Count == 0 ? null
                : parts.All(p => p is JsonObject o && Text(o["type"]) == "text")
                    ? string.Join("\n", parts.Select(p => Text(p["text"])))
                    : new JsonArray([.. parts]);
        }
        else
        {
            message["content"] = content?.DeepClone();
        }

        if (toolCalls.Count > 0)
        {
            message["tool_calls"] = toolCalls;
        }

        var toolCallId = Text(source["tool_call_id"]) ?? Text(source["tool_use_id"]);
        if (toolCallId is not null)
        {
            message["tool_call_id"] = toolCallId;
        }

        if (Text(source["name"]) is { } name)
        {
            message["name"] = name;
        }

        if (toolResults.Count == 0 || message["content"] is not null || toolCalls.Count > 0)
        {
            result.Add(message);
        }

        return result;
    }

    private static void ReadBlock(JsonNode? block, List<JsonNode> parts, JsonArray toolCalls, List<JsonObject> toolResults)
    {
        if (block is JsonValue v && v.TryGetValue<string>(out var s))
        {
            parts.Add(new JsonObject { ["type"] = "text", ["text"] = s });
            return;
        }

        if (block is not JsonObject b)
        {
            return;
        }

        switch (Text(b["type"]))
        {
            case "text" when Text(b["text"]) is { } text:
                parts.Add(new JsonObject { ["type"] = "text", ["text"] = text });
                break;
            case "tool_call":
                // LangChain content block: {type:"tool_call", name, args, id}.
                AddCall(toolCalls, b);
                break;
            case "tool_use":
                // Anthropic: {type:"tool_use", id, name, input}.
                toolCalls.Add(Call(Text(b["id"]), Text(b["name"]), b["input"]));
                break;
            case "tool_result":
                toolResults.Add(new JsonObject
                {
                    ["role"] = "tool",
                    ["tool_call_id"] = Text(b["tool_use_id"]),
                    ["content"] = b["content"] is JsonArray inner
                        ? string.Join("\n", inner.OfType<JsonObject>().Select(i => Text(i["text"])).Where(t => t is not null))
                        : b["content"]?.DeepClone(),
                });
                break;
            case "image_url":
                parts.Add(b.DeepClone());
                break;
            case "image" when b["source"] is JsonObject src && Text(src["type"]) == "base64":
                parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = $"data:{Text(src["media_type"])};base64,{Text(src["data"])}" } });
                break;
            case "image" when Text(b["url"]) is { } url:
                parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } });
                break;
            default:
                // reasoning, audio, file, server tool calls…: kept as sent.
                parts.Add(b.DeepClone());
                break;
        }
    }

    private static void AddCall(JsonArray toolCalls, JsonObject call)
    {
        if (call["function"] is JsonObject fn)
        {
            toolCalls.Add(Call(Text(call["id"]), Text(fn["name"]), fn["arguments"]));
        }
        else
        {
            toolCalls.Add(Call(Text(call["id"]), Text(call["name"]), call["args"] ?? call["arguments"] ?? call["input"]));
        }
    }

    private static JsonObject Call(string? id, string? name, JsonNode? arguments) => new()
    {
        ["id"] = id,
        ["type"] = "function",
        ["function"] = new JsonObject
        {
            ["name"] = name ?? "(unnamed)",
            // OpenAI carries arguments as a JSON string; LangChain and Anthropic as an object.
            ["arguments"] = arguments is JsonValue av && av.TryGetValue<string>(out var str) ? str : arguments?.ToJsonString() ?? "{}",
        },
    };

    internal static string? Text(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
