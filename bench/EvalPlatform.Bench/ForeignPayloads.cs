using System.Globalization;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Otlp;

namespace EvalPlatform.Bench;

/// <summary>
/// The same support-bot conversations as <see cref="Payloads"/>, as the other front doors receive
/// them: OTLP protobuf exports (a <c>chat</c> span with the GenAI conventions and two
/// <c>execute_tool</c> children per trace, as Microsoft.Extensions.AI emits them) and LangSmith SDK
/// multipart bodies (a chain run with an llm and two tool runs per trace, in the SDK's part layout).
/// Serialised up front, deterministic per seed.
/// </summary>
internal static class ForeignPayloads
{
    public const int SpansPerTrace = 3;
    public const int RunsPerTrace = 4;

    private static readonly DateTimeOffset Epoch = new(2026, 8, 20, 10, 0, 0, TimeSpan.Zero);

    /// <summary><paramref name="count"/> ExportTraceServiceRequest bodies of <paramref name="tracesPerExport"/> traces each (Core's own OTLP writer).</summary>
    public static List<byte[]> OtlpExports(string prefix, int count, int tracesPerExport, int seed)
    {
        var rng = new Random(seed);
        var exports = new List<byte[]>(count);
        for (var e = 0; e < count; e++)
        {
            var scope = new OtlpScopeSpans { ScopeName = "Microsoft.Extensions.AI" };
            for (var t = 0; t < tracesPerExport; t++)
            {
                var c = Conversation.Make(rng);
                var traceId = Id16($"{prefix}-{e}-{t}");
                var root = Id16($"{prefix}-{e}-{t}-llm")[..8];
                var start = Epoch.AddSeconds(e * tracesPerExport + t);
                scope.Spans.Add(Span(traceId, root, null, "chat gpt-4o", start, start.AddMilliseconds(c.LatencyMs),
                    ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"), ("gen_ai.request.model", "gpt-4o"),
                    ("gen_ai.response.model", "gpt-4o-2024-08-06"), ("gen_ai.usage.input_tokens", (long)c.PromptTokens),
                    ("gen_ai.usage.output_tokens", (long)c.CompletionTokens), ("gen_ai.conversation.id", c.Session),
                    ("gen_ai.system_instructions", JsonSerializer.Serialize(new[] { new { type = "text", content = c.System } })),
                    ("gen_ai.input.messages", JsonSerializer.Serialize(new[] { new { role = "user", parts = new[] { new { type = "text", content = c.User } } } })),
                    ("gen_ai.output.messages", JsonSerializer.Serialize(new[]
                    {
                        new { role = "assistant", parts = new[] { new { type = "text", content = c.Response } }, finish_reason = "stop" },
                    }))));
                for (var k = 0; k < c.Tools.Length; k++)
                {
                    var tool = c.Tools[k];
                    var toolStart = start.AddMilliseconds(100 + k * 150);
                    scope.Spans.Add(Span(traceId, Id16($"{prefix}-{e}-{t}-tool{k}")[..8], root, $"execute_tool {tool.Name}", toolStart, toolStart.AddMilliseconds(120),
                        ("gen_ai.operation.name", "execute_tool"), ("gen_ai.tool.name", tool.Name), ("gen_ai.tool.call.id", $"call_{k}"),
                        ("gen_ai.tool.call.arguments", tool.Parameters), ("gen_ai.tool.call.result", tool.Result)));
                }
            }

            var resource = new OtlpResourceSpans();
            resource.ResourceAttributes.Add(new OtlpAttribute("service.name", "support-bot"));
            resource.ScopeSpans.Add(scope);
            var request = new OtlpExportRequest();
            request.ResourceSpans.Add(resource);
            exports.Add(OtlpProtobufWriter.WriteExportRequest(request));
        }

        return exports;
    }

    private static OtlpSpan Span(byte[] traceId, byte[] spanId, byte[]? parent, string name, DateTimeOffset start, DateTimeOffset end, params (string Key, object Value)[] attributes)
    {
        var span = new OtlpSpan
        {
            TraceId = OtlpId.FromBytes(traceId, 16), SpanId = OtlpId.FromBytes(spanId, 8),
            ParentSpanId = parent is null ? default : OtlpId.FromBytes(parent, 8),
            Name = name, Kind = 3, StartTimeUnixNano = UnixNanos(start), EndTimeUnixNano = UnixNanos(end), StatusCode = 1,
        };
        span.Attributes.AddRange(attributes.Select(a => new OtlpAttribute(a.Key, a.Value)));
        return span;
    }

