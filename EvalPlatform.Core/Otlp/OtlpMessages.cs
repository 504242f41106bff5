using System.Globalization;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Otlp;

/// <summary>
/// Turns the message shapes of the GenAI conventions (every generation) and OpenInference into
/// OpenAI chat messages: <c>{role, content, tool_calls:[{id, type:"function", function:{name, arguments}}]}</c>
/// and tool results as <c>{role:"tool", tool_call_id, content}</c>, what the Chat tab reads.
/// </summary>
internal static class OtlpMessages
{
    /// <summary>
    /// GenAI <c>gen_ai.input.messages</c>/<c>gen_ai.output.messages</c>: <c>[{role, parts:[…], finish_reason?}]</c>.
    /// Messages already in OpenAI shape (no <c>parts</c>) are normalised as they are.
    /// </summary>
    public static List<JsonObject> FromGenAi(JsonNode? messages)
    {
        var result = new List<JsonObject>();
        if (messages is JsonObject single)
        {
            messages = new JsonArray(single.DeepClone());
        }

        if (messages is not JsonArray array)
        {
            return result;
        }

        foreach (var m in array.OfType<JsonObject>())
        {
            var role = Str(m["role"]) ?? "user";
            if (m["parts"] is not JsonArray parts)
            {
                result.Add(Normalize(m));
                continue;
            }

            var content = new List<JsonNode>();
            var calls = new JsonArray();
            var allText = true;
            foreach (var part in parts.OfType<JsonObject>())
            {
                switch (Str(part["type"]))
                {
                    case "text":
                        content.Add(new JsonObject { ["type"] = "text", ["text"] = Str(part["content"]) ?? Str(part["text"]) ?? "" });
                        break;
                    case "tool_call":
                        calls.Add(ToolCall(Str(part["id"]), Str(part["name"]), part["arguments"]));
                        break;
                    case "tool_call_response":
                        // A tool result is its own message in OpenAI's shape, whatever role carried it.
                        result.Add(new JsonObject
                        {
                            ["role"] = "tool",
                            ["tool_call_id"] = Str(part["id"]),
                            ["content"] = ResultText(part["response"] ?? part["result"] ?? part["content"]),
                        });
                        break;
                    default:
                        allText = false;
                        content.Add(part.DeepClone());
                        break;
                }
            }

            if (content.Count == 0 && calls.Count == 0 && parts.Count > 0)
            {
                continue;
            }

            var message = new JsonObject { ["role"] = role, ["content"] = Content(content, allText) };
            if (calls.Count > 0)
            {
                message["tool_calls"] = calls;
            }

            if (Str(m["name"]) is { } name)
            {
                message["name"] = name;
            }

            if (Str(m["finish_reason"]) is { } finish)
            {
                message["finish_reason"] = finish;
            }

            result.Add(message);
        }

        return result;
    }

    /// <summary><c>gen_ai.system_instructions</c>: a list of parts (or plain text) as one system message.</summary>
    public static JsonObject? SystemInstructions(JsonNode? instructions)
    {
        var text = instructions switch
        {
            JsonArray parts => string.Join("\n", parts.Select(p => p is JsonObject o ? Str(o["content"]) ?? Str(o["text"]) : Str(p)).Where(t => t is not null)),
            JsonObject o => Str(o["content"]) ?? Str(o["text"]),
            JsonValue v => Str(v),
            _ => null,
        };
        return string.IsNullOrEmpty(text) ? null : new JsonObject { ["role"] = "system", ["content"] = text };
    }

    /// <summary>An OpenAI-shaped message with its tool-call arguments as strings (what the Chat tab shows).</summary>
    public static JsonObject Normalize(JsonObject message)
    {
        var copy = (JsonObject)message.DeepClone();
        if (copy["tool_calls"] is JsonArray calls)
        {
            copy["tool_calls"] = new JsonArray(calls.OfType<JsonObject>().Select(c =>
            {
                var fn = c["function"] as JsonObject ?? c;
                return (JsonNode)ToolCall(Str(c["id"]), Str(fn["name"]), fn["arguments"]);
            }).ToArray());
        }

        return copy;
    }

