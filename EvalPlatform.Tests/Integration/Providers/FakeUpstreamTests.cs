using System.Net;
using System.Text;
using System.Text.Json;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>The fake upstreams speak the documented wire formats (so tests against them mean something).</summary>
public sealed class FakeUpstreamTests : IAsyncLifetime
{
    private FakeOpenAiServer _openAi = default!;
    private FakeAnthropicServer _anthropic = default!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync()
    {
        _openAi = await FakeOpenAiServer.StartNewAsync();
        _anthropic = await FakeAnthropicServer.StartNewAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _openAi.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private Task<HttpResponseMessage> OpenAiAsync(object body, string key = FakeOpenAiServer.Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{_openAi.BaseUrl}/chat/completions") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        request.Headers.Add("Authorization", $"Bearer {key}");
        return _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private Task<HttpResponseMessage> AnthropicAsync(object body, string key = FakeAnthropicServer.Key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{_anthropic.BaseUrl}/v1/messages") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        return _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static List<string> DataLines(string sse) =>
        sse.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l["data: ".Length..]).ToList();

    [Fact]
    public async Task OpenAi_StreamsChunkByChunk_WithUsageLast_AndDone()
    {
        _openAi.NextText("one two three");
        var response = await OpenAiAsync(new { model = "gpt-4o-mini", stream = true, stream_options = new { include_usage = true }, messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var data = DataLines(await response.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", data[^1]);
        var chunks = data[..^1].Select(d => JsonDocument.Parse(d).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var text = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta")).Where(d => d.TryGetProperty("content", out _)).Select(d => d.GetProperty("content").GetString()));
        Assert.Equal("one two three", text);
        Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
        Assert.Equal(3, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal("hi", _openAi.Requests[^1].Json.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task OpenAi_AnswersToolCalls_AndErrorsInItsShape()
    {
        _openAi.NextToolCall("get_weather", """{"city":"Paris"}""");
        var json = JsonDocument.Parse(await (await OpenAiAsync(new { model = "gpt-4o", messages = new[] { new { role = "user", content = "weather?" } } })).Content.ReadAsStringAsync()).RootElement;
        var choice = json.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("""{"city":"Paris"}""", choice.GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());

        var unauthorized = await OpenAiAsync(new { model = "gpt-4o", messages = Array.Empty<object>() }, "sk-wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal("invalid_api_key", JsonDocument.Parse(await unauthorized.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());

        _openAi.NextError(429, retryAfter: "7");
        var limited = await OpenAiAsync(new { model = "gpt-4o", messages = Array.Empty<object>() });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), limited.Headers.RetryAfter!.Delta);
    }

    [Fact]
    public async Task OpenAi_DroppedStream_EndsWithoutDone()
    {
        _openAi.Next(new FakeReply(Text: "a b c d e", DropAfterChunks: 2));
        var response = await OpenAiAsync(new { model = "gpt-4o", stream = true, messages = new[] { new { role = "user", content = "x" } } });
        var read = new StringBuilder();
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line)
            {
                read.AppendLine(line);
            }

            // A clean end would have carried [DONE]; reaching here without it is the same failure for the caller.
            throw new IOException("ended");
        });
        Assert.DoesNotContain("[DONE]", read.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Anthropic_StreamsItsEventsInOrder_WithToolUse()
    {
        _anthropic.Next(new FakeReply(Text: "Let me check.", ToolCall: new FakeToolCall("get_weather", """{"city":"Paris"}""")));
        var response = await AnthropicAsync(new { model = "claude-sonnet-4-20250514", max_tokens = 100, stream = true, messages = new[] { new { role = "user", content = "weather?" } } });
        var sse = await response.Content.ReadAsStringAsync();
        var events = sse.Split('\n').Where(l => l.StartsWith("event: ", StringComparison.Ordinal)).Select(l => l["event: ".Length..]).Where(e => e != "ping").Distinct().ToList();
        Assert.Equal(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"], events);
        var data = DataLines(sse).Select(d => JsonDocument.Parse(d).RootElement).ToList();
        var json = string.Concat(data.Where(d => d.GetProperty("type").GetString() == "content_block_delta" && d.GetProperty("delta").GetProperty("type").GetString() == "input_json_delta")
            .Select(d => d.GetProperty("delta").GetProperty("partial_json").GetString()));
        Assert.Equal("""{"city":"Paris"}""", json);
        Assert.Equal("tool_use", data.Single(d => d.GetProperty("type").GetString() == "message_delta").GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(10, data[0].GetProperty("message").GetProperty("usage").GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task Anthropic_ChecksItsKey_AndAnswersErrorsInItsShape()
    {
        var unauthorized = await AnthropicAsync(new { model = "claude-sonnet-4-20250514", max_tokens = 10, messages = Array.Empty<object>() }, "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        var error = JsonDocument.Parse(await unauthorized.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("authentication_error", error.GetProperty("error").GetProperty("type").GetString());

        _anthropic.NextError(500);
        Assert.Equal(HttpStatusCode.InternalServerError, (await AnthropicAsync(new { model = "claude-sonnet-4-20250514", max_tokens = 10, messages = Array.Empty<object>() })).StatusCode);
        var answered = JsonDocument.Parse(await (await AnthropicAsync(new { model = "claude-sonnet-4-20250514", max_tokens = 10, messages = Array.Empty<object>() })).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(FakeUpstreamServer.DefaultText, answered.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("2023-06-01", _anthropic.Requests[^1].Headers["anthropic-version"]);
    }
}