    /// <summary>
    /// <paramref name="count"/> multipart bodies of <paramref name="tracesPerRequest"/> traces (4 runs each), with their boundary;
    /// with <paramref name="toolsEndBeforeStart"/> every tool run ends 0.5 ms before it
    /// starts, so ingestion adjusts each one and counts it in the ingestion issue log (the log's cost, side by side).
    /// </summary>
    public static List<(byte[] Body, string Boundary)> LangSmithMultiparts(string prefix, int count, int tracesPerRequest, int seed, bool toolsEndBeforeStart = false)
    {
        var rng = new Random(seed);
        var bodies = new List<(byte[], string)>(count);
        for (var r = 0; r < count; r++)
        {
            var boundary = $"bench{seed:x}{r:x8}";
            using var body = new MemoryStream();
            for (var t = 0; t < tracesPerRequest; t++)
            {
                var c = Conversation.Make(rng);
                var start = Epoch.AddSeconds(r * tracesPerRequest + t);
                var rootId = Uuid($"{prefix}-{r}-{t}-root");
                var rootOrder = Dotted(start, rootId);
                Run(body, boundary, rootId, rootId, null, rootOrder, "support-agent", "chain", start, c.LatencyMs,
                    new { question = c.User }, new { answer = c.Response }, null);
                var llmId = Uuid($"{prefix}-{r}-{t}-llm");
                var llmStart = start.AddMilliseconds(10);
                Run(body, boundary, llmId, rootId, rootId, $"{rootOrder}.{Dotted(llmStart, llmId)}", "ChatOpenAI", "llm", llmStart, c.LatencyMs - 20,
                    new { messages = new object[] { new { role = "system", content = c.System }, new { role = "user", content = c.User } } },
                    new
                    {
                        choices = new[] { new { message = new { role = "assistant", content = c.Response } } },
                        usage_metadata = new { input_tokens = c.PromptTokens, output_tokens = c.CompletionTokens, total_tokens = c.PromptTokens + c.CompletionTokens },
                    },
                    new { metadata = new { ls_provider = "openai", ls_model_name = "gpt-4o", thread_id = c.Session } });
                for (var k = 0; k < c.Tools.Length; k++)
                {
                    var tool = c.Tools[k];
                    var toolId = Uuid($"{prefix}-{r}-{t}-tool{k}");
                    var toolStart = start.AddMilliseconds(100 + k * 150);
                    Run(body, boundary, toolId, rootId, rootId, $"{rootOrder}.{Dotted(toolStart, toolId)}", tool.Name, "tool", toolStart, toolsEndBeforeStart ? -0.5 : 120,
                        JsonDocument.Parse(tool.Parameters).RootElement, JsonDocument.Parse(tool.Result).RootElement, null);
                }
            }

            Write(body, $"--{boundary}--\r\n");
            bodies.Add((body.ToArray(), boundary));
        }

        return bodies;
    }

    // As langsmith/_internal/_operations.py lays a run out: the run without its big fields, then one part per big field.
    private static void Run(
        MemoryStream body, string boundary, Guid id, Guid traceId, Guid? parent, string dottedOrder, string name, string runType,
        DateTimeOffset start, double latencyMs, object inputs, object outputs, object? extra)
    {
        Part(body, boundary, $"post.{id}", new
        {
            id, trace_id = traceId, parent_run_id = parent, dotted_order = dottedOrder, name, run_type = runType,
            start_time = start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            end_time = start.AddMilliseconds(latencyMs).UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            session_name = "support-bot",
        });
        Part(body, boundary, $"post.{id}.inputs", inputs);
        Part(body, boundary, $"post.{id}.outputs", outputs);
        if (extra is not null)
        {
            Part(body, boundary, $"post.{id}.extra", extra);
        }
    }

    private static void Part(MemoryStream body, string boundary, string name, object value)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value);
        Write(body, $"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\n\r\n");
        body.Write(json);
        Write(body, "\r\n");
    }

    private static void Write(MemoryStream body, string text) => body.Write(Encoding.ASCII.GetBytes(text));

    private static string Dotted(DateTimeOffset time, Guid id) =>
        time.UtcDateTime.ToString("yyyyMMdd'T'HHmmssffffff'Z'", CultureInfo.InvariantCulture) + id;

    private static Guid Uuid(string seed) => new(Id16(seed));

    private static byte[] Id16(string seed) => System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(seed))[..16];

    private static ulong UnixNanos(DateTimeOffset t) => (ulong)(t.ToUnixTimeMilliseconds() * 1_000_000);

    /// <summary>One support conversation of <see cref="Payloads"/>' kind.</summary>
    private sealed record Conversation(string System, string User, string Response, string Session, int PromptTokens, int CompletionTokens, double LatencyMs,
        (string Name, string Parameters, string Result)[] Tools)
    {
        public static Conversation Make(Random rng)
        {
            var (system, user, response, tools) = Payloads.Topic(rng);
            return new Conversation(system, user, response, $"s-{rng.Next(1_000_000)}", rng.Next(300, 1500), rng.Next(30, 200), rng.Next(400, 3000), tools);
        }
    }
}
