using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// Builds <c>/runs/multipart</c> bodies byte for byte as the LangSmith Python SDK does
/// (<c>_operations.py</c> <c>serialize_run_dict</c> + <c>serialized_run_operation_to_multipart_parts_and_context</c>,
/// encoded by requests-toolbelt's <c>MultipartEncoder</c>): <c>inputs</c>, <c>outputs</c> and <c>events</c> are popped
/// into parts of their own, every part is <c>application/json; length=N</c> with a <c>Content-Length</c> header, attachments
/// are <c>attachment.{id}.{name}</c> with their own MIME type. Public so the benchmark can build realistic bodies too
/// (<see cref="ForTraces"/>).
/// </summary>
public sealed class LangSmithWire
{
    private readonly List<(string Name, byte[] Data, string ContentType)> _parts = [];

    public string Boundary { get; } = Guid.NewGuid().ToString("N");

    public int PartCount => _parts.Count;

    /// <summary>A run operation as the SDK serialises it ("post" or "patch").</summary>
    public LangSmithWire AddRun(string operation, JsonObject run, IEnumerable<(string Name, string ContentType, byte[] Data)>? attachments = null)
    {
        var copy = run.DeepClone().AsObject();
        var id = copy["id"]!.GetValue<string>();
        var popped = new List<(string Key, JsonNode? Value)>();
        foreach (var key in new[] { "inputs", "outputs", "events" })
        {
            if (copy.Remove(key, out var value))
            {
                popped.Add((key, value));
            }
        }

        AddJson($"{operation}.{id}", copy);
        foreach (var (key, value) in popped.Where(p => p.Value is not null))
        {
            AddJson($"{operation}.{id}.{key}", value!);
        }

        foreach (var (name, contentType, data) in attachments ?? [])
        {
            AddPart($"attachment.{id}.{name}", data, contentType);
        }

        return this;
    }

    /// <summary>A <c>feedback.{id}</c> part (the SDK's batched feedback).</summary>
    public LangSmithWire AddFeedback(JsonObject feedback) => AddJson($"feedback.{feedback["id"]!.GetValue<string>()}", feedback);

    public LangSmithWire AddJson(string name, JsonNode value) => AddPart(name, Encoding.UTF8.GetBytes(value.ToJsonString()), "application/json");

    /// <summary>Any part, raw (for malformed or unknown parts).</summary>
    public LangSmithWire AddPart(string name, byte[] data, string contentType)
    {
        _parts.Add((name, data, contentType));
        return this;
    }

    public byte[] ToBytes()
    {
        using var body = new MemoryStream();
        foreach (var (name, data, contentType) in _parts)
        {
            var header = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: {contentType}; length={data.Length}\r\n"
                         + $"Content-Length: {data.Length}\r\n\r\n";
            body.Write(Encoding.UTF8.GetBytes(header));
            body.Write(data);
            body.Write("\r\n"u8);
        }

        body.Write(Encoding.UTF8.GetBytes($"--{Boundary}--\r\n"));
        return body.ToArray();
    }

    public ByteArrayContent ToContent()
    {
        var content = new ByteArrayContent(ToBytes());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        return content;
    }

    /// <summary>Python's <c>datetime.isoformat()</c> of an aware UTC time, as orjson writes it.</summary>
    public static string IsoTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00:00";

    /// <summary>One <c>dotted_order</c> segment: <c>strftime('%Y%m%dT%H%M%S%fZ') + run_id</c>.</summary>
    public static string Segment(DateTimeOffset t, string runId) =>
        t.UtcDateTime.ToString("yyyyMMdd'T'HHmmssffffff", CultureInfo.InvariantCulture) + "Z" + runId;

