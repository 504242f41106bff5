using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EvalPlatform.Client;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace EvalPlatform.Tests.Integration.Sdks;

/// <summary>The .NET SDK (sdks/dotnet) against the real app on a real Kestrel port, on each database.</summary>
public abstract class DotnetClientTests(EvalAppFactory app)
{
    /// <summary>A team with a key for everything the SDK does (ingest, read, review), and a plain HTTP client to check what arrived.</summary>
    private async Task<(EvalPlatformOptions Options, HttpClient Http)> TeamAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Review, "sdk");
        var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        return (new EvalPlatformOptions { Endpoint = app.ServerAddress, ApiKey = key.Key, MaxRetries = 3, InitialBackoff = TimeSpan.FromMilliseconds(50) }, http);
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(new Uri(url, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The team's traces, keyed by external id.</summary>
    private static async Task<Dictionary<string, JsonElement>> TracesAsync(HttpClient http)
    {
        var list = await GetJsonAsync(http, "/api/v1/traces?limit=200");
        return list.GetProperty("items").EnumerateArray().ToDictionary(t => t.GetProperty("external_id").GetString()!);
    }

    private static async Task<JsonElement> TraceAsync(HttpClient http, JsonElement item) =>
        await GetJsonAsync(http, $"/api/v1/traces/{item.GetProperty("id").GetGuid()}");

    [Fact]
    public async Task BuilderTrace_AndChatClientTraces_ArriveWithTheirFields()
    {
        var (options, http) = await TeamAsync();
        using var _ = http;
        await using var batcher = new EvalPlatformBatcher(new HttpClient(), options);

        batcher.Enqueue(new TraceBuilder()
            .WithExternalId("builder-1").WithName("support-chat").WithSystemPrompt("You are a support agent.")
            .WithUserInput("Where is my order 1234?").WithResponse("It shipped yesterday.").WithModel("gpt-4o-mini", "openai")
            .WithUsage(812, 64).WithLatency(TimeSpan.FromMilliseconds(930)).WithSession("s-1").WithUser("u-1")
            .WithEnvironment("production").WithTags("support", "sdk").WithMetadata("region", "eu")
            .AddFunctionCall("lookup_order", new { id = 1234 }, new { status = "shipped" }, TimeSpan.FromMilliseconds(42))
            .Build());

        var chat = new WeatherChatClient().WithEvalPlatform(batcher, o =>
        {
            o.TraceName = "weather-bot";
            o.Enrich = (trace, _, _) => trace.ExternalId = trace.TimeToFirstTokenMs is null ? "chat-call" : "chat-stream";
        });
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "Weather in Paris?")]);
        Assert.Equal("It is 18°C in Paris.", response.Text);
        var streamed = new StringBuilder();
        await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "And tomorrow?")]))
        {
            streamed.Append(update.Text);
        }

        Assert.Equal("Sunny, 21°C.", streamed.ToString());

        Assert.True(await batcher.FlushAsync());
        Assert.Equal(new EvalPlatformCounters(3, 0, 0, 0, 0), batcher.Counters);

        var traces = await TracesAsync(http);
        Assert.Equal(3, traces.Count);

        var built = await TraceAsync(http, traces["builder-1"]);
        Assert.Equal(("support-chat", "gpt-4o-mini", "openai"), (built.GetProperty("name").GetString(), built.GetProperty("model").GetString(), built.GetProperty("provider").GetString()));
        Assert.Equal((812, 64), (built.GetProperty("prompt_tokens").GetInt32(), built.GetProperty("completion_tokens").GetInt32()));
        Assert.Equal(930, built.GetProperty("latency_ms").GetDouble());
        Assert.Equal(("s-1", "u-1", "production"), (built.GetProperty("session_id").GetString(), built.GetProperty("user_id").GetString(), built.GetProperty("environment").GetString()));
        Assert.Equal(["support", "sdk"], built.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("eu", built.GetProperty("metadata").GetProperty("region").GetString());
        Assert.Equal("It shipped yesterday.", traces["builder-1"].GetProperty("output_preview").GetString());
        var tool = built.GetProperty("spans").EnumerateArray().Single(s => s.GetProperty("kind").GetString() == "tool");
        Assert.Equal(("lookup_order", 42.0), (tool.GetProperty("name").GetString(), tool.GetProperty("duration_ms").GetDouble()));
        Assert.Equal("shipped", tool.GetProperty("output").GetProperty("status").GetString());

        var called = await TraceAsync(http, traces["chat-call"]);
        Assert.Equal(("weather-bot", "weather-model-1", "test-provider"), (called.GetProperty("name").GetString(), called.GetProperty("model").GetString(), called.GetProperty("provider").GetString()));
        Assert.Equal((11, 7), (called.GetProperty("prompt_tokens").GetInt32(), called.GetProperty("completion_tokens").GetInt32()));
        Assert.Equal("It is 18°C in Paris.", traces["chat-call"].GetProperty("output_preview").GetString());
        Assert.Equal("Weather in Paris?", traces["chat-call"].GetProperty("input_preview").GetString());
        var weather = called.GetProperty("spans").EnumerateArray().Single(s => s.GetProperty("kind").GetString() == "tool");
        Assert.Equal("get_weather", weather.GetProperty("name").GetString());
        Assert.Equal("Paris", weather.GetProperty("input").GetProperty("city").GetString());
        Assert.Equal(18, weather.GetProperty("output").GetProperty("temperature").GetInt32());

        var streamedTrace = await TraceAsync(http, traces["chat-stream"]);
        Assert.True(streamedTrace.GetProperty("time_to_first_token_ms").GetDouble() >= 0);
        Assert.Equal("Sunny, 21°C.", traces["chat-stream"].GetProperty("output_preview").GetString());
    }

    [Fact]
    public async Task Assign_FromTheServersDefinitions_EqualsTheServersAssignment_AndTheTraceCarriesIt()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin, "sdk");
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        using var created = await http.PostAsJsonAsync(new Uri("/api/v1/experiments", UriKind.Relative), new
        {
            key = "checkout-test", name = "Shorter answers", unit = "user_id", coverage = 0.9, primary_metric = "acceptance_rate",
            variants = new object[]
            {
                new { key = "control", weight = 0.5, config = new { model = "gpt-4o" } },
                new { key = "short", weight = 0.3, config = new { model = "gpt-4o-mini" } },
                new { key = "terse", weight = 0.2, config = new { model = "gpt-4o-mini", temperature = 0.2 } },
            },
        });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        using var started = await http.PostAsync(new Uri("/api/v1/experiments/checkout-test/start", UriKind.Relative), null);
        Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());

        var options = new EvalPlatformOptions { Endpoint = app.ServerAddress, ApiKey = key.Key };
        using var assigner = new ExperimentAssigner(new HttpClient(), options);
        var units = Enumerable.Range(0, 200).Select(i => $"user-{i}").Append("usér-é").ToArray();
        using var server = await http.PostAsJsonAsync(new Uri("/api/v1/experiments/checkout-test/assign", UriKind.Relative), new { unit_ids = units });
        var serverBody = JsonDocument.Parse(await server.Content.ReadAsStringAsync()).RootElement;
        var expected = serverBody.GetProperty("assignments").EnumerateArray()
            .Select(a => (a.GetProperty("variant").GetString(), a.GetProperty("in_experiment").GetBoolean())).ToList();
        var local = new List<(string?, bool)>();
        foreach (var unit in units)
        {
            var a = await assigner.AssignAsync("checkout-test", unit);
            local.Add((a.Variant, a.InExperiment));
        }

        Assert.Equal(expected, local);
        Assert.Contains(local, a => a.Item1 == "terse");
        Assert.Contains(local, a => !a.Item2);

        // user-1 is "short" in the reference's vectors (weights 0.5/0.3/0.2, coverage 0.9); its trace carries the assignment.
        var assignment = await assigner.AssignAsync("checkout-test", "user-1");
        Assert.Equal(("short", "gpt-4o-mini"), (assignment.Variant, assignment.Config?["model"]?.GetValue<string>()));
        var client = new EvalPlatformClient(http, options);
        var receipt = await client.SendTraceAsync(new TraceBuilder().WithUser("user-1").WithAssignment(assignment)
            .WithUserInput("Where is my order?").WithResponse("Shipped.").Build());
        var trace = await GetJsonAsync(http, $"/api/v1/traces/{receipt.Id}");
        Assert.Equal(("checkout-test", "short"), (trace.GetProperty("experiment").GetString(), trace.GetProperty("variant").GetString()));
    }

    [Fact]
    public async Task Scores_ArePosted_AndTheReviewIsReadAfterAReview()
    {
        var (options, http) = await TeamAsync();
        using var _ = http;
        var client = new EvalPlatformClient(http, options);

        var receipt = await client.SendTraceAsync(new TraceBuilder().WithUserInput("Where is my order?").WithResponse("Tracking number ZZ999.").Build());
        Assert.Equal("created", receipt.Status);
        Assert.Equal("pending", (await client.GetReviewAsync(receipt.Id)).Status);

        var stored = await client.PostScoresAsync(receipt.Id, [EvalScore.Numeric("faithfulness", 0.2, "made up a number"), EvalScore.Boolean("resolved", false)]);
        Assert.Equal(2, stored.Count);
        Assert.All(stored, s => Assert.Equal("api", s.Source));
        var scores = (await GetJsonAsync(http, $"/api/v1/traces/{receipt.Id}")).GetProperty("scores");
        Assert.Contains(scores.EnumerateArray(), s => s.GetProperty("name").GetString() == "faithfulness" && s.GetProperty("numeric_value").GetDouble() == 0.2);

        using var reviewed = await http.PostAsJsonAsync(new Uri($"/api/v1/traces/{receipt.Id}/review", UriKind.Relative),
            new { action = "reject", reason = "hallucination", detail = "Invents a tracking number.", note = "Check the order tool." });
        Assert.Equal(HttpStatusCode.OK, reviewed.StatusCode);

        var review = await client.GetReviewAsync(receipt.Id);
        Assert.Equal((receipt.Id, "rejected", "hallucination", "Invents a tracking number.", "Check the order tool."),
            (review.TraceId, review.Status, review.Reason, review.Detail, review.Note));
        Assert.Equal("bad", review.ScoreLabel);
        Assert.StartsWith("api-key:", review.ReviewedBy, StringComparison.Ordinal);
        Assert.NotNull(review.ReviewedAt);
        var change = Assert.Single(review.History);
        Assert.Equal(("reject", "pending", "rejected"), (change.Action, change.From.Status, change.To.Status));

        var missing = await Assert.ThrowsAsync<EvalPlatformException>(() => client.GetReviewAsync(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task ABatchRetriedAfterA503_IsStoredOnce()
    {
        var (options, http) = await TeamAsync();
        using var _ = http;
        using var lostAnswer = new StoredThenUnavailable(new SocketsHttpHandler());
        await using var batcher = new EvalPlatformBatcher(new HttpClient(lostAnswer), options);
        batcher.Enqueue(new TraceBuilder().WithUserInput("first").WithResponse("one").Build());
        batcher.Enqueue(new TraceBuilder().WithUserInput("second").WithResponse("two").Build());

        Assert.True(await batcher.FlushAsync());

        // The platform stored the batch, the answer was lost behind a 503, the retry found it stored.
        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.OK], lostAnswer.PlatformAnswers);
        Assert.Equal(new EvalPlatformCounters(2, 0, 0, 0, 0), batcher.Counters);
        var traces = await TracesAsync(http);
        Assert.Equal(2, traces.Count);
    }

    [Fact]
    public async Task OneBadTrace_DoesNotPoisonItsBatch_NorDoesAConflict()
    {
        var (options, http) = await TeamAsync();
        using var _ = http;
        var client = new EvalPlatformClient(http, options);
        await client.SendTraceAsync(new TraceBuilder().WithExternalId("taken").WithUserInput("original").Build());
        using var counting = new CountingHandler(new SocketsHttpHandler());
        await using var batcher = new EvalPlatformBatcher(new HttpClient(counting), options);

        batcher.Enqueue(new TraceBuilder().WithExternalId("good-1").WithUserInput("fine").Build());
        batcher.Enqueue(new TraceBuilder().WithExternalId("bad").WithUserInput("fine").WithModel(new string('m', 300)).Build());
        batcher.Enqueue(new TraceBuilder().WithExternalId("taken").WithUserInput("different content").Build());
        batcher.Enqueue(new TraceBuilder().WithExternalId("skewed").WithUserInput("fine").WithTimes(SkewStart, SkewStart.AddTicks(-5_000)).Build());
        batcher.Enqueue(new TraceBuilder().WithExternalId("good-2").WithUserInput("fine").Build());
        Assert.True(await batcher.FlushAsync());

        // The platform stored the good ones and listed the two it did not: one request, nothing sent again.
        Assert.Equal(1, counting.Requests);
        Assert.Equal(new EvalPlatformCounters(3, 0, 2, 0, 0, Adjusted: 1), batcher.Counters);
        var traces = await TracesAsync(http);
        Assert.Equal(["good-1", "good-2", "skewed", "taken"], traces.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("original", traces["taken"].GetProperty("input_preview").GetString());
    }

    private static readonly DateTimeOffset SkewStart = new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(5_000);

    [Fact]
    public async Task SendTracesAsync_AnswersEachTracesFate_AndAPartialAnswerIsNoError()
    {
        var (options, http) = await TeamAsync();
        using var _ = http;
        var client = new EvalPlatformClient(http, options);
        await client.SendTraceAsync(new TraceBuilder().WithExternalId("taken").WithUserInput("original").Build());

        var receipt = await client.SendTracesAsync(
        [
            new TraceBuilder().WithExternalId("good").WithUserInput("fine").Build(),
            new TraceBuilder().WithExternalId("bad").WithUserInput("fine").WithModel(new string('m', 300)).Build(),
            new TraceBuilder().WithExternalId("taken").WithUserInput("different content").Build(),
            new TraceBuilder().WithExternalId("skewed").WithUserInput("fine").WithTimes(SkewStart, SkewStart.AddTicks(-5_000)).Build(),
        ]);

        Assert.Equal(["created", "skipped", "conflict", "created"], receipt.Items.Select(i => i.Status));
        Assert.Equal(2, receipt.Stored);
        Assert.Equal(["bad", "taken"], receipt.NotStored.Select(i => i.ExternalId));
        Assert.Equal("traces[1].model", Assert.Single(receipt.Items[1].Errors!).Field);
        Assert.Null(receipt.Items[1].Id);
        Assert.Equal("traces[3].end_time", Assert.Single(Assert.Single(receipt.Adjusted).Adjustments!).Field);
        var skewed = await GetJsonAsync(http, $"/api/v1/traces/{receipt.Items[3].Id}");
        Assert.Equal(SkewStart, skewed.GetProperty("end_time").GetDateTimeOffset());

        // Nothing storable: the one case that throws, every field named.
        var refused = await Assert.ThrowsAsync<EvalPlatformException>(() => client.SendTracesAsync(
            [new TraceBuilder().WithUserInput("x").WithModel(new string('m', 300)).Build()]));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("traces[0].model", refused.Errors.Keys);
    }

    /// <summary>Counts the requests it passes on.</summary>
    private sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _requests;

        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Passes requests to the platform, but answers the first one 503 after the platform stored it (a proxy that lost the answer).</summary>
    private sealed class StoredThenUnavailable(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        public List<HttpStatusCode> PlatformAnswers { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            PlatformAnswers.Add(response.StatusCode);
            if (PlatformAnswers.Count > 1)
            {
                return response;
            }

            response.Dispose();
            var unavailable = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Content = new StringContent("""{"status":503,"title":"Busy"}""") };
            unavailable.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.Zero);
            return unavailable;
        }
    }

    /// <summary>A model that calls a weather tool, then answers; and streams a short answer.</summary>
    private sealed class WeatherChatClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ChatResponse(
            [
                new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
                new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_1", new { temperature = 18, unit = "C" })]),
                new ChatMessage(ChatRole.Assistant, "It is 18°C in Paris."),
            ])
            {
                ModelId = "weather-model-1",
                Usage = new UsageDetails { InputTokenCount = 11, OutputTokenCount = 7 },
            });

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var text in new[] { "Sunny, ", "21°C." })
            {
                // Each piece arrives later, as from a network: asynchronously, with no length of time the test depends on.
                await Task.Yield();
                yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ModelId = "weather-model-1" };
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("test-provider", null, "weather-model-1") : null;

        public void Dispose()
        {
        }
    }
}

public sealed class KestrelSqliteAppFactory() : EvalAppFactory(TestDatabase.Sqlite, kestrel: true);

public sealed class DotnetClientPostgresTests(EndToEnd.KestrelAppFactory app) : DotnetClientTests(app), IClassFixture<EndToEnd.KestrelAppFactory>;

public sealed class DotnetClientSqliteTests(KestrelSqliteAppFactory app) : DotnetClientTests(app), IClassFixture<KestrelSqliteAppFactory>;
