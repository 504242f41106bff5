using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Responses;

// The OpenAI package marks its Responses client as evaluation-only (OPENAI001); it is the client users call /v1/responses with.
#pragma warning disable OPENAI001

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>
/// The recording proxy end to end: the official OpenAI .NET client and the Anthropic package pointed at the app, the fake
/// upstreams behind the team's connections; answers, streams and tool calls pass through, upstream errors unchanged, and
/// every call is exactly one trace (a dropped or abandoned stream too) with its usage row; teams never share connections.
/// </summary>
public abstract class ProxyTests(ProviderAppFactory app)
{
    private sealed record Setup(TestTeam Team, CreatedApiKey Key, ProviderConnection Connection);

    private async Task<Setup> TeamWithConnectionAsync(ProviderKind kind = ProviderKind.OpenAi, string? upstreamKey = null)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        var connection = kind == ProviderKind.Anthropic
            ? await app.AddConnectionAsync(team, kind, "claude", app.Anthropic.BaseUrl, upstreamKey ?? FakeAnthropicServer.Key, app.Clock.GetUtcNow())
            : await app.AddConnectionAsync(team, kind, "openai main", app.OpenAi.BaseUrl, upstreamKey ?? FakeOpenAiServer.Key, app.Clock.GetUtcNow());
        return new Setup(team, key, connection);
    }

    private HttpClient Http(CreatedApiKey key, bool bearer = true)
    {
        var http = app.CreateClient();
        if (bearer)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        }

        return http;
    }

    private ChatClient OpenAiClient(HttpClient http, CreatedApiKey key, string model = "gpt-4o-mini") =>
        new(model, new ApiKeyCredential(key.Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(app.Server.BaseAddress, "/proxy/openai/v1"),
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(0),
        });

    private AnthropicClient AnthropicClient(HttpClient http, CreatedApiKey key) => new()
    {
        ApiKey = key.Key,
        BaseUrl = new Uri(app.Server.BaseAddress, "/proxy/anthropic").ToString(),
        HttpClient = http,
        MaxRetries = 0,
    };

    /// <summary>The team's traces once <paramref name="count"/> are stored (recording follows the answer), with their spans.</summary>
    private async Task<List<Trace>> TracesAsync(TestTeam team, int count)
    {
        await using var scope = app.ScopeFor(team);
        var factory = scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>();
        await Wait.UntilAsync(async () =>
        {
            await using var db = await factory.CreateAsync();
            return await db.Traces.CountAsync() >= count;
        }, $"{count} traces of the team", TimeSpan.FromSeconds(15));

        // Then every call handed to the recording writer has been written (or failed): a second trace for the same call
        // would show now. (Calls refused before the upstream never reach the writer.)
        var writer = app.Services.GetRequiredService<ProxyRecordingWriter>();
        await Wait.UntilAsync(() => writer.Settled == writer.Queued, "the proxy's recording writer to settle", TimeSpan.FromSeconds(15));
        await using var read = await factory.CreateAsync();
        var traces = await read.Traces.AsNoTracking().ToListAsync();
        Assert.Equal(count, traces.Count);
        var ids = traces.Select(t => t.Id).ToList();
        var spans = await read.Spans.AsNoTracking().Where(sp => ids.Contains(sp.TraceId)).ToListAsync();
        foreach (var trace in traces)
        {
            trace.Spans = spans.Where(sp => sp.TraceId == trace.Id).OrderBy(sp => sp.Position).ToList();
        }

        return traces.OrderBy(t => t.StartedAt).ThenBy(t => t.Id).ToList();
    }

    private async Task<List<ProviderCall>> CallsAsync(TestTeam team)
    {
        await using var scope = app.ScopeFor(team);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.ProviderCalls.AsNoTracking().ToListAsync();
    }

    /// <summary>Waits until the team has <paramref name="count"/> usage rows (written just after each call's trace).</summary>
    private async Task WaitCallsAsync(TestTeam team, int count)
    {
        await Wait.UntilAsync(async () => (await CallsAsync(team)).Count >= count, $"{count} usage rows", TimeSpan.FromSeconds(15));
        Assert.Equal(count, (await CallsAsync(team)).Count);
    }

    private static StringContent Json(object body) => new(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    [Fact]
    public async Task OpenAiClient_NonStreamed_GoesUpstreamWithTheTeamsKey_AndIsOneTraceWithTheCallersHeaders()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key, bearer: false);
        http.DefaultRequestHeaders.Add("X-EvalPlatform-Trace-Name", "support-chat");
        http.DefaultRequestHeaders.Add("X-EvalPlatform-Session", "sess-9");
        http.DefaultRequestHeaders.Add("X-EvalPlatform-User", "user-42");
        http.DefaultRequestHeaders.Add("X-EvalPlatform-Tags", "beta, eu ,beta");
        http.DefaultRequestHeaders.Add("X-EvalPlatform-External-Id", "req-1");
        http.DefaultRequestHeaders.Add("X-EvalPlatform-Environment", "staging");
        app.OpenAi.NextText("It shipped yesterday.");
        var before = app.OpenAi.Requests.Count;

        ChatCompletion completion = await OpenAiClient(http, s.Key).CompleteChatAsync(
            [new SystemChatMessage("You are terse."), new UserChatMessage("Where is my order?")], new ChatCompletionOptions { Temperature = 0.3f });

        Assert.Equal("It shipped yesterday.", completion.Content[0].Text);
        var upstream = app.OpenAi.Requests[before];
        Assert.Equal($"Bearer {FakeOpenAiServer.Key}", upstream.Headers["Authorization"]);
        Assert.DoesNotContain(s.Key.Key, string.Join(" ", upstream.Headers.Values), StringComparison.Ordinal);

        var trace = Assert.Single(await TracesAsync(s.Team, 1));
        Assert.Equal(("support-chat", "sess-9", "user-42", "req-1", "staging"), (trace.Name, trace.SessionId, trace.UserId, trace.ExternalId, trace.Environment));
        Assert.Equal(["beta", "eu"], trace.Tags);
        Assert.Equal(("gpt-4o-mini", "openai"), (trace.Model, trace.Provider));
        Assert.Equal(("Where is my order?", "It shipped yesterday."), (trace.InputPreview, trace.OutputPreview));
        Assert.Equal(completion.Usage.InputTokenCount, trace.PromptTokens);
        Assert.Equal(completion.Usage.OutputTokenCount, trace.CompletionTokens);
        Assert.NotNull(trace.Cost);
        Assert.True(trace.LatencyMs > 0);
        Assert.Null(trace.Error);
        using var metadata = JsonDocument.Parse(trace.Metadata!);
        Assert.Equal(0.3, metadata.RootElement.GetProperty("parameters").GetProperty("temperature").GetDouble(), 3);
        Assert.Equal("openai main", metadata.RootElement.GetProperty("proxy").GetProperty("connection").GetString());

        var call = Assert.Single(await CallsAsync(s.Team));
        Assert.Equal((s.Connection.Id, trace.Id, s.Key.Info.Id, "user-42"), (call.ConnectionId, call.TraceId!.Value, call.ApiKeyId!.Value, call.EndUser));
        Assert.Equal((ProviderCallSource.Proxy, 200, false), (call.Source, call.Status!.Value, call.IsError));
    }

    [Fact]
    public async Task OpenAiClient_Streamed_ToolCall_ArrivesInPieces_AndTheTraceHasTheToolSpanUsageAndFirstToken()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        app.OpenAi.NextToolCall("get_weather", """{"city":"Paris","unit":"celsius"}""");
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "The weather in a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")));

        var name = "";
        var arguments = new StringBuilder();
        var updates = 0;
        await foreach (var update in OpenAiClient(http, s.Key).CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
        {
            updates++;
            foreach (var call in update.ToolCallUpdates)
            {
                name = call.FunctionName ?? name;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
        }

        Assert.True(updates > 3, $"{updates} updates: the stream came in pieces");
        Assert.Equal("get_weather", name);
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", arguments.ToString());

        var trace = Assert.Single(await TracesAsync(s.Team, 1));
        var tool = Assert.Single(trace.Spans, sp => sp.Kind == SpanKind.Tool);
        Assert.Equal("get_weather", tool.Name);
        Assert.Equal("""{"city":"Paris","unit":"celsius"}""", tool.Input);
        Assert.NotNull(trace.TimeToFirstTokenMs);
        Assert.True(trace.TimeToFirstTokenMs <= trace.LatencyMs);
        Assert.Equal(10, trace.PromptTokens);
        Assert.NotNull(trace.CompletionTokens);
        using var metadata = JsonDocument.Parse(trace.Metadata!);
        Assert.True(metadata.RootElement.GetProperty("proxy").GetProperty("stream").GetBoolean());
        Assert.Equal("get_weather", metadata.RootElement.GetProperty("tools")[0].GetString());
    }

    private ResponsesClient OpenAiResponsesClient(HttpClient http, CreatedApiKey key) =>
        new OpenAIClient(new ApiKeyCredential(key.Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(app.Server.BaseAddress, "/proxy/openai/v1"),
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(0),
        }).GetResponsesClient();

    [Fact]
    public async Task OpenAiResponsesApi_NonStreamedAndStreamed_PassThroughUnchanged_AndEachCallIsOneTraceWithInstructionsInputAndUsage()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        var client = OpenAiResponsesClient(http, s.Key);
        var before = app.OpenAi.Requests.Count;
        app.OpenAi.NextText("Your parcel left Lyon this morning.");

        ResponseResult answer = await client.CreateResponseAsync(new CreateResponseOptions
        {
            Model = "gpt-4o-mini",
            Instructions = "Answer in one sentence.",
            InputItems = { ResponseItem.CreateUserMessageItem("Where is my parcel?") },
        });

        Assert.Equal("Your parcel left Lyon this morning.", answer.GetOutputText());
        var upstream = app.OpenAi.Requests[before];
        Assert.Equal(("POST", "/v1/responses", $"Bearer {FakeOpenAiServer.Key}"), (upstream.Method, upstream.Path, upstream.Headers["Authorization"]));
        Assert.Equal("Answer in one sentence.", upstream.Json.GetProperty("instructions").GetString());

        app.OpenAi.NextText("Tomorrow before noon, most likely.");
        var deltas = new List<string>();
        string? completed = null;
        await foreach (var update in await client.CreateResponseStreamingAsync(new CreateResponseOptions
        {
            Model = "gpt-4o",
            StreamingEnabled = true,
            InputItems = { ResponseItem.CreateUserMessageItem("When will it arrive?") },
        }))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                deltas.Add(delta.Delta);
            }
            else if (update is StreamingResponseCompletedUpdate done)
            {
                completed = done.Response.GetOutputText();
            }
        }

        Assert.True(deltas.Count > 3, $"{deltas.Count} deltas: the stream came in pieces");
        Assert.Equal("Tomorrow before noon, most likely.", string.Concat(deltas));
        Assert.Equal("Tomorrow before noon, most likely.", completed);

        var traces = await TracesAsync(s.Team, 2);
        var whole = Assert.Single(traces, t => t.Model == "gpt-4o-mini");
        Assert.Equal(("Where is my parcel?", "Your parcel left Lyon this morning."), (whole.InputPreview, whole.OutputPreview));
        Assert.Equal((10, "openai"), (whole.PromptTokens, whole.Provider));
        Assert.NotNull(whole.CompletionTokens);
        Assert.NotNull(whole.Cost);
        Assert.Null(whole.Error);
        var generation = Assert.Single(whole.Spans, sp => sp.Kind == SpanKind.Llm);
        Assert.Contains("Answer in one sentence.", generation.Input, StringComparison.Ordinal);
        Assert.Contains("\"role\":\"system\"", generation.Input, StringComparison.Ordinal);

        var streamed = Assert.Single(traces, t => t.Model == "gpt-4o");
        Assert.Equal(("When will it arrive?", "Tomorrow before noon, most likely."), (streamed.InputPreview, streamed.OutputPreview));
        Assert.NotNull(streamed.TimeToFirstTokenMs);
        Assert.True(streamed.TimeToFirstTokenMs <= streamed.LatencyMs);
        Assert.Equal(deltas.Count, streamed.CompletionTokens);
        using var metadata = JsonDocument.Parse(streamed.Metadata!);
        Assert.True(metadata.RootElement.GetProperty("proxy").GetProperty("stream").GetBoolean());
        await WaitCallsAsync(s.Team, 2);
    }

    [Fact]
    public async Task OpenAiResponsesApi_StreamedFunctionCall_AndAnUpstream429_ReachTheClient_AndAreRecorded()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        var client = OpenAiResponsesClient(http, s.Key);
        app.OpenAi.NextToolCall("track_parcel", """{"parcel_id":"FR-7781"}""");
        var options = new CreateResponseOptions { Model = "gpt-4o-mini", StreamingEnabled = true, InputItems = { ResponseItem.CreateUserMessageItem("Track FR-7781") } };
        options.Tools.Add(ResponseTool.CreateFunctionTool("track_parcel", BinaryData.FromString("""{"type":"object","properties":{"parcel_id":{"type":"string"}}}"""), strictModeEnabled: false));

        var arguments = new StringBuilder();
        await foreach (var update in await client.CreateResponseStreamingAsync(options))
        {
            if (update is StreamingResponseFunctionCallArgumentsDeltaUpdate delta)
            {
                arguments.Append(delta.Delta.ToString());
            }
        }

        Assert.Equal("""{"parcel_id":"FR-7781"}""", arguments.ToString());

        app.OpenAi.NextError(429, retryAfter: "7");
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CreateResponseAsync(new CreateResponseOptions
        {
            Model = "gpt-4o-mini",
            InputItems = { ResponseItem.CreateUserMessageItem("Again?") },
        }));
        Assert.Equal(429, refused.Status);
        Assert.Equal("7", refused.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retry) ? retry : null);

        var traces = await TracesAsync(s.Team, 2);
        var called = Assert.Single(traces, t => t.Error is null);
        var tool = Assert.Single(called.Spans, sp => sp.Kind == SpanKind.Tool);
        Assert.Equal(("track_parcel", """{"parcel_id":"FR-7781"}"""), (tool.Name, tool.Input));
        Assert.Single(traces, t => t.Error is not null);
    }

    [Fact]
    public async Task AnthropicClient_NonStreamedAndStreamed_AuthenticatesWithXApiKey_AndRecordsEachCall()
    {
        var s = await TeamWithConnectionAsync(ProviderKind.Anthropic);
        using var http = Http(s.Key, bearer: false);
        var client = AnthropicClient(http, s.Key);
        var parameters = new MessageCreateParams
        {
            MaxTokens = 256,
            Model = "claude-sonnet-4-20250514",
            System = "Be kind.",
            Messages = [new UserMessageParam { Content = "Say hello" }],
        };
        app.Anthropic.NextText("Hello there, friend.");
        app.Anthropic.NextText("Hello again, friend.");
        var before = app.Anthropic.Requests.Count;

        var message = await client.Messages.Create(parameters);
        Assert.True(message.Content[0].TryPickText(out var text));
        Assert.Equal("Hello there, friend.", text!.Text);
        Assert.Equal(FakeAnthropicServer.Key, app.Anthropic.Requests[before].Headers["x-api-key"]);

        var streamed = new StringBuilder();
        await foreach (var e in client.Messages.CreateStreaming(parameters))
        {
            if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
            {
                streamed.Append(piece.Text);
            }
        }

        Assert.Equal("Hello again, friend.", streamed.ToString());
        var traces = await TracesAsync(s.Team, 2);
        Assert.All(traces, t => Assert.Equal(("anthropic", "claude-sonnet-4-20250514", "Say hello"), (t.Provider, t.Model, t.InputPreview)));
        Assert.Equal(["Hello again, friend.", "Hello there, friend."], traces.Select(t => t.OutputPreview).Order());
        Assert.Single(traces, t => t.TimeToFirstTokenMs is not null);
        Assert.All(traces, t => Assert.Equal(10, t.PromptTokens));
        var generation = traces[0].Spans.Single(sp => sp.Kind == SpanKind.Llm);
        Assert.Contains("Be kind.", generation.Input, StringComparison.Ordinal);
        Assert.Equal(2, (await CallsAsync(s.Team)).Count);
    }

    [Theory]
    [InlineData(429, "7")]
    [InlineData(500, null)]
    public async Task UpstreamErrors_ReachTheClientUnchanged_AndAreRecordedAsErrors(int status, string? retryAfter)
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        app.OpenAi.NextError(status, retryAfter, message: $"Upstream says {status}.");

        using var response = await http.PostAsync("/proxy/openai/v1/chat/completions", Json(new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } } }));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(retryAfter, response.Headers.RetryAfter?.ToString());
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal($"Upstream says {status}.", body.RootElement.GetProperty("error").GetProperty("message").GetString());

        var trace = Assert.Single(await TracesAsync(s.Team, 1));
        Assert.Equal($"{status}: Upstream says {status}.", trace.Error);
        var call = Assert.Single(await CallsAsync(s.Team));
        Assert.Equal((status, true), (call.Status!.Value, call.IsError));
    }

    [Fact]
    public async Task UpstreamRefusingTheConnectionsKey_Is401ToTheSdk_AsTheUpstreamSaidIt()
    {
        var s = await TeamWithConnectionAsync(upstreamKey: "sk-wrong-key-0000");
        using var http = Http(s.Key);

        var error = await Assert.ThrowsAsync<ClientResultException>(() => OpenAiClient(http, s.Key).CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, error.Status);
        Assert.Contains("Incorrect API key provided", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("401: Incorrect API key", Assert.Single(await TracesAsync(s.Team, 1)).Error, StringComparison.Ordinal);

        app.Anthropic.NextError(429, "3");
        var a = await TeamWithConnectionAsync(ProviderKind.Anthropic);
        using var anthropicHttp = Http(a.Key, bearer: false);
        var refused = await Assert.ThrowsAnyAsync<AnthropicApiException>(() => AnthropicClient(anthropicHttp, a.Key).Messages.Create(new MessageCreateParams
        {
            MaxTokens = 10, Model = "claude-3-5-haiku-latest", Messages = [new UserMessageParam { Content = "hi" }],
        }));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Single(await TracesAsync(a.Team, 1));
    }

    [Fact]
    public async Task DroppedUpstreamStream_BreaksTheClientsStream_AndIsRecordedOnceWithWhatArrived()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        // Paced, so the answer's headers and first pieces are surely out before the upstream drops the connection.
        app.OpenAi.Next(new FakeReply(Text: "one two three four five six", DropAfterChunks: 3, ChunkDelay: TimeSpan.FromMilliseconds(40)));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions")
        {
            Content = Json(new { model = "gpt-4o-mini", stream = true, messages = new[] { new { role = "user", content = "count" } } }),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string received = "";
        var broke = false;
        try
        {
            received = await response.Content.ReadAsStringAsync();
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            broke = true;
        }

        Assert.True(broke || !received.Contains("[DONE]", StringComparison.Ordinal), "the client must not see a clean end");
        var trace = Assert.Single(await TracesAsync(s.Team, 1));
        Assert.NotNull(trace.Error);
        Assert.StartsWith("one", trace.OutputPreview, StringComparison.Ordinal);
        Assert.DoesNotContain("six", trace.OutputPreview ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task AbandonedStream_IsRecordedOnce_WithWhatArrived_TaggedAbandoned()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        app.OpenAi.Next(new FakeReply(Text: string.Join(' ', Enumerable.Range(1, 40).Select(i => $"w{i}")), ChunkDelay: TimeSpan.FromMilliseconds(100)));

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions")
        {
            Content = Json(new { model = "gpt-4o-mini", stream = true, messages = new[] { new { role = "user", content = "count slowly" } } }),
        })
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[4096];
            var seen = new StringBuilder();
            while (!seen.ToString().Contains("w2", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer);
                Assert.True(n > 0);
                seen.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        } // the client goes away here, mid-stream

        var trace = Assert.Single(await TracesAsync(s.Team, 1));
        Assert.Contains(ProxyTraceBuilder.AbandonedTag, trace.Tags);
        Assert.StartsWith("w1 w2", trace.OutputPreview, StringComparison.Ordinal);
        Assert.DoesNotContain("w40", trace.OutputPreview ?? "", StringComparison.Ordinal);
        using var metadata = JsonDocument.Parse(trace.Metadata!);
        Assert.True(metadata.RootElement.GetProperty("proxy").GetProperty("abandoned").GetBoolean());
    }

    [Fact]
    public async Task Isolation_ATeamWithoutAConnection_NeverUsesAnothersConnection()
    {
        var a = await TeamWithConnectionAsync();
        var b = await TeamWithConnectionAsync(ProviderKind.Anthropic);
        using var http = Http(b.Key);
        var before = app.OpenAi.Requests.Count;

        using var response = await http.PostAsync("/proxy/openai/v1/chat/completions", Json(new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } } }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("no OpenAI", body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        using var named = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(new { model = "gpt-4o", messages = Array.Empty<object>() }) };
        named.Headers.Add("X-EvalPlatform-Provider", a.Connection.Name);
        using var namedResponse = await http.SendAsync(named);
        Assert.Equal(HttpStatusCode.BadRequest, namedResponse.StatusCode);
        using var namedBody = JsonDocument.Parse(await namedResponse.Content.ReadAsStringAsync());
        Assert.Equal("X-EvalPlatform-Provider", namedBody.RootElement.GetProperty("error").GetProperty("param").GetString());

        Assert.Equal(before, app.OpenAi.Requests.Count);
        Assert.Empty(await CallsAsync(a.Team));
        Assert.Empty(await TracesAsync(b.Team, 0));
    }

    [Fact]
    public async Task BadInput_IsRefusedInTheSdksShape_NamingTheField_BeforeAnyUpstreamCall()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        var before = app.OpenAi.Requests.Count;

        async Task<JsonElement> RefusedAsync(HttpRequestMessage request, HttpStatusCode status = HttpStatusCode.BadRequest)
        {
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
            return JsonDocument.Parse(text).RootElement.Clone();
        }

        var notJson = await RefusedAsync(new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = new StringContent("{oops", Encoding.UTF8, "application/json") });
        Assert.Equal("body", notJson.GetProperty("error").GetProperty("param").GetString());
        Assert.True(notJson.GetProperty("errors").TryGetProperty("body", out _));
        Assert.Equal(400, notJson.GetProperty("status").GetInt32());

        var array = await RefusedAsync(new HttpRequestMessage(HttpMethod.Post, "/proxy/anthropic/v1/messages") { Content = Json("[1,2]") });
        Assert.Equal("error", array.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", array.GetProperty("error").GetProperty("type").GetString());

        var tags = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(new { model = "gpt-4o", messages = Array.Empty<object>() }) };
        tags.Headers.Add("X-EvalPlatform-Tags", new string('t', 101));
        Assert.Equal("X-EvalPlatform-Tags", (await RefusedAsync(tags)).GetProperty("error").GetProperty("param").GetString());

        var experiment = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(new { model = "gpt-4o", messages = Array.Empty<object>() }) };
        experiment.Headers.Add("X-EvalPlatform-Experiment", "checkout-test");
        Assert.Equal("X-EvalPlatform-User", (await RefusedAsync(experiment)).GetProperty("error").GetProperty("param").GetString());

        var readKey = await TestData.CreateKeyAsync(app.Services, s.Team.Id, ApiKeyScopes.Read);
        var forbidden = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(new { model = "gpt-4o", messages = Array.Empty<object>() }) };
        forbidden.Headers.Authorization = new AuthenticationHeaderValue("Bearer", readKey.Key);
        await RefusedAsync(forbidden, HttpStatusCode.Forbidden);

        Assert.Equal(before, app.OpenAi.Requests.Count);
        Assert.Empty(await TracesAsync(s.Team, 0));
    }

    [Fact]
    public async Task Experiment_AppliesTheVariantsConfig_AndTheTraceCarriesExperimentAndVariant()
    {
        var s = await TeamWithConnectionAsync();
        var admin = await TestData.CreateKeyAsync(app.Services, s.Team.Id, ApiKeyScopes.Admin);
        using var adminHttp = Http(admin);
        var definition = new
        {
            key = "short-prompt", name = "Short prompt", unit = "user_id",
            variants = new object[]
            {
                new { key = "control", name = "Control", weight = 0.0, config = new { model = "gpt-4o" } },
                new { key = "short", name = "Short", weight = 1.0, config = new { model = "gpt-4o-mini", system_prompt = "Be brief.", temperature = 0.1, prompt_version = 7 } },
            },
            primary_metric = "acceptance_rate",
        };
        var created = await adminHttp.PostAsync("/api/v1/experiments", Json(definition));
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        Assert.True((await adminHttp.PostAsync("/api/v1/experiments/short-prompt/start", null)).IsSuccessStatusCode);

        using var http = Http(s.Key);
        var before = app.OpenAi.Requests.Count;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions")
        {
            Content = Json(new { model = "gpt-4o", messages = new object[] { new { role = "system", content = "Be thorough." }, new { role = "user", content = "Explain tides" } } }),
        };
        request.Headers.Add("X-EvalPlatform-Experiment", "short-prompt");
        request.Headers.Add("X-EvalPlatform-User", "user-7");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var sent = app.OpenAi.Requests[before].Json;
        Assert.Equal("gpt-4o-mini", sent.GetProperty("model").GetString());
        Assert.Equal(0.1, sent.GetProperty("temperature").GetDouble(), 3);
        Assert.Equal("Be brief.", sent.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(2, sent.GetProperty("messages").GetArrayLength());
        Assert.False(sent.TryGetProperty("prompt_version", out _));

        var trace = Assert.Single(await TracesAsync(s.Team, 1));
        Assert.Equal(("short-prompt", "short", "gpt-4o-mini"), (trace.Experiment, trace.Variant, trace.Model));
    }

    [Fact]
    public async Task Budgets_PerEndUserAndPerKey_AnswerA429WithRetryAfter_BeforeTheUpstream_UntilTheWindowTurns()
    {
        var s = await TeamWithConnectionAsync();
        var admin = await TestData.CreateKeyAsync(app.Services, s.Team.Id, ApiKeyScopes.Admin);
        using var adminHttp = Http(admin);
        var tokenKey = await TestData.CreateKeyAsync(app.Services, s.Team.Id, ApiKeyScopes.Ingest);
        var put = await adminHttp.PutAsync("/api/v1/providers/budgets", Json(new
        {
            budgets = new object[]
            {
                new { scope = "end_user", metric = "requests", limit = 2, window = "minute" },
                new { scope = "api_key", api_key_id = tokenKey.Info.Id, metric = "tokens", limit = 10, window = "hour" },
                new { scope = "team", metric = "cost", limit = 100, window = "day" },
            },
        }));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        using (var listed = JsonDocument.Parse(await adminHttp.GetStringAsync("/api/v1/providers/budgets")))
        {
            var budgets = listed.RootElement.GetProperty("budgets");
            Assert.Equal(["end_user", "api_key", "team"], budgets.EnumerateArray().Select(b => b.GetProperty("scope").GetString()));
            Assert.Equal(tokenKey.Info.Id, budgets[1].GetProperty("api_key_id").GetGuid());
        }

        using var http = Http(s.Key);
        async Task<HttpResponseMessage> CallAsync(string user, HttpClient? client = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions")
            {
                Content = Json(new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }),
            };
            request.Headers.Add("X-EvalPlatform-User", user);
            return await (client ?? http).SendAsync(request);
        }

        var before = app.OpenAi.Requests.Count;
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("u1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("u1")).StatusCode);
        await WaitCallsAsync(s.Team, 2);
        using (var refused = await CallAsync("u1"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var wait = refused.Headers.RetryAfter!.Delta!.Value;
            Assert.InRange(wait.TotalSeconds, 1, 60);
            using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("rate_limit_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
            Assert.Contains("end user's", body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(before + 2, app.OpenAi.Requests.Count);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("u2")).StatusCode); // each end user on its own

        // Tokens per key: the first call spends more than 10 tokens, the second is refused; other keys are not counted.
        using var tokenHttp = Http(tokenKey);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("u3", tokenHttp)).StatusCode);
        await WaitCallsAsync(s.Team, 4);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await CallAsync("u4", tokenHttp)).StatusCode);

        // The next minute opens the end user's window again.
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("u1")).StatusCode);
        Assert.DoesNotContain(await TracesAsync(s.Team, 5), t => t.Error is not null);

        Assert.Equal(HttpStatusCode.NoContent, (await adminHttp.DeleteAsync("/api/v1/providers/budgets")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("u4", tokenHttp)).StatusCode);
    }

    [Fact]
    public async Task Budgets_Api_NamesTheFieldAtFault_NeedsAdmin_AndIsPerTeam()
    {
        var a = await TeamWithConnectionAsync();
        var b = await TeamWithConnectionAsync();
        var adminA = await TestData.CreateKeyAsync(app.Services, a.Team.Id, ApiKeyScopes.Admin);
        var adminB = await TestData.CreateKeyAsync(app.Services, b.Team.Id, ApiKeyScopes.Admin);
        using var httpA = Http(adminA);
        using var httpB = Http(adminB);

        async Task FieldAsync(object body, string field)
        {
            using var response = await httpA.PutAsync("/api/v1/providers/budgets", Json(body));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
            Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _), text);
        }

        await FieldAsync(new { budgets = new[] { new { scope = "galaxy", metric = "requests", limit = 1, window = "day" } } }, "budgets[0].scope");
        await FieldAsync(new { budgets = new[] { new { scope = "team", metric = "requests", limit = -1, window = "day" } } }, "budgets[0].limit");
        await FieldAsync(new { budgets = new[] { new { scope = "team", metric = "requests", limit = 1, window = "week" } } }, "budgets[0].window");
        await FieldAsync(new { budgets = new[] { new { scope = "api_key", api_key_id = b.Key.Info.Id, metric = "requests", limit = 1, window = "day" } } }, "budgets[0].api_key_id");
        await FieldAsync(new { limits = 1 }, "budgets");

        Assert.True((await httpA.PutAsync("/api/v1/providers/budgets", Json(new { budgets = new[] { new { scope = "team", metric = "requests", limit = 0, window = "day" } } }))).IsSuccessStatusCode);
        using var listedB = JsonDocument.Parse(await httpB.GetStringAsync("/api/v1/providers/budgets"));
        Assert.Equal(0, listedB.RootElement.GetProperty("budgets").GetArrayLength());

        using var ingestA = Http(a.Key);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestA.GetAsync("/api/v1/providers/budgets")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await ingestA.PostAsync("/proxy/openai/v1/chat/completions", Json(new { model = "gpt-4o", messages = Array.Empty<object>() }))).StatusCode);
        using var ingestB = Http(b.Key);
        Assert.Equal(HttpStatusCode.OK, (await ingestB.PostAsync("/proxy/openai/v1/chat/completions", Json(new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } } }))).StatusCode);
    }

    [Fact]
    public async Task RecordAndReplay_AnswersTheSameRequestFromTheCassette_WithoutTheUpstream_StreamsIncluded()
    {
        var s = await TeamWithConnectionAsync();
        using var http = Http(s.Key);
        async Task<(HttpStatusCode Status, string Body)> CallAsync(string mode, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(body) };
            request.Headers.Add("X-EvalPlatform-Replay", mode);
            using var response = await http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var plain = new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "Capital of France?" } } };
        var streamed = new { model = "gpt-4o-mini", stream = true, messages = new[] { new { role = "user", content = "Count to three" } } };
        app.OpenAi.NextText("Paris.");
        app.OpenAi.NextText("one two three");
        var recorded = await CallAsync("record", plain);
        var recordedStream = await CallAsync("record", streamed);
        Assert.Equal(HttpStatusCode.OK, recorded.Status);
        await WaitCallsAsync(s.Team, 2);
        var upstreamCalls = app.OpenAi.Requests.Count;

        // The same requests, keys in another order: answered from the cassettes, byte for byte, without the upstream.
        var replayed = await CallAsync("replay", """{"messages":[{"content":"Capital of France?","role":"user"}],"model":"gpt-4o-mini"}""");
        var replayedStream = await CallAsync("REPLAY", streamed);
        Assert.Equal(recorded, replayed);
        Assert.Equal(recordedStream, replayedStream);
        Assert.Contains("[DONE]", replayedStream.Body, StringComparison.Ordinal);
        Assert.Equal(upstreamCalls, app.OpenAi.Requests.Count);

        // A request never recorded: a clear 404 in the SDK's shape.
        var miss = await CallAsync("replay", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "Something else" } } });
        Assert.Equal(HttpStatusCode.NotFound, miss.Status);
        using (var body = JsonDocument.Parse(miss.Body))
        {
            Assert.Equal("not_found_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
            Assert.Contains("record it first", body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        var traces = await TracesAsync(s.Team, 4);
        Assert.Equal(2, traces.Count(t => t.Metadata!.Contains("\"replayed\":true", StringComparison.Ordinal)));
        Assert.Equal(2, traces.Count(t => t.OutputPreview == "Paris."));
        Assert.Equal(2, (await CallsAsync(s.Team)).Count); // replays spend nothing

        // Cassettes are the team's own: another team's replay of the same request misses.
        var other = await TeamWithConnectionAsync();
        using var otherHttp = Http(other.Key);
        using var theirs = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(plain) };
        theirs.Headers.Add("X-EvalPlatform-Replay", "replay");
        Assert.Equal(HttpStatusCode.NotFound, (await otherHttp.SendAsync(theirs)).StatusCode);

        using var bad = new HttpRequestMessage(HttpMethod.Post, "/proxy/openai/v1/chat/completions") { Content = Json(plain) };
        bad.Headers.Add("X-EvalPlatform-Replay", "rewind");
        using var badResponse = await http.SendAsync(bad);
        Assert.Equal(HttpStatusCode.BadRequest, badResponse.StatusCode);
        Assert.Contains("X-EvalPlatform-Replay", await badResponse.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_ArePassedThroughFromTheConnection()
    {
        var s = await TeamWithConnectionAsync();
        app.OpenAi.Models = ["gpt-4o", "gpt-4o-mini"];
        using var http = Http(s.Key);

        using var response = await http.GetAsync("/proxy/openai/v1/models");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["gpt-4o", "gpt-4o-mini"], body.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.Empty(await TracesAsync(s.Team, 0));
    }
}

public sealed class PostgresProxyTests(ProviderPostgresAppFactory app) : ProxyTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqliteProxyTests(ProviderSqliteAppFactory app) : ProxyTests(app), IClassFixture<ProviderSqliteAppFactory>;