    /// <summary>
    /// A run as the SDK's <c>RunTree</c> posts it: ids, dotted_order, session_name, extra with metadata and runtime.
    /// <paramref name="parent"/> is the parent's (id, dotted_order), or null for a root.
    /// </summary>
    public static JsonObject Run(string id, string name, string runType, DateTimeOffset start, (string Id, string Dotted, string TraceId)? parent,
        JsonNode? inputs, string project = "support-bot", JsonObject? metadata = null)
    {
        var dotted = parent is { } p ? p.Dotted + "." + Segment(start, id) : Segment(start, id);
        var meta = metadata ?? [];
        meta["ls_run_depth"] = dotted.Count(c => c == '.');
        return new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["run_type"] = runType,
            ["start_time"] = IsoTime(start),
            ["end_time"] = null,
            ["extra"] = new JsonObject
            {
                ["metadata"] = meta,
                ["runtime"] = new JsonObject { ["sdk"] = "langsmith-py", ["sdk_version"] = "0.4.1", ["library"] = "langsmith", ["platform"] = "Linux", ["runtime"] = "python", ["py_implementation"] = "CPython", ["runtime_version"] = "3.11.2" },
            },
            ["error"] = null,
            ["serialized"] = new JsonObject { ["name"] = name },
            ["parent_run_id"] = parent?.Id,
            ["trace_id"] = parent?.TraceId ?? id,
            ["dotted_order"] = dotted,
            ["session_name"] = project,
            ["tags"] = new JsonArray(),
            ["reference_example_id"] = null,
            ["inputs"] = inputs,
        };
    }

    /// <summary>
    /// A realistic SDK body of <paramref name="traces"/> traces, three runs each (an agent chain, an OpenAI-style
    /// llm call with usage, a tool call), every post already carrying its outputs and end time, as the SDK sends a
    /// run whose patch was queued with its post (<c>combine_serialized_queue_operations</c>).
    /// </summary>
    public static LangSmithWire ForTraces(int traces, DateTimeOffset start)
    {
        var wire = new LangSmithWire();
        for (var i = 0; i < traces; i++)
        {
            var t0 = start.AddMilliseconds(i * 10);
            var rootId = Uuid7.Create(t0).ToString();
            var root = Run(rootId, "support-agent", "chain", t0, null, new JsonObject { ["question"] = $"Where is order {i}?" },
                metadata: new JsonObject { ["thread_id"] = $"thread-{i % 50}", ["user_id"] = $"user-{i % 200}" });
            var rootRef = (rootId, root["dotted_order"]!.GetValue<string>(), rootId);
            var llmId = Uuid7.Create(t0.AddMilliseconds(1)).ToString();
            var llm = Run(llmId, "ChatOpenAI", "llm", t0.AddMilliseconds(1), rootRef, new JsonObject
            {
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "system", ["content"] = "You are a support agent for an online shop. Be concise and friendly." },
                    new JsonObject { ["role"] = "user", ["content"] = $"Where is order {i}? It was due yesterday." }),
                ["model"] = "gpt-4o-mini",
                ["temperature"] = 0.2,
            }, metadata: new JsonObject { ["ls_provider"] = "openai", ["ls_model_name"] = "gpt-4o-mini", ["ls_model_type"] = "chat" });
            llm["end_time"] = IsoTime(t0.AddMilliseconds(801));
            llm["outputs"] = new JsonObject
            {
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["finish_reason"] = "tool_calls",
                    ["message"] = new JsonObject
                    {
                        ["role"] = "assistant",
                        ["content"] = "Let me check that order for you.",
                        ["tool_calls"] = new JsonArray(new JsonObject
                        {
                            ["id"] = $"call_{i}", ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = "lookup_order", ["arguments"] = $"{{\"order_id\":{i}}}" },
                        }),
                    },
                }),
                ["usage_metadata"] = new JsonObject { ["input_tokens"] = 412, ["output_tokens"] = 38, ["total_tokens"] = 450 },
            };
            var toolId = Uuid7.Create(t0.AddMilliseconds(802)).ToString();
            var tool = Run(toolId, "lookup_order", "tool", t0.AddMilliseconds(802), rootRef, new JsonObject { ["order_id"] = i });
            tool["end_time"] = IsoTime(t0.AddMilliseconds(845));
            tool["outputs"] = new JsonObject { ["output"] = new JsonObject { ["status"] = "shipped", ["carrier"] = "DHL" } };
            root["end_time"] = IsoTime(t0.AddMilliseconds(900));
            root["outputs"] = new JsonObject { ["answer"] = "Your order shipped yesterday with DHL." };
            wire.AddRun("post", root).AddRun("post", llm).AddRun("post", tool);
        }

        return wire;
    }
}
