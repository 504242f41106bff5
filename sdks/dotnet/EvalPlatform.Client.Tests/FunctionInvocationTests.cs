using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace EvalPlatform.Client.Tests;

/// <summary>The wrapper in a real pipeline: outside Microsoft.Extensions.AI's function invocation, one trace per exchange.</summary>
public sealed class FunctionInvocationTests
{
    private readonly RecordingBatcher _batcher = new();

    /// <summary>Asks for the weather tool until it has its result, then answers with it.</summary>
    private sealed class ToolUsingModel : IChatClient
    {
        public int Calls { get; private set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls++;
            var result = messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().FirstOrDefault();
            var reply = result is null
                ? new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })])
                : new ChatMessage(ChatRole.Assistant, $"It is {result.Result} in Paris.");
            return Task.FromResult(new ChatResponse(reply) { ModelId = "tool-model", Usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 5 } });
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var response = await GetResponseAsync(messages, options, cancellationToken);
            foreach (var update in response.ToChatResponseUpdates())
            {
                yield return update;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private IChatClient Pipeline(ToolUsingModel model) =>
        new ChatClientBuilder(model)
            .Use(inner => inner.WithEvalPlatform(_batcher, o => o.TraceName = "weather"))
            .UseFunctionInvocation()
            .Build();

    private static readonly ChatOptions WithWeatherTool = new()
    {
        Tools = [AIFunctionFactory.Create((string city) => "18°C", "get_weather", "The weather in a city.")],
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OneTrace_HoldsTheToolCall_ItsResult_AndTheAnswer(bool streaming)
    {
        var model = new ToolUsingModel();
        var chat = Pipeline(model);
        List<ChatMessage> question = [new(ChatRole.User, "Weather in Paris?")];

        var text = streaming
            ? (await chat.GetStreamingResponseAsync(question, WithWeatherTool).ToChatResponseAsync()).Text
            : (await chat.GetResponseAsync(question, WithWeatherTool)).Text;

        Assert.Equal("It is 18°C in Paris.", text);
        Assert.Equal(2, model.Calls);
        var trace = Assert.Single(_batcher.Traces);
        Assert.Equal("weather", trace.GetProperty("name").GetString());
        Assert.Equal(["user", "assistant", "tool", "assistant"],
            trace.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("It is 18°C in Paris.", trace.GetProperty("messages")[3].GetProperty("content").GetString());
        var span = Assert.Single(trace.GetProperty("spans").EnumerateArray());
        Assert.Equal(("tool", "get_weather", "Paris"), (span.GetProperty("kind").GetString(), span.GetProperty("name").GetString(), span.GetProperty("input").GetProperty("city").GetString()));
        Assert.Equal("18°C", span.GetProperty("output").GetString());
        Assert.Equal(JsonValueKind.Number, trace.GetProperty("usage").GetProperty("prompt_tokens").ValueKind);
    }
}