    /// <summary>Indexed flattened attributes (<c>prefix.{i}.rest</c>) grouped by index, in index order.</summary>
    public static SortedDictionary<int, Dictionary<string, object?>> Indexed(IEnumerable<(string Key, string Suffix, object? Value)> entries)
    {
        var byIndex = new SortedDictionary<int, Dictionary<string, object?>>();
        foreach (var (_, rest, value) in entries)
        {
            var dot = rest.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || !int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var i))
            {
                continue;
            }

            if (!byIndex.TryGetValue(i, out var fields))
            {
                byIndex[i] = fields = new Dictionary<string, object?>(StringComparer.Ordinal);
            }

            fields[rest[(dot + 1)..]] = value;
        }

        return byIndex;
    }

    /// <summary>OpenLLMetry's <c>gen_ai.prompt.{i}.role/content/tool_call_id/tool_calls.{k}.id/name/arguments</c>.</summary>
    public static List<JsonObject> FromOpenLlmetry(SortedDictionary<int, Dictionary<string, object?>> byIndex, string defaultRole)
    {
        var result = new List<JsonObject>();
        foreach (var fields in byIndex.Values)
        {
            var message = new JsonObject
            {
                ["role"] = OtlpValues.Text(Get(fields, "role")) ?? defaultRole,
                ["content"] = ContentValue(Get(fields, "content")),
            };
            var calls = new JsonArray();
            foreach (var call in Indexed(fields.Where(f => f.Key.StartsWith("tool_calls.", StringComparison.Ordinal))
                         .Select(f => (f.Key, f.Key["tool_calls.".Length..], f.Value))).Values)
            {
                calls.Add(ToolCall(OtlpValues.Text(Get(call, "id")), OtlpValues.Text(Get(call, "name")), OtlpValues.ToJson(Get(call, "arguments"))));
            }

            if (Get(fields, "function_call.name") is { } fnName)
            {
                calls.Add(ToolCall(null, OtlpValues.Text(fnName), OtlpValues.ToJson(Get(fields, "function_call.arguments"))));
            }

            AddCalls(message, calls);
            if (OtlpValues.Text(Get(fields, "tool_call_id")) is { } callId)
            {
                message["tool_call_id"] = callId;
            }

            if (OtlpValues.Text(Get(fields, "finish_reason")) is { } finish)
            {
                message["finish_reason"] = finish;
            }

            result.Add(message);
        }

        return result;
    }

    /// <summary>
    /// OpenInference's <c>llm.input_messages.{i}.message.role/content/name/tool_call_id</c>,
    /// <c>…message.contents.{j}.message_content.type/text/image.image.url</c> and
    /// <c>…message.tool_calls.{k}.tool_call.id/function.name/function.arguments</c>.
    /// </summary>
    public static List<JsonObject> FromOpenInference(SortedDictionary<int, Dictionary<string, object?>> byIndex)
    {
        var result = new List<JsonObject>();
        foreach (var fields in byIndex.Values)
        {
            var message = new JsonObject { ["role"] = OtlpValues.Text(Get(fields, "message.role")) ?? "user" };
            if (Get(fields, "message.content") is { } content)
            {
                message["content"] = ContentValue(content);
            }
            else
            {
                var parts = new List<JsonNode>();
                var allText = true;
                foreach (var part in Indexed(Sub(fields, "message.contents.")).Values)
                {
                    var type = OtlpValues.Text(Get(part, "message_content.type")) ?? "text";
                    if (type == "text")
                    {
                        parts.Add(new JsonObject { ["type"] = "text", ["text"] = OtlpValues.Text(Get(part, "message_content.text")) ?? "" });
                    }
                    else
                    {
                        allText = false;
                        parts.Add(type == "image" && OtlpValues.Text(Get(part, "message_content.image.image.url")) is { } url
                            ? new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } }
                            : OtlpValues.ToObject(part.Select(p => new OtlpAttribute(p.Key, p.Value))));
                    }
                }

                message["content"] = Content(parts, allText);
            }

            var calls = new JsonArray();
            foreach (var call in Indexed(Sub(fields, "message.tool_calls.")).Values)
            {
                calls.Add(ToolCall(OtlpValues.Text(Get(call, "tool_call.id")), OtlpValues.Text(Get(call, "tool_call.function.name")),
                    OtlpValues.ToJson(Get(call, "tool_call.function.arguments"))));
            }

            AddCalls(message, calls);
            if (OtlpValues.Text(Get(fields, "message.tool_call_id")) is { } callId)
            {
                message["tool_call_id"] = callId;
            }

            if (OtlpValues.Text(Get(fields, "message.name")) is { } name)
            {
                message["name"] = name;
            }

            result.Add(message);
        }

        return result;
    }

    /// <summary>
    /// One per-message event (<c>gen_ai.user.message</c>…, ≤ v1.36) from its body fields: <c>content</c>,
    /// <c>tool_calls</c>, <c>id</c> (a tool message's call id), <c>role</c>; <c>gen_ai.choice</c> holds <c>message</c>.
    /// </summary>
    public static JsonObject FromEventBody(string role, JsonObject body)
    {
        if (body["message"] is JsonObject inner)
        {
            body = inner;
        }

        var message = new JsonObject { ["role"] = Str(body["role"]) ?? role, ["content"] = body["content"]?.DeepClone() };
        if (body["tool_calls"] is JsonArray calls)
        {
            var converted = new JsonArray();
            foreach (var c in calls.OfType<JsonObject>())
            {
                var fn = c["function"] as JsonObject ?? c;
                converted.Add(ToolCall(Str(c["id"]), Str(fn["name"]), fn["arguments"]));
            }

            AddCalls(message, converted);
        }

        if (role == "tool" && (Str(body["id"]) ?? Str(body["tool_call_id"])) is { } id)
        {
            message["tool_call_id"] = id;
        }

        return message;
    }

    /// <summary>The response as the span's output: one message, or OpenAI <c>choices</c> when there are several.</summary>
    public static JsonNode? Output(List<JsonObject> messages) => messages.Count switch
    {
        0 => null,
        1 => messages[0],
        _ => new JsonObject
        {
            ["choices"] = new JsonArray(messages.Select((m, i) => (JsonNode)new JsonObject { ["index"] = i, ["message"] = m }).ToArray()),
        },
    };

    private static JsonObject ToolCall(string? id, string? name, JsonNode? arguments) => new()
    {
        ["id"] = id,
        ["type"] = "function",
        ["function"] = new JsonObject
        {
            ["name"] = name,
            ["arguments"] = arguments is null ? null : arguments is JsonValue v && v.TryGetValue<string>(out var s) ? s : arguments.ToJsonString(),
        },
    };

    private static void AddCalls(JsonObject message, JsonArray calls)
    {
        if (calls.Count > 0)
        {
            message["tool_calls"] = calls;
        }
    }

    /// <summary>Text parts alone become one string; anything else stays a list of parts.</summary>
    private static JsonNode? Content(List<JsonNode> parts, bool allText)
    {
        if (parts.Count == 0)
        {
            return null;
        }

        return allText
            ? JsonValue.Create(string.Join("\n", parts.Select(p => Str(p["text"]))))
            : new JsonArray(parts.ToArray());
    }

    /// <summary>A content attribute: text, or (as some instrumentations send multimodal content) a JSON list of parts.</summary>
    private static JsonNode? ContentValue(object? value) =>
        value is string s && OtlpValues.ParseJson(s, onlyContainers: true) is JsonArray parts && parts.All(p => p is JsonObject o && o["type"] is not null)
            ? parts
            : OtlpValues.ToJson(value);

    private static string? ResultText(JsonNode? result) =>
        result is null ? null : result is JsonValue v && v.TryGetValue<string>(out var s) ? s : result.ToJsonString();

    private static IEnumerable<(string Key, string Suffix, object? Value)> Sub(Dictionary<string, object?> fields, string prefix) =>
        fields.Where(f => f.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(f => (f.Key, f.Key[prefix.Length..], f.Value));

    private static object? Get(Dictionary<string, object?> fields, string key) => fields.TryGetValue(key, out var v) ? v : null;

    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
