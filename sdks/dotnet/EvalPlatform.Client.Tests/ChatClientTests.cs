using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Client.Tests;

/// <summary>A batcher that keeps what it is given, as the JSON that would be sent.</summary>
public sealed class RecordingBatcher : IEvalPlatformBatcher
{
    public List<JsonElement> Traces { get; } = [];

    public EvalPlatformCounters Counters => default;

    public bool Enqueue(EvalTrace trace)
    {
        Traces.Add(JsonSerializer.SerializeToElement(trace, EvalJson.Options));
        return true;
    }

    public Task<bool> FlushAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);
}

/// <summary>A chat client scripted by the test; it advances the fake clock to simulate the model's time.</summary>
public sealed class ScriptedChatClient(FakeTimeProvider time) : IChatClient
{
    public Func<IEnumerable<ChatMessage>, ChatResponse>? Respond { get; set; }

    public IReadOnlyList<(TimeSpan Delay, ChatResponseUpdate? Update, Exception? Error)> Stream { get; set; } = [];

    public TimeSpan Latency { get; set; } = TimeSpan.FromMilliseconds(250);

    public IEnumerable<ChatMessage>? ReceivedMessages { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ReceivedMessages = messages;
        time.Advance(Latency);
        return Task.FromResult(Respond!(messages));
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ReceivedMessages = messages;
        foreach (var (delay, update, error) in Stream)
        {
            await Task.Yield();
            time.Advance(delay);
            if (error is not null)
            {
                throw error;
            }

            yield return update!;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("openai", new Uri("https://api.openai.test"), "gpt-4o-mini") : null;

    public void Dispose()
    {
    }
}

public sealed class ChatClientTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingBatcher _batcher = new();
    private readonly ScriptedChatClient _inner;
    private readonly EvalPlatformChatClient _client;

    public ChatClientTests()
    {
        _inner = new ScriptedChatClient(_time);
        _client = new EvalPlatformChatClient(_inner, _batcher, new EvalPlatformChatClientOptions { TraceName = "support-chat", Environment = "test" }, _time);
    }

    private static readonly ChatMessage[] Question =
    [
        new(ChatRole.System, "You are a support agent."),
        new(ChatRole.User, "Where is my order?"),
    ];

    private static string[] Roles(JsonElement trace) =>
        trace.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()!).ToArray();

    [Fact]
    public async Task GetResponse_RecordsTheCall_AndReturnsTheInnerResponseUnchanged()
    {
        var answer = new ChatResponse(new ChatMessage(ChatRole.Assistant, "It shipped yesterday."))
        {
            ModelId = "gpt-4o-mini-2024-07-18",
            Usage = new UsageDetails { InputTokenCount = 812, OutputTokenCount = 64, TotalTokenCount = 876 },
            FinishReason = ChatFinishReason.Stop,
        };
        _inner.Respond = _ => answer;
        var startedAt = _time.GetUtcNow();

        var response = await _client.GetResponseAsync(Question);

        Assert.Same(answer, response);
        Assert.Same(Question, _inner.ReceivedMessages);
        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal("gpt-4o-mini-2024-07-18", trace.GetProperty("model").GetString());
        Assert.Equal("openai", trace.GetProperty("provider").GetString());
        Assert.Equal("support-chat", trace.GetProperty("name").GetString());
        Assert.Equal("test", trace.GetProperty("environment").GetString());
        Assert.Equal(812, trace.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(64, trace.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(876, trace.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(250, trace.GetProperty("latency_ms").GetDouble());
        Assert.Equal(startedAt, trace.GetProperty("start_time").GetDateTimeOffset());
        Assert.Equal(startedAt.AddMilliseconds(250), trace.GetProperty("end_time").GetDateTimeOffset());
        Assert.False(trace.TryGetProperty("time_to_first_token_ms", out _));
        Assert.False(trace.TryGetProperty("error", out _));
        Assert.Equal(["system", "user", "assistant"], Roles(trace));
        Assert.Equal("It shipped yesterday.", trace.GetProperty("messages")[2].GetProperty("content").GetString());
        Assert.Equal("stop", trace.GetProperty("metadata").GetProperty("finish_reason").GetString());
        Assert.True(Guid.TryParse(trace.GetProperty("external_id").GetString(), out _));
    }

    [Fact]
    public async Task GetStreamingResponse_YieldsEveryUpdateUnchanged_AndRecordsTimeToFirstToken()
    {
        var updates = new[]
        {
            new ChatResponseUpdate(ChatRole.Assistant, "It ") { ModelId = "gpt-4o-mini" },
            new ChatResponseUpdate(ChatRole.Assistant, "shipped."),
            new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 20, OutputTokenCount = 3 })], FinishReason = ChatFinishReason.Stop },
        };
        _inner.Stream =
        [
            (TimeSpan.FromMilliseconds(120), updates[0], null),
            (TimeSpan.FromMilliseconds(40), updates[1], null),
            (TimeSpan.FromMilliseconds(40), updates[2], null),
        ];

        var received = new List<ChatResponseUpdate>();
        await foreach (var update in _client.GetStreamingResponseAsync(Question))
        {
            received.Add(update);
        }

