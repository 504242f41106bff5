using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

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

    /// <summary><paramref name="count"/> ExportTraceServiceRequest bodies of <paramref name="tracesPerExport"/> traces each.</summary>
    public static List<byte[]> OtlpExports(string prefix, int count, int tracesPerExport, int seed)
    {
        var rng = new Random(seed);
        var exports = new List<byte[]>(count);
        for (var e = 0; e < count; e++)
        {
            var spans = new Proto();
            for (var t = 0; t < tracesPerExport; t++)
            {
                var c = Conversation.Make(rng);
                var traceId = Id16($"{prefix}-{e}-{t}");
                var root = Id8($"{prefix}-{e}-{t}-llm");
                var start = Epoch.AddSeconds(e * tracesPerExport + t);
                spans.Message(2, Span(traceId, root, null, "chat gpt-4o", 3, start, start.AddMilliseconds(c.LatencyMs), s =>
                {
                    Attribute(s, "gen_ai.operation.name", "chat");
                    Attribute(s, "gen_ai.provider.name", "openai");
                    Attribute(s, "gen_ai.request.model", "gpt-4o");
                    Attribute(s, "gen_ai.response.model", "gpt-4o-2024-08-06");
                    Attribute(s, "gen_ai.usage.input_tokens", c.PromptTokens);
                    Attribute(s, "gen_ai.usage.output_tokens", c.CompletionTokens);
                    Attribute(s, "gen_ai.conversation.id", c.Session);
                    Attribute(s, "gen_ai.system_instructions", JsonSerializer.Serialize(new[] { new { type = "text", content = c.System } }));
                    Attribute(s, "gen_ai.input.messages", JsonSerializer.Serialize(new[] { new { role = "user", parts = new[] { new { type = "text", content = c.User } } } }));
                    Attribute(s, "gen_ai.output.messages", JsonSerializer.Serialize(new[]
                    {
                        new { role = "assistant", parts = new[] { new { type = "text", content = c.Response } }, finish_reason = "stop" },
                    }));
                }));
                for (var k = 0; k < c.Tools.Length; k++)
                {
                    var tool = c.Tools[k];
                    var toolStart = start.AddMilliseconds(100 + k * 150);
                    spans.Message(2, Span(traceId, Id8($"{prefix}-{e}-{t}-tool{k}"), root, $"execute_tool {tool.Name}", 1, toolStart, toolStart.AddMilliseconds(120), s =>
                    {
                        Attribute(s, "gen_ai.operation.name", "execute_tool");
                        Attribute(s, "gen_ai.tool.name", tool.Name);
                        Attribute(s, "gen_ai.tool.call.id", $"call_{k}");
                        Attribute(s, "gen_ai.tool.call.arguments", tool.Parameters);
                        Attribute(s, "gen_ai.tool.call.result", tool.Result);
                    }));
                }
            }

            var scope = new Proto();
            scope.Message(1, new Proto().String(1, "Microsoft.Extensions.AI"));
            scope.Bytes(2, spans.ToArray());
            var resource = new Proto();
            Attribute(resource, "service.name", "support-bot", ResourceAttributes);
            var resourceSpans = new Proto();
            resourceSpans.Message(1, resource);
            resourceSpans.Message(2, scope);
            exports.Add(new Proto().Message(1, resourceSpans).ToArray());
        }

        return exports;
    }

    /// <summary><paramref name="count"/> multipart bodies of <paramref name="tracesPerRequest"/> traces (4 runs each), with their boundary.</summary>
    public static List<(byte[] Body, string Boundary)> LangSmithMultiparts(string prefix, int count, int tracesPerRequest, int seed)
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
                    Run(body, boundary, toolId, rootId, rootId, $"{rootOrder}.{Dotted(toolStart, toolId)}", tool.Name, "tool", toolStart, 120,
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

    private static byte[] Id8(string seed) => Id16(seed)[..8];

    private static Proto Span(byte[] traceId, byte[] spanId, byte[]? parent, string name, int kind, DateTimeOffset start, DateTimeOffset end, Action<Proto> attributes)
    {
        var span = new Proto().Bytes(1, traceId).Bytes(2, spanId);
        if (parent is not null)
        {
            span.Bytes(4, parent);
        }

        span.String(5, name).Varint(6, (ulong)kind).Fixed64(7, UnixNanos(start)).Fixed64(8, UnixNanos(end));
        attributes(span);
        return span.Message(15, new Proto().Varint(3, 1));
    }

    private static ulong UnixNanos(DateTimeOffset t) => (ulong)(t.ToUnixTimeMilliseconds() * 1_000_000);

    // KeyValue{key = 1, value = 2: AnyValue{string_value = 1 | int_value = 3}}: a Span's attributes are its field 9, a Resource's its field 1.
    private const int SpanAttributes = 9;
    private const int ResourceAttributes = 1;

    private static void Attribute(Proto owner, string key, string value, int field = SpanAttributes) =>
        owner.Message(field, new Proto().String(1, key).Message(2, new Proto().String(1, value)));

    private static void Attribute(Proto owner, string key, long value) =>
        owner.Message(SpanAttributes, new Proto().String(1, key).Message(2, new Proto().Varint(3, (ulong)value)));

    /// <summary>A protobuf message being written: fields in order, length-delimited children copied in.</summary>
    private sealed class Proto
    {
        private readonly List<byte> buffer = [];

        public Proto Varint(int field, ulong value)
        {
            Tag(field, 0);
            Raw(value);
            return this;
        }

        public Proto Fixed64(int field, ulong value)
        {
            Tag(field, 1);
            var bytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            buffer.AddRange(bytes);
            return this;
        }

        public Proto Bytes(int field, ReadOnlySpan<byte> value)
        {
            Tag(field, 2);
            Raw((ulong)value.Length);
            buffer.AddRange(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto child) => Bytes(field, child.ToArray());

        public byte[] ToArray() => buffer.ToArray();

        private void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                buffer.Add((byte)(value | 0x80));
                value >>= 7;
            }

            buffer.Add((byte)value);
        }
    }

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
