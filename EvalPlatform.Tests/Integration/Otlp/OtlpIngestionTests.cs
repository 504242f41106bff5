using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Otlp;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Unit.Otlp;
using Microsoft.Extensions.AI;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EvalPlatform.Tests.Integration.Otlp;

/// <summary>
/// OTLP end to end on a real Kestrel port: the official OpenTelemetry .NET SDK and exporter (protobuf,
/// gzip), OTLP/JSON posted by hand (the .NET exporter has no JSON protocol), read back through the API.
/// </summary>
public abstract class OtlpIngestionTests(EvalAppFactory app)
{
    /// <summary>Every answer the exporter got, in order (its own logging swallows failures).</summary>
    private sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        public List<(HttpStatusCode Status, byte[] Body)> Responses { get; } = [];

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = base.Send(request, cancellationToken);
            Record(response);
            return response;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            Record(response);
            return response;
        }

        private void Record(HttpResponseMessage response)
        {
            var body = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            lock (Responses)
            {
                Responses.Add((response.StatusCode, body));
            }

            response.Content = new ByteArrayContent(body);
        }
    }

    private async Task<(string Key, Guid TeamId)> KeyAsync(ApiKeyScopes scopes = ApiKeyScopes.Ingest | ApiKeyScopes.Read)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        return ((await TestData.CreateKeyAsync(app.Services, team.Id, scopes)).Key, team.Id);
    }

    private HttpClient Client(string? key)
    {
        var http = new HttpClient { BaseAddress = app.ServerAddress };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("x-api-key", key);
        }

        return http;
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string url)
    {
        var response = await http.GetAsync(url);
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<JsonElement> OnlyTraceAsync(HttpClient http, string query = "")
    {
        var items = (await GetJsonAsync(http, "/api/v1/traces?limit=10" + query)).GetProperty("items");
        Assert.Equal(1, items.GetArrayLength());
        return await GetJsonAsync(http, $"/api/v1/traces/{items[0].GetProperty("id").GetGuid()}");
    }

    private static async Task<int> CountAsync(HttpClient http) =>
        (await GetJsonAsync(http, "/api/v1/traces?limit=100")).GetProperty("items").GetArrayLength();

    /// <summary>Spans made the way Microsoft.Extensions.AI makes them, exported by the official SDK (one export per span: children first).</summary>
    private RecordingHandler ExportChatWithTool(string key, string conversation, OtlpExportCompression compression)
    {
        var sourceName = "EvalPlatform.Tests.Otlp." + Guid.NewGuid().ToString("N");
        var handler = new RecordingHandler();
        using var source = new ActivitySource(sourceName);
        using var provider = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("support-bot", serviceVersion: "2.4.1")
                .AddAttributes([new("deployment.environment.name", "production")]))
            .AddSource(sourceName)
            .AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri(app.ServerAddress, "/v1/traces");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Headers = $"x-api-key={key}";
                o.Compression = compression;
                o.ExportProcessorType = ExportProcessorType.Simple;
                o.HttpClientFactory = () => new HttpClient(handler);
            })
            .Build();

        using (var chat = source.StartActivity("chat gpt-4o", ActivityKind.Client)!)
        {
            chat.SetTag("gen_ai.operation.name", "chat");
            chat.SetTag("gen_ai.provider.name", "openai");
            chat.SetTag("gen_ai.request.model", "gpt-4o");
            chat.SetTag("gen_ai.response.model", "gpt-4o-2024-08-06");
            chat.SetTag("gen_ai.usage.input_tokens", 812);
            chat.SetTag("gen_ai.usage.output_tokens", 64);
            chat.SetTag("gen_ai.conversation.id", conversation);
            chat.SetTag("gen_ai.system_instructions", """[{"type":"text","content":"You are a support agent."}]""");
            chat.SetTag("gen_ai.input.messages", """[{"role":"user","parts":[{"type":"text","content":"Where is order 7?"}]}]""");
            chat.SetTag("gen_ai.output.messages",
                """[{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"lookup_order","arguments":{"id":7}}],"finish_reason":"tool_call"}]""");
            chat.SetTag("user.id", "u-42");
            using (var tool = source.StartActivity("execute_tool lookup_order", ActivityKind.Internal)!)
            {
                tool.SetTag("gen_ai.operation.name", "execute_tool");
                tool.SetTag("gen_ai.tool.name", "lookup_order");
                tool.SetTag("gen_ai.tool.call.id", "c1");
                tool.SetTag("gen_ai.tool.call.arguments", """{"id":7}""");
                tool.SetTag("gen_ai.tool.call.result", """{"status":"shipped"}""");
            }
        }

        provider.ForceFlush();
        return handler;
    }

    [Fact]
    public async Task OfficialExporter_Protobuf_ChildBeforeParent_OneTraceWithChatFunctionsMetadata()
    {
        var (key, _) = await KeyAsync();
        var conversation = TestData.Unique("conv");

        var handler = ExportChatWithTool(key, conversation, OtlpExportCompression.None);

        Assert.Equal(2, handler.Responses.Count); // the tool span's export, then the chat span's
        Assert.All(handler.Responses, r => Assert.Equal((HttpStatusCode.OK, 0), (r.Status, r.Body.Length)));
        using var http = Client(key);
        var trace = await OnlyTraceAsync(http, "&session_id=" + conversation);
        Assert.Equal(32, trace.GetProperty("external_id").GetString()!.Length);
        Assert.Equal("chat gpt-4o", trace.GetProperty("name").GetString());
        Assert.Equal(("gpt-4o-2024-08-06", "openai"), (trace.GetProperty("model").GetString(), trace.GetProperty("provider").GetString()));
        Assert.Equal((812, 64, 876), (trace.GetProperty("prompt_tokens").GetInt32(), trace.GetProperty("completion_tokens").GetInt32(), trace.GetProperty("total_tokens").GetInt32()));
        Assert.Equal(("u-42", "production", "2.4.1"), (trace.GetProperty("user_id").GetString(), trace.GetProperty("environment").GetString(), trace.GetProperty("release").GetString()));
        Assert.Equal("support-bot", trace.GetProperty("metadata").GetProperty("resource").GetProperty("service.name").GetString());

        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(["llm", "tool"], spans.Select(s => s.GetProperty("kind").GetString()!).ToArray());
        var (chat, tool) = (spans[0], spans[1]);
        Assert.Equal(chat.GetProperty("id").GetGuid(), tool.GetProperty("parent_id").GetGuid());
        var messages = chat.GetProperty("input").GetProperty("messages");
        Assert.Equal(("system", "You are a support agent."), (messages[0].GetProperty("role").GetString(), messages[0].GetProperty("content").GetString()));
        Assert.Equal("Where is order 7?", messages[1].GetProperty("content").GetString());
        var call = chat.GetProperty("output").GetProperty("tool_calls")[0];
        Assert.Equal(("c1", "lookup_order"), (call.GetProperty("id").GetString(), call.GetProperty("function").GetProperty("name").GetString()));
        Assert.Equal("gpt-4o", chat.GetProperty("attributes").GetProperty("gen_ai.request.model").GetString());
        Assert.Equal(("lookup_order", 7, "shipped"), (tool.GetProperty("name").GetString(), tool.GetProperty("input").GetProperty("id").GetInt32(),
            tool.GetProperty("output").GetProperty("status").GetString()));
        Assert.Equal("c1", tool.GetProperty("attributes").GetProperty("gen_ai.tool.call.id").GetString());

        var row = (await GetJsonAsync(http, "/api/v1/traces?session_id=" + conversation)).GetProperty("items")[0];
        Assert.Equal("Where is order 7?", row.GetProperty("input_preview").GetString());
    }

    /// <summary>A model that first asks for a tool, then answers: what Microsoft.Extensions.AI's pipeline wraps.</summary>
    private sealed class FakeChatClient : IChatClient
    {
        private int _calls;

        public Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var message = Interlocked.Increment(ref _calls) == 1
                ? new Microsoft.Extensions.AI.ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call_1", "lookup_order", new Dictionary<string, object?> { ["id"] = 7 })])
                : new Microsoft.Extensions.AI.ChatMessage(ChatRole.Assistant, "Order 7 has shipped.");
            return Task.FromResult(new ChatResponse(message)
            {
                ModelId = "gpt-4o-2024-08-06",
                Usage = new UsageDetails { InputTokenCount = 812, OutputTokenCount = 64 },
                FinishReason = _calls == 1 ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
            });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("openai", new Uri("https://api.openai.com/v1"), "gpt-4o") : null;

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task MicrosoftExtensionsAi_UseOpenTelemetry_WithFunctionInvocation_ChatFunctionsMetadata()
    {
        var (key, _) = await KeyAsync();
        var sourceName = "EvalPlatform.Tests.MEAI." + Guid.NewGuid().ToString("N");
        var handler = new RecordingHandler();
        using (var provider = Sdk.CreateTracerProviderBuilder()
                   .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("meai-app"))
                   .AddSource(sourceName)
                   .AddOtlpExporter(o =>
                   {
                       o.Endpoint = new Uri(app.ServerAddress, "/v1/traces");
                       o.Protocol = OtlpExportProtocol.HttpProtobuf;
                       o.Headers = $"x-api-key={key}";
                       o.ExportProcessorType = ExportProcessorType.Simple;
                       o.HttpClientFactory = () => new HttpClient(handler);
                   })
                   .Build())
        {
            using var client = new ChatClientBuilder(new FakeChatClient())
                .UseFunctionInvocation()
                .UseOpenTelemetry(sourceName: sourceName, configure: c => c.EnableSensitiveData = true)
                .Build();
            var lookup = AIFunctionFactory.Create((int id) => new { status = "shipped", id }, "lookup_order", "Finds an order by id.");
            var answer = await client.GetResponseAsync(
                [new(ChatRole.System, "You are a support agent."), new(ChatRole.User, "Where is order 7?")],
                new ChatOptions { ModelId = "gpt-4o", Tools = [lookup] });
            Assert.Equal("Order 7 has shipped.", answer.Text);
            provider.ForceFlush();
        }

        Assert.NotEmpty(handler.Responses);
        Assert.All(handler.Responses, r => Assert.Equal((HttpStatusCode.OK, 0), (r.Status, r.Body.Length)));
        using var http = Client(key);
        var trace = await OnlyTraceAsync(http);
        Assert.Equal(("gpt-4o-2024-08-06", "openai"), (trace.GetProperty("model").GetString(), trace.GetProperty("provider").GetString()));
        Assert.Equal((2 * 812, 2 * 64), (trace.GetProperty("prompt_tokens").GetInt32(), trace.GetProperty("completion_tokens").GetInt32()));
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        var generations = spans.Where(s => s.GetProperty("kind").GetString() == "llm").ToList();
        Assert.Equal(2, generations.Count);
        var messages = generations[0].GetProperty("input").GetProperty("messages");
        Assert.Contains(messages.EnumerateArray(), m => m.GetProperty("role").GetString() == "system" && m.GetProperty("content").GetString() == "You are a support agent.");
        Assert.Contains(messages.EnumerateArray(), m => m.GetProperty("role").GetString() == "user" && m.GetProperty("content").GetString() == "Where is order 7?");
        Assert.Equal("lookup_order", generations[0].GetProperty("output").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("Order 7 has shipped.", generations[1].GetProperty("output").GetProperty("content").GetString());
        var tool = Assert.Single(spans, s => s.GetProperty("kind").GetString() == "tool");
        Assert.Equal("lookup_order", tool.GetProperty("name").GetString());
        Assert.Equal(7, tool.GetProperty("input").GetProperty("id").GetInt32());
        Assert.Equal("shipped", tool.GetProperty("output").GetProperty("status").GetString());
        Assert.All(spans.Where(s => s.GetProperty("parent_id").ValueKind != JsonValueKind.Null),
            s => Assert.Contains(spans, p => p.GetProperty("id").GetGuid() == s.GetProperty("parent_id").GetGuid()));
    }

    [Fact]
    public async Task OfficialExporter_Gzip_IsAccepted()
    {
        var (key, _) = await KeyAsync();
        var conversation = TestData.Unique("gz");

        var handler = ExportChatWithTool(key, conversation, OtlpExportCompression.GZip);

        Assert.All(handler.Responses, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        using var http = Client(key);
        Assert.Equal(2, (await OnlyTraceAsync(http, "&session_id=" + conversation)).GetProperty("spans").GetArrayLength());
    }

    /// <summary>A fixture export with fresh trace ids, so tests sharing the app never meet each other's traces.</summary>
    private static string FixtureJson(string name, out string traceId)
    {
        var text = File.ReadAllText(OtlpFixtures.Path(name));
        traceId = Guid.NewGuid().ToString("N");
        return text.Replace("4bf92f3577b34da6a3ce929d0e0e4736", traceId, StringComparison.Ordinal);
    }

    private static ByteArrayContent Gzip(string text, string contentType)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }

    private static ByteArrayContent Protobuf(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        return content;
    }

    [Fact]
    public async Task OtlpJson_Gzip_UnderApiOtel_AnswersJson_AndStoresTheTrace()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);

        var response = await http.PostAsync("/api/otel/v1/traces", Gzip(FixtureJson("genai-latest.json", out var traceId), "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
        var trace = await OnlyTraceAsync(http);
        Assert.Equal(traceId, trace.GetProperty("external_id").GetString());
        Assert.Equal("s-9", trace.GetProperty("session_id").GetString());
        Assert.Equal(2, trace.GetProperty("spans").GetArrayLength());
    }

    [Fact]
    public async Task Deflate_IsAccepted()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(Encoding.UTF8.GetBytes(FixtureJson("openllmetry.json", out _)));
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add("deflate");

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/traces", content)).StatusCode);
        Assert.Equal(3, (await OnlyTraceAsync(http)).GetProperty("spans").GetArrayLength());
    }

    [Fact]
    public async Task RetriedExport_ChangesNothing()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        using var document = JsonDocument.Parse(FixtureJson("genai-latest.json", out _));
        var request = OtlpJson.ReadExportRequest(document.RootElement);
        foreach (var span in request.ResourceSpans[0].ScopeSpans[0].Spans)
        {
            // Nanosecond times, finer than either database keeps, as real exporters send them.
            span.StartTimeUnixNano += 1_234_567;
            span.EndTimeUnixNano += 7_654_321;
            // Text that JSON writers escape differently ('ï', '<', '+'): stored attributes must compare by value.
            span.Attributes.Add(new OtlpAttribute("note", "naïve <b> + 'quoted'"));
        }

        var body = OtlpProtobufWriter.WriteExportRequest(request);

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/v1/traces", Protobuf(body))).StatusCode);
        var first = await OnlyTraceAsync(http);
        var again = await http.PostAsync("/v1/traces", Protobuf(body));

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());
        var second = await OnlyTraceAsync(http);
        Assert.Equal(first.GetProperty("updated_at").GetDateTimeOffset(), second.GetProperty("updated_at").GetDateTimeOffset());
        Assert.Equal(first.GetProperty("spans").GetRawText(), second.GetProperty("spans").GetRawText());
        Assert.Equal(first.GetProperty("metadata").GetRawText(), second.GetProperty("metadata").GetRawText());
    }

    [Fact]
    public async Task BadHexId_RejectsThatSpan_InPartialSuccess_AndStoresTheOthers()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        var json = FixtureJson("genai-latest.json", out var traceId);
        var broken = json.Replace("\"spanId\":\"1a2b3c4d5e6f7081\"", "\"spanId\":\"zz2b3c4d5e6f7081\"", StringComparison.Ordinal);
        Assert.NotEqual(json, broken);

        var response = await http.PostAsync("/v1/traces", new StringContent(broken, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partialSuccess");
        Assert.Equal("1", partial.GetProperty("rejectedSpans").GetString());
        Assert.Contains("resourceSpans[0].scopeSpans[0].spans[1].spanId", partial.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        var trace = await OnlyTraceAsync(http);
        Assert.Equal(traceId, trace.GetProperty("external_id").GetString());
        Assert.Equal("llm", Assert.Single(trace.GetProperty("spans").EnumerateArray()).GetProperty("kind").GetString());
    }

    /// <summary>PostgreSQL refuses a NUL character in text; SQLite stores it.</summary>
    protected virtual bool DatabaseRefusesNul => false;

    [Fact]
    public async Task SpanHoldingANulCharacter_CostsOnlyItsTrace_TheOtherTracesOfTheExportAreStored()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        const string good = "0af7651916cd43dd8448eb211c80319c", bad = "1bf7651916cd43dd8448eb211c80319d";
        static string Span(string traceId, string spanId, string name) =>
            $$"""{"traceId":"{{traceId}}","spanId":"{{spanId}}","name":"{{name}}","kind":1,"startTimeUnixNano":"1755684000000000000","endTimeUnixNano":"1755684000100000000"}""";
        var export = $$"""
            {"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"t"},"spans":[
              {{Span(good, "1111111111111111", "fine")}},
              {{Span(bad, "2222222222222222", "zero \\u0000 byte")}},
              {{Span(good, "3333333333333333", "fine too")}}]}]}]}
            """;

        var response = await http.PostAsync("/v1/traces", new StringContent(export, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var ids = (await GetJsonAsync(http, "/api/v1/traces?limit=10")).GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("external_id").GetString()).Order(StringComparer.Ordinal).ToList();
        if (!DatabaseRefusesNul)
        {
            Assert.Equal([good, bad], ids);
            return;
        }

        var partial = body.GetProperty("partialSuccess");
        Assert.Equal("1", partial.GetProperty("rejectedSpans").GetString());
        Assert.Contains("The database could not store this trace", partial.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        Assert.Equal([good], ids);
        Assert.Equal(2, (await OnlyTraceAsync(http)).GetProperty("spans").GetArrayLength());
        var issues = (await GetJsonAsync(http, "/api/v1/ingestion/issues?kind=refused")).GetProperty("items").EnumerateArray().ToList();
        var issue = Assert.Single(issues);
        Assert.Equal((bad, "2222222222222222", "otlp"),
            (issue.GetProperty("trace_id").GetString(), issue.GetProperty("span_id").GetString(), issue.GetProperty("door").GetString()));
    }

    [Fact]
    public async Task SpanOfTheWrongShape_InJson_IsSkippedInPartialSuccess_AndTheOthersStored()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        var json = FixtureJson("genai-latest.json", out var traceId);
        var broken = json.Replace("\"startTimeUnixNano\":\"1755684001000000000\"", "\"startTimeUnixNano\":{\"soon\":true}", StringComparison.Ordinal);
        Assert.NotEqual(json, broken);

        var response = await http.PostAsync("/v1/traces", new StringContent(broken, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("partialSuccess");
        Assert.Equal("1", partial.GetProperty("rejectedSpans").GetString());
        Assert.Contains("spans[1].startTimeUnixNano", partial.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        var trace = await OnlyTraceAsync(http);
        Assert.Equal(traceId, trace.GetProperty("external_id").GetString());
        Assert.Equal("llm", Assert.Single(trace.GetProperty("spans").EnumerateArray()).GetProperty("kind").GetString());
        var issue = Assert.Single((await GetJsonAsync(http, "/api/v1/ingestion/issues?door=otlp")).GetProperty("items").EnumerateArray());
        Assert.Equal(("refused", "startTimeUnixNano"), (issue.GetProperty("kind").GetString(), issue.GetProperty("field").GetString()));
    }

    [Fact]
    public async Task SpanEndingJustBeforeItsStart_IsStoredWithZeroLength_AndReportedAsAdjusted()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        var json = FixtureJson("genai-latest.json", out _);
        // The tool span ends 0.4 ms before it starts (clocks of two processes, or rounding in an exporter).
        var skewed = json.Replace("\"endTimeUnixNano\":\"1755684001150000000\"", "\"endTimeUnixNano\":\"1755684000999600000\"", StringComparison.Ordinal);
        Assert.NotEqual(json, skewed);

        var response = await http.PostAsync("/v1/traces", new StringContent(skewed, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False((await response.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("partialSuccess", out _));
        var tool = (await OnlyTraceAsync(http)).GetProperty("spans").EnumerateArray().Single(s => s.GetProperty("kind").GetString() == "tool");
        Assert.Equal(tool.GetProperty("start_time").GetDateTimeOffset(), tool.GetProperty("end_time").GetDateTimeOffset());
        Assert.Equal(0, tool.GetProperty("duration_ms").GetDouble());
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1755684000999).AddTicks(6000),
            tool.GetProperty("attributes").GetProperty("evalplatform.original_end_time").GetDateTimeOffset());
        var issue = Assert.Single((await GetJsonAsync(http, "/api/v1/ingestion/issues?door=otlp")).GetProperty("items").EnumerateArray());
        Assert.Equal(("adjusted", "end_time"), (issue.GetProperty("kind").GetString(), issue.GetProperty("field").GetString()));
        Assert.Equal("1a2b3c4d5e6f7081", issue.GetProperty("span_id").GetString());
    }

    [Fact]
    public async Task InvalidSpan_InProtobuf_IsAPartialSuccessInProtobuf()
    {
        var (key, _) = await KeyAsync();
        using var http = Client(key);
        using var document = JsonDocument.Parse(FixtureJson("genai-latest.json", out _));
        var request = OtlpJson.ReadExportRequest(document.RootElement);
        var tool = request.ResourceSpans[0].ScopeSpans[0].Spans[1];
        tool.EndTimeUnixNano = tool.StartTimeUnixNano - 5_000_000_000; // 5 s before its start: past the tolerance

        var response = await http.PostAsync("/v1/traces", Protobuf(OtlpProtobufWriter.WriteExportRequest(request)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsByteArrayAsync();
        // partial_success (field 1, its length a varint of one or two bytes) { rejected_spans: 1, error_message: … }
        var at = body[1] < 0x80 ? 2 : 3;
        Assert.Equal(0x0A, body[0]);
        Assert.Equal(body.Length - at, body[1] < 0x80 ? body[1] : (body[1] & 0x7F) | (body[2] << 7));
        Assert.Equal([0x08, 0x01, 0x12], body[at..(at + 3)]);
        Assert.Contains("end_time", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Single((await OnlyTraceAsync(http)).GetProperty("spans").EnumerateArray());
    }

    [Fact]
    public async Task BadRequests_AreRefused_AndStoreNothing()
    {
        var (key, _) = await KeyAsync();
        var (readOnlyKey, _) = await KeyAsync(ApiKeyScopes.Read);
        using var http = Client(key);
        using var document = JsonDocument.Parse(FixtureJson("genai-latest.json", out _));
        var json = document.RootElement.GetRawText();
        var body = OtlpProtobufWriter.WriteExportRequest(OtlpJson.ReadExportRequest(document.RootElement));

        var truncated = await http.PostAsync("/v1/traces", Protobuf(body[..^3]));
        Assert.Equal(HttpStatusCode.BadRequest, truncated.StatusCode);
        var problem = await truncated.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Malformed OTLP export", problem.GetProperty("title").GetString());
        Assert.Contains("Truncated", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var jsonAsProtobuf = await http.PostAsync("/v1/traces", Protobuf(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(HttpStatusCode.BadRequest, jsonAsProtobuf.StatusCode);
        Assert.Contains("looks like JSON", await jsonAsProtobuf.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var malformedJson = await http.PostAsync("/v1/traces", new StringContent(json[..^5], Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, malformedJson.StatusCode);

        var text = await http.PostAsync("/v1/traces", new StringContent(json, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);

        var brotli = new StringContent(json, Encoding.UTF8, "application/json");
        brotli.Headers.ContentEncoding.Add("br");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await http.PostAsync("/v1/traces", brotli)).StatusCode);

        var notGzip = new StringContent(json, Encoding.UTF8, "application/json");
        notGzip.Headers.ContentEncoding.Add("gzip");
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync("/v1/traces", notGzip)).StatusCode);

        var tooBig = await http.PostAsync("/v1/traces", Protobuf(new byte[(int)Core.Ingestion.IngestionLimits.MaxBatchBytes + 1]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);

        var bomb = await http.PostAsync("/v1/traces", Gzip(new string(' ', (int)Core.Ingestion.IngestionLimits.MaxBatchBytes + 1), "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bomb.StatusCode);

        using var anonymous = Client(null);
        var unauthenticated = await anonymous.PostAsync("/v1/traces", Protobuf(body));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
        Assert.Equal("application/problem+json", unauthenticated.Content.Headers.ContentType?.MediaType);

        using var reader = Client(readOnlyKey);
        var forbidden = await reader.PostAsync("/v1/traces", Protobuf(body));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("ingest", await forbidden.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal(0, await CountAsync(http));
        Assert.Equal(0, await CountAsync(reader));
    }

    [Fact]
    public async Task BearerAuth_Works_AsWellAsXApiKey()
    {
        var (key, _) = await KeyAsync();
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var response = await http.PostAsync("/v1/traces", new StringContent(FixtureJson("openllmetry.json", out _), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AnotherTeam_NeitherSeesNorJoinsTheTrace()
    {
        var (keyA, _) = await KeyAsync();
        var (keyB, _) = await KeyAsync();
        using var a = Client(keyA);
        using var b = Client(keyB);
        var json = FixtureJson("genai-latest.json", out var traceId);
        Assert.Equal(HttpStatusCode.OK, (await a.PostAsync("/v1/traces", new StringContent(json, Encoding.UTF8, "application/json"))).StatusCode);
        var traceA = await OnlyTraceAsync(a);

        Assert.Equal(0, await CountAsync(b));
        Assert.Equal(HttpStatusCode.NotFound, (await b.GetAsync($"/api/v1/traces/{traceA.GetProperty("id").GetGuid()}")).StatusCode);

        // The same trace id from team B is team B's own trace; A's is untouched.
        var onlyTool = json.Replace("\"name\":\"chat gpt-4o\"", "\"name\":\"team b\"", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await b.PostAsync("/v1/traces", new StringContent(onlyTool, Encoding.UTF8, "application/json"))).StatusCode);
        var traceB = await OnlyTraceAsync(b);
        Assert.Equal(traceId, traceB.GetProperty("external_id").GetString());
        Assert.NotEqual(traceA.GetProperty("id").GetGuid(), traceB.GetProperty("id").GetGuid());
        Assert.Equal("chat gpt-4o", (await OnlyTraceAsync(a)).GetProperty("name").GetString());
    }
}

/// <summary>The app on a real Kestrel port (the exporter needs one), on PostgreSQL and Redis.</summary>
public sealed class OtlpPostgresAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true);

/// <summary>The app on a real Kestrel port, on SQLite.</summary>
public sealed class OtlpSqliteAppFactory() : EvalAppFactory(TestDatabase.Sqlite, kestrel: true);

public sealed class OtlpIngestionPostgresTests(OtlpPostgresAppFactory app) : OtlpIngestionTests(app), IClassFixture<OtlpPostgresAppFactory>
{
    protected override bool DatabaseRefusesNul => true;
}

public sealed class OtlpIngestionSqliteTests(OtlpSqliteAppFactory app) : OtlpIngestionTests(app), IClassFixture<OtlpSqliteAppFactory>;