        Assert.Equal(updates, received);
        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal(120, trace.GetProperty("time_to_first_token_ms").GetDouble());
        Assert.Equal(200, trace.GetProperty("latency_ms").GetDouble());
        Assert.Equal("gpt-4o-mini", trace.GetProperty("model").GetString());
        Assert.Equal("It shipped.", trace.GetProperty("messages")[2].GetProperty("content").GetString());
        Assert.Equal(20, trace.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.True(trace.GetProperty("metadata").GetProperty("streaming").GetBoolean());
    }

    [Fact]
    public async Task ToolCalls_AndTheirResults_AreRecordedAsMessagesAndToolSpans()
    {
        _inner.Respond = _ => new ChatResponse(
        [
            new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_1", new { temperature = 18, unit = "C" })]),
            new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call_2", "get_forecast", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call_2", null) { Exception = new TimeoutException("forecast service timed out") }]),
            new ChatMessage(ChatRole.Assistant, "It is 18°C in Paris."),
        ]);

        await _client.GetResponseAsync([new ChatMessage(ChatRole.User, "Weather in Paris?")]);

        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal(["user", "assistant", "tool", "assistant", "tool", "assistant"], Roles(trace));
        var messages = trace.GetProperty("messages");
        var call = messages[1].GetProperty("tool_calls")[0];
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("Paris", JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString());
        Assert.Equal("call_1", messages[2].GetProperty("tool_call_id").GetString());
        Assert.Equal("It is 18°C in Paris.", messages[5].GetProperty("content").GetString());

        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(2, spans.Count);
        Assert.Equal(("tool", "get_weather"), (spans[0].GetProperty("kind").GetString(), spans[0].GetProperty("name").GetString()));
        Assert.Equal("Paris", spans[0].GetProperty("input").GetProperty("city").GetString());
        Assert.Equal(18, spans[0].GetProperty("output").GetProperty("temperature").GetInt32());
        Assert.False(spans[0].TryGetProperty("error", out _));
        Assert.Equal("TimeoutException: forecast service timed out", spans[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task FailingCall_ThrowsTheSameException_AndTheTraceRecordsTheError()
    {
        var failure = new InvalidOperationException("model overloaded");
        _inner.Respond = _ => throw failure;

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => _client.GetResponseAsync(Question));

        Assert.Same(failure, thrown);
        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal("InvalidOperationException: model overloaded", trace.GetProperty("error").GetString());
        Assert.Equal(["system", "user"], Roles(trace));
        Assert.Equal("gpt-4o-mini", trace.GetProperty("model").GetString());
    }

    [Fact]
    public async Task FailingStream_ThrowsTheSameException_AndTheTraceKeepsWhatArrived()
    {
        var failure = new HttpRequestException("connection reset");
        _inner.Stream =
        [
            (TimeSpan.FromMilliseconds(80), new ChatResponseUpdate(ChatRole.Assistant, "It sh"), null),
            (TimeSpan.FromMilliseconds(20), null, failure),
        ];

        var received = new List<ChatResponseUpdate>();
        var thrown = await Assert.ThrowsAsync<HttpRequestException>(async () =>
        {
            await foreach (var update in _client.GetStreamingResponseAsync(Question))
            {
                received.Add(update);
            }
        });

        Assert.Same(failure, thrown);
        Assert.Single(received);
        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal("HttpRequestException: connection reset", trace.GetProperty("error").GetString());
        Assert.Equal(80, trace.GetProperty("time_to_first_token_ms").GetDouble());
        Assert.Equal("It sh", trace.GetProperty("messages")[2].GetProperty("content").GetString());
    }

    [Fact]
    public async Task BrokenTelemetry_NeverBreaksTheCall()
    {
        var answer = new ChatResponse(new ChatMessage(ChatRole.Assistant, "Fine."));
        _inner.Respond = _ => answer;
        var throwing = new EvalPlatformChatClient(_inner, new ThrowingBatcher(), new EvalPlatformChatClientOptions
        {
            Enrich = (_, _, _) => throw new InvalidOperationException("enricher bug"),
        }, _time);

        Assert.Same(answer, await throwing.GetResponseAsync(Question));
    }

    [Fact]
    public async Task Enrich_SetsSessionAndUser_FromTheCallsOptions()
    {
        _inner.Respond = _ => new ChatResponse(new ChatMessage(ChatRole.Assistant, "Fine."));
        var client = _inner.WithEvalPlatform(_batcher, o => o.Enrich = (trace, _, options) =>
        {
            trace.SessionId = options?.AdditionalProperties?["session_id"] as string;
            trace.UserId = "u-1";
        });

        await client.GetResponseAsync(Question, new ChatOptions { AdditionalProperties = new() { ["session_id"] = "s-42" } });

        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal("s-42", trace.GetProperty("session_id").GetString());
        Assert.Equal("u-1", trace.GetProperty("user_id").GetString());
    }

    private sealed class ThrowingBatcher : IEvalPlatformBatcher
    {
        public EvalPlatformCounters Counters => default;

        public bool Enqueue(EvalTrace trace) => throw new InvalidOperationException("batcher bug");

        public Task<bool> FlushAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);
    }
}
