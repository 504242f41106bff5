using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Client.Tests;

public sealed class TraceBuilderTests
{
    [Fact]
    public void Build_WritesTheSimpleShape_InSnakeCase_WithoutNulls()
    {
        var trace = new TraceBuilder()
            .WithName("support-chat").WithSystemPrompt("You are a support agent.").WithUserInput("Where is my order?")
            .WithResponse("It shipped.").WithModel("gpt-4o-mini", "openai").WithUsage(812, 64).WithCost(0.00016m)
            .WithLatency(TimeSpan.FromMilliseconds(930)).WithTimeToFirstToken(TimeSpan.FromMilliseconds(210))
            .WithSession("s-1").WithUser("u-1").WithEnvironment("production", "v1.2").WithTags("support", "eu").WithTags("support")
            .WithExperiment("prompt-v2", "b").WithMetadata("region", "eu").WithMetadata("attempt", 2)
            .AddFunctionCall("lookup_order", new { id = 1234 }, new { status = "shipped" }, TimeSpan.FromMilliseconds(42))
            .Build();

        var json = JsonSerializer.SerializeToElement(trace, EvalJson.Options);

        Assert.Equal("support-chat", json.GetProperty("name").GetString());
        Assert.Equal("You are a support agent.", json.GetProperty("system_prompt").GetString());
        Assert.Equal("Where is my order?", json.GetProperty("user_input").GetString());
        Assert.Equal("It shipped.", json.GetProperty("response").GetString());
        Assert.Equal(("gpt-4o-mini", "openai"), (json.GetProperty("model").GetString(), json.GetProperty("provider").GetString()));
        Assert.Equal(812, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(64, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.False(json.GetProperty("usage").TryGetProperty("total_tokens", out _));
        Assert.Equal(0.00016m, json.GetProperty("cost").GetDecimal());
        Assert.Equal(930, json.GetProperty("latency_ms").GetDouble());
        Assert.Equal(210, json.GetProperty("time_to_first_token_ms").GetDouble());
        Assert.Equal(("s-1", "u-1"), (json.GetProperty("session_id").GetString(), json.GetProperty("user_id").GetString()));
        Assert.Equal(("production", "v1.2"), (json.GetProperty("environment").GetString(), json.GetProperty("release").GetString()));
        Assert.Equal(["support", "eu"], json.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(("prompt-v2", "b"), (json.GetProperty("experiment").GetString(), json.GetProperty("variant").GetString()));
        Assert.Equal(2, json.GetProperty("metadata").GetProperty("attempt").GetInt32());
        var call = json.GetProperty("function_calls")[0];
        Assert.Equal("lookup_order", call.GetProperty("name").GetString());
        Assert.Equal(1234, call.GetProperty("parameters").GetProperty("id").GetInt32());
        Assert.Equal("shipped", call.GetProperty("result").GetProperty("status").GetString());
        Assert.Equal(42, call.GetProperty("execution_time_ms").GetDouble());
        Assert.False(call.TryGetProperty("error", out _));
        Assert.False(json.TryGetProperty("messages", out _));
        Assert.False(json.TryGetProperty("error", out _));
    }

    [Fact]
    public void ExternalId_IsANewUuidByDefault()
    {
        var first = new TraceBuilder().Build().ExternalId;
        var second = new TraceBuilder().Build().ExternalId;

        Assert.True(Guid.TryParse(first, out _));
        Assert.NotEqual(first, second);
        Assert.Equal("req-42", new TraceBuilder().WithExternalId("req-42").Build().ExternalId);
    }

    [Fact]
    public async Task StartEnd_AndRecordFunctionCall_TimeWithTheGivenClock()
    {
        var time = new FakeTimeProvider();
        var start = time.GetUtcNow();
        var builder = new TraceBuilder(time).Start();

        var result = await builder.RecordFunctionCallAsync("lookup_order", new { id = 7 }, _ =>
        {
            time.Advance(TimeSpan.FromMilliseconds(42));
            return Task.FromResult("shipped");
        });
        var failure = new TimeoutException("smtp timeout");
        var thrown = await Assert.ThrowsAsync<TimeoutException>(() => builder.RecordFunctionCallAsync<string>("send_email", null, _ =>
        {
            time.Advance(TimeSpan.FromMilliseconds(8));
            throw failure;
        }));
        time.Advance(TimeSpan.FromMilliseconds(50));
        var trace = builder.End().Build();

        Assert.Equal("shipped", result);
        Assert.Same(failure, thrown);
        Assert.Equal(start, trace.StartTime);
        Assert.Equal(start.AddMilliseconds(100), trace.EndTime);
        Assert.Equal(100, trace.LatencyMs);
        Assert.Equal(2, trace.FunctionCalls!.Count);
        Assert.Equal((42.0, (object?)"shipped"), (trace.FunctionCalls[0].ExecutionTimeMs!.Value, trace.FunctionCalls[0].Result));
        Assert.Equal(8, trace.FunctionCalls[1].ExecutionTimeMs);
        Assert.Equal("TimeoutException: smtp timeout", trace.FunctionCalls[1].Error);
    }
}
