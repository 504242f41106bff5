using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Tests.Unit.Providers;

/// <summary>
/// The proxy's readers on wire samples in the documented formats (OpenAI chat completions and its chunk stream, Anthropic
/// messages and its event stream, the Responses API), and the traces they make, read back by the real ingestion parser.
/// </summary>
public sealed class ProxyWireTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    private const string OpenAiToolRequest = """
        {"model":"gpt-4o-mini","temperature":0.2,"stream":true,"stream_options":{"include_usage":true},
         "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
         "messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Weather in Paris?"},
           {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
           {"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":18}"},
           {"role":"user","content":"And in Rome?"}]}
        """;

    // As OpenAI streams a tool call: id and name first, the arguments in fragments, usage in a last chunk without choices.
    private const string OpenAiToolStream =
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Rome\\\"}\"}}]},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n" +
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":61,\"completion_tokens\":17,\"total_tokens\":78,\"prompt_tokens_details\":{\"cached_tokens\":32}}}\n\n" +
        "data: [DONE]\n\n";

    private const string AnthropicStream =
        "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\r\n\r\n" +
        "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n" +
        "event: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n" +
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \"}}\r\n\r\n" +
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"check.\"}}\r\n\r\n" +
        "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n" +
        "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\r\n\r\n" +
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\r\n\r\n" +
        "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}\r\n\r\n" +
        "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":1}\r\n\r\n" +
        "event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\r\n\r\n" +
        "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";

    [Fact]
    public void SseReader_ReadsEventsSplitAtAnyByte_WithCrLfAndComments()
    {
        var bytes = Encoding.UTF8.GetBytes(": keep-alive\n" + AnthropicStream.Replace("check.", "chéck."));
        for (var size = 1; size <= 7; size++)
        {
            var reader = new SseReader();
            var events = new List<SseEvent>();
            for (var at = 0; at < bytes.Length; at += size)
            {
                events.AddRange(reader.Feed(bytes.AsSpan(at, Math.Min(size, bytes.Length - at))));
            }

            Assert.Null(reader.Finish());
            Assert.Equal(12, events.Count);
            Assert.Equal("message_start", events[0].Name);
            Assert.Contains("chéck.", events[4].Data, StringComparison.Ordinal);
            Assert.Equal("message_stop", events[^1].Name);
        }
    }

    [Fact]
    public void SseReader_Finish_GivesTheEventAStreamEndedInside()
    {
        var reader = new SseReader();
        Assert.Empty(reader.Feed("data: {\"a\":1}\ndata: {\"b\":2}"u8));
        var last = reader.Finish();
        Assert.Equal("{\"a\":1}\n{\"b\":2}", last?.Data);
    }

    [Fact]
    public void OpenAiStream_MergesToolCallFragments_UsageFromTheLastChunk_FirstTokenOnTheFirstContent()
    {
        var assembler = new OpenAiChatWire.StreamAssembler();
        var content = Feed(assembler, OpenAiToolStream);

        Assert.Equal([true, true, true, false, false, false], content);
        var answer = assembler.Answer;
        Assert.True(answer.Completed);
        Assert.Equal("gpt-4o-mini-2024-07-18", answer.Model);
        Assert.Equal("tool_calls", answer.FinishReason);
        var call = Assert.Single(answer.ToolCalls);
        Assert.Equal(("call_2", "get_weather", "{\"city\":\"Rome\"}"), (call.Id, call.Name, call.Arguments));
        Assert.Equal((61, 17, 32), (answer.InputTokens, answer.OutputTokens, answer.CachedInputTokens));
    }

    [Fact]
    public void OpenAiStream_CutShort_IsNotCompleted_AndKeepsWhatArrived()
    {
        var assembler = new OpenAiChatWire.StreamAssembler();
        Feed(assembler,
            "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n" +
            "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n");

        Assert.False(assembler.Answer.Completed);
        Assert.Equal("Hello", assembler.Answer.Text.ToString());
    }

    [Fact]
    public void Trace_OfAStreamedOpenAiToolCall_HasTheConversation_ToolSpansWithResults_UsageCostAndTimings()
    {
        var assembler = new OpenAiChatWire.StreamAssembler();
        Feed(assembler, OpenAiToolStream);
        var exchange = Exchange(ProxyProtocol.OpenAiChat, OpenAiToolRequest, assembler.Answer, streamed: true,
            new ProxyCaller("weather-bot", "s-1", "u-1", ["beta", "eu"], "ext-1", "staging"));
        exchange.TimeToFirstTokenMs = 120;

        var trace = Parse(exchange);

        Assert.Equal(("weather-bot", "s-1", "u-1", "ext-1", "staging"), (trace.Name, trace.SessionId, trace.UserId, trace.ExternalId, trace.Environment));
        Assert.Equal(["beta", "eu"], trace.Tags);
        Assert.Equal(("gpt-4o-mini-2024-07-18", "openai"), (trace.Model, trace.Provider));
        Assert.Equal((61, 17), (trace.PromptTokens, trace.CompletionTokens));
        Assert.Equal(ModelPrices.Compute("gpt-4o-mini", 61, 17), trace.Cost);
        Assert.Equal((850d, 120d), (trace.LatencyMs!.Value, trace.TimeToFirstTokenMs!.Value));
        Assert.Equal("And in Rome?", trace.InputPreview);

        var generation = trace.Spans.Single(s => s.Kind == SpanKind.Llm);
        using var input = JsonDocument.Parse(generation.Input!);
        Assert.Equal(5, input.RootElement.GetProperty("messages").GetArrayLength());
        using var output = JsonDocument.Parse(generation.Output!);
        Assert.Equal("call_2", output.RootElement.GetProperty("tool_calls")[0].GetProperty("id").GetString());

        var tools = trace.Spans.Where(s => s.Kind == SpanKind.Tool).ToList();
        Assert.Equal(2, tools.Count);
        Assert.All(tools, t => Assert.Equal("get_weather", t.Name));
        Assert.Equal("{\"city\":\"Paris\"}", tools[0].Input);
        Assert.Equal("{\"temp_c\":18}", tools[0].Output);
        Assert.Equal("{\"city\":\"Rome\"}", tools[1].Input);
        Assert.Null(tools[1].Output);

        using var metadata = JsonDocument.Parse(trace.Metadata!);
        Assert.Equal(0.2, metadata.RootElement.GetProperty("parameters").GetProperty("temperature").GetDouble());
        Assert.Equal("get_weather", metadata.RootElement.GetProperty("tools")[0].GetString());
        Assert.True(metadata.RootElement.GetProperty("proxy").GetProperty("stream").GetBoolean());
        Assert.Equal("tool_calls", metadata.RootElement.GetProperty("finish_reason").GetString());
        Assert.Equal(32, metadata.RootElement.GetProperty("cached_input_tokens").GetInt32());
    }

    [Fact]
    public void Trace_OfANonStreamedOpenAiAnswer_ReadsTheChoiceAndUsage()
    {
        const string body = """
            {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",
             "choices":[{"index":0,"message":{"role":"assistant","content":"It shipped.","refusal":null},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}
            """;
        var answer = OpenAiChatWire.ReadAnswer(JsonDocument.Parse(body).RootElement);
        var trace = Parse(Exchange(ProxyProtocol.OpenAiChat, """{"model":"gpt-4o","messages":[{"role":"user","content":"Where is my order?"}]}""", answer));

        Assert.Equal("It shipped.", trace.OutputPreview);
        Assert.Equal("Where is my order?", trace.InputPreview);
        Assert.Equal(15, trace.TotalTokens);
        Assert.Equal("chat.completions", trace.Name);
        Assert.Null(trace.TimeToFirstTokenMs);
    }

    [Fact]
    public void Trace_OfAnAnthropicStream_TurnsBlocksIntoChat_ToolUseIntoToolCalls_AndCountsCachedInput()
    {
        const string request = """
            {"model":"claude-sonnet-4-20250514","max_tokens":1024,"system":[{"type":"text","text":"Be helpful."}],
             "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],
             "messages":[{"role":"user","content":"Weather in Lima?"},
               {"role":"assistant","content":[{"type":"tool_use","id":"toolu_0","name":"get_weather","input":{"city":"Lima"}}]},
               {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_0","content":"21C"},{"type":"text","text":"And Oslo?"}]}]}
            """;
        var assembler = new AnthropicWire.StreamAssembler();
        var content = Feed(assembler, AnthropicStream);
        Assert.Equal(5, content.Count(c => c)); // the text deltas, the tool_use start, its argument fragments

        var answer = assembler.Answer;
        Assert.True(answer.Completed);
        Assert.Equal(("Let me check.", "tool_use", 30, 42), (answer.Text.ToString(), answer.FinishReason, answer.InputTokens, answer.OutputTokens));

        var trace = Parse(Exchange(ProxyProtocol.AnthropicMessages, request, answer, streamed: true, provider: "anthropic"));
        Assert.Equal(("claude-sonnet-4-20250514", "anthropic", "messages"), (trace.Model, trace.Provider, trace.Name));
        Assert.Equal(ModelPrices.Compute("claude-sonnet-4", 30, 42), trace.Cost);
        Assert.Equal("Let me check.", trace.OutputPreview);
        Assert.Equal("And Oslo?", trace.InputPreview);

        var generation = trace.Spans.Single(s => s.Kind == SpanKind.Llm);
        using var input = JsonDocument.Parse(generation.Input!);
        var roles = input.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()).ToList();
        Assert.Equal(["system", "user", "assistant", "tool", "user"], roles);

        var tools = trace.Spans.Where(s => s.Kind == SpanKind.Tool).ToList();
        Assert.Equal(["{\"city\":\"Lima\"}", "{\"city\":\"Oslo\"}"], tools.Select(t => t.Input));
        Assert.Equal("\"21C\"", tools[0].Output);
    }

    [Fact]
    public void AnthropicAnswer_NonStreamed_ReadsTextAndToolUse()
    {
        const string body = """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022","stop_reason":"end_turn",
             "content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"},{"type":"tool_use","id":"t1","name":"f","input":{"x":1}}],
             "usage":{"input_tokens":9,"output_tokens":4}}
            """;
        var answer = AnthropicWire.ReadAnswer(JsonDocument.Parse(body).RootElement);

        Assert.Equal(("Hi there", "end_turn", 9, 4), (answer.Text.ToString(), answer.FinishReason, answer.InputTokens, answer.OutputTokens));
        Assert.Equal(new ProxyToolCall("t1", "f", "{\"x\":1}"), Assert.Single(answer.ToolCalls));
    }

    [Fact]
    public void ResponsesApi_InputItemsAndOutput_BecomeTheConversation()
    {
        const string request = """
            {"model":"gpt-4.1","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"Sum 2 and 3"}]},
              {"type":"function_call","call_id":"fc_1","name":"add","arguments":"{\"a\":2,\"b\":3}"},
              {"type":"function_call_output","call_id":"fc_1","output":"5"}]}
            """;
        const string completed = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"It is 5.\"}\n\n" +
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-4.1-2025-04-14\",\"status\":\"completed\"," +
            "\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"It is 5.\"}]}],\"usage\":{\"input_tokens\":20,\"output_tokens\":4}}}\n\n";
        var assembler = new OpenAiResponsesWire.StreamAssembler();
        Feed(assembler, completed);

        var trace = Parse(Exchange(ProxyProtocol.OpenAiResponses, request, assembler.Answer, streamed: true));

        Assert.Equal(("It is 5.", "Sum 2 and 3", "gpt-4.1-2025-04-14", 24), (trace.OutputPreview, trace.InputPreview, trace.Model, trace.TotalTokens));
        var tool = trace.Spans.Single(s => s.Kind == SpanKind.Tool);
        Assert.Equal(("add", "\"5\""), (tool.Name, tool.Output));
    }

    [Fact]
    public void Trace_OfAnAbandonedStream_IsTaggedAndMarked_OfAnUpstreamError_CarriesItsMessage()
    {
        var assembler = new OpenAiChatWire.StreamAssembler();
        Feed(assembler, "data: {\"id\":\"c\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once upon\"}}]}\n\n");
        var exchange = Exchange(ProxyProtocol.OpenAiChat, """{"model":"gpt-4o","messages":[{"role":"user","content":"A story"}]}""", assembler.Answer, streamed: true);
        exchange.Abandoned = true;

        var trace = Parse(exchange);
        Assert.Contains(ProxyTraceBuilder.AbandonedTag, trace.Tags);
        Assert.Equal("Once upon", trace.OutputPreview);
        using var metadata = JsonDocument.Parse(trace.Metadata!);
        Assert.True(metadata.RootElement.GetProperty("proxy").GetProperty("abandoned").GetBoolean());
        Assert.False(metadata.RootElement.GetProperty("proxy").GetProperty("complete").GetBoolean());

        var failed = Exchange(ProxyProtocol.OpenAiChat, """{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}""", answer: null);
        failed.Status = 429;
        failed.Error = Wire429;
        var error = Parse(failed);
        Assert.Equal(Wire429, error.Error);
        Assert.Null(error.OutputPreview);
    }

    private const string Wire429 = "429: Rate limit reached for gpt-4o.";

    [Fact]
    public void Trace_OfOddMessages_IsStillStored_NeverRefusedForWhatTheCallerSent()
    {
        const string request = """
            {"model":"gpt-4o","messages":[{"role":"critic","content":{"odd":true},"extra":1},
              {"role":"assistant","tool_calls":[{"id":"x","function":{"arguments":"{}"}}]},{"role":"user","content":"ok","name":42}],
             "response_format":{"type":"json_schema","json_schema":{"name":"big","schema":{"description":"BIG"}}}}
            """;
        var big = request.Replace("BIG", new string('x', 300 * 1024), StringComparison.Ordinal);

        var trace = Parse(Exchange(ProxyProtocol.OpenAiChat, big, answer: null));
        using var metadata = JsonDocument.Parse(trace.Metadata!);
        Assert.True(metadata.RootElement.TryGetProperty("parameters_omitted", out _));
        Assert.Equal("ok", trace.InputPreview);
    }

    [Fact]
    public void ErrorMessage_ReadsBothProvidersErrorBodies()
    {
        Assert.Equal("401: Incorrect API key provided.", ProxyWire.ErrorMessage(401, """{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"""));
        Assert.Equal("529: Overloaded", ProxyWire.ErrorMessage(529, """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""));
        Assert.Equal("502: Bad gateway", ProxyWire.ErrorMessage(502, "Bad gateway"));
    }

    private static List<bool> Feed(IStreamAssembler assembler, string wire)
    {
        var reader = new SseReader();
        return reader.Feed(Encoding.UTF8.GetBytes(wire)).Select(assembler.Add).ToList();
    }

    private static ProxyExchange Exchange(
        ProxyProtocol protocol, string request, ProxyAnswer? answer, bool streamed = false, ProxyCaller? caller = null, string provider = "openai") => new()
    {
        Protocol = protocol,
        Request = JsonDocument.Parse(request).RootElement.Clone(),
        Caller = caller ?? new ProxyCaller(),
        Provider = provider,
        Connection = "main",
        StartedAt = Start,
        LatencyMs = 850,
        Status = 200,
        Streamed = streamed,
        Answer = answer,
    };

    private static Trace Parse(ProxyExchange exchange)
    {
        var json = ProxyTraceBuilder.Build(exchange).ToJsonString();
        var errors = new List<FieldError>();
        var parsed = TraceParser.Parse(JsonDocument.Parse(json).RootElement, "", 0, Start.AddSeconds(5), errors);
        Assert.Empty(errors);
        return parsed!.Trace;
    }
}
