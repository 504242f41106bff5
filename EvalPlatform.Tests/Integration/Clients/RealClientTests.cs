using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Clients;

/// <summary>
/// The official JS clients (LangSmith SDK, OpenTelemetry OTLP exporters; <see cref="RealClients"/>) against the app
/// on a real Kestrel port and PostgreSQL, each trace read back through the API: every span with its parent, the
/// conversation (Chat), the tool calls (Functions), model and tokens (Metadata), and nothing refused.
/// </summary>
public sealed class RealClientTests(RealClientAppFactory app) : IClassFixture<RealClientAppFactory>
{
    private const string SystemPrompt = "You are a support agent. Be brief.";

    public static TheoryData<string> Journeys() => new(RealClients.Journeys);

    [Theory]
    [MemberData(nameof(Journeys))]
    public async Task Journey_ArrivesWhole_WithChatFunctionsAndMetadata(string journey)
    {
        var (reader, key) = await TeamAsync();
        using var _ = reader;
        var runId = TestData.Unique("rc");

        var sent = await RealClients.RunAsync(app.ServerAddress, key, journey, runId);

        AssertClientsHeardNoComplaint(sent);
        var stored = await StoredTracesAsync(reader);
        var trace = Assert.Single(sent.Traces);
        Assert.Equal(journey, trace.Journey);
        Assert.True(stored.Count == 1, $"One trace sent, {stored.Count} stored (a trace split by its spans?): {string.Join(", ", stored.Keys)}");
        var read = await AssertArrivedWholeAsync(reader, stored, trace);
        AssertContent(read, trace, runId);
        await AssertNothingRefusedAsync(reader);
    }

    [Fact]
    public async Task EveryJourney_TwentyTimesInARow_EveryTraceArrivesWhole()
    {
        const int Repeat = 20;
        var (reader, key) = await TeamAsync();
        using var _ = reader;
        var runId = TestData.Unique("rc20");

        var sent = await RealClients.RunAsync(app.ServerAddress, key, "all", runId, Repeat, TimeSpan.FromMinutes(3));

        AssertClientsHeardNoComplaint(sent);
        Assert.Equal(RealClients.Journeys.Length * Repeat, sent.Traces.Count);
        var stored = await StoredTracesAsync(reader);
        var missing = sent.Traces.Where(t => !stored.ContainsKey(t.TraceId)).Select(t => $"{t.Journey} #{t.Iteration}").ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {sent.Traces.Count} traces never arrived: {string.Join(", ", missing)}");
        foreach (var trace in sent.Traces)
        {
            AssertContent(await AssertArrivedWholeAsync(reader, stored, trace), trace, runId);
        }

        Assert.Equal(sent.Traces.Count, stored.Count);
        await AssertNothingRefusedAsync(reader);
    }

    private async Task<(ApiClient Reader, string Key)> TeamAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest, "real clients");
        return (await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read), key.Key);
    }

    /// <summary>The SDKs never fail on a refusal (they log it and drop the runs): so every answer they got is checked.</summary>
    private static void AssertClientsHeardNoComplaint(RealClients.Output sent)
    {
        Assert.True(sent.Warnings.Count == 0, "The clients logged problems:\n" + string.Join("\n", sent.Warnings));
        Assert.NotEmpty(sent.Exchanges);
        foreach (var e in sent.Exchanges)
        {
            Assert.True(e.Status is 200 or 202, $"{e.Door} {e.Method} {e.Path} answered {e.Status}: {e.Body}");
            if (e.Door == "langsmith" && e.Path.Contains("/runs", StringComparison.Ordinal))
            {
                var skipped = JsonDocument.Parse(e.Body).RootElement.GetProperty("skipped");
                Assert.True(skipped.GetArrayLength() == 0, $"{e.Method} {e.Path} skipped runs: {skipped}");
            }
        }
    }

    /// <summary>The team's traces by external id (the client's trace id), every page.</summary>
    private static async Task<Dictionary<string, JsonElement>> StoredTracesAsync(ApiClient reader)
    {
        var traces = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        string? cursor = null;
        do
        {
            var page = await reader.GetJsonAsync("/api/v1/traces?limit=200" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                traces.Add(item.GetProperty("external_id").GetString()!, item);
            }

            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        return traces;
    }

    /// <summary>
    /// The trace is stored as sent: one trace, every span once with its name and its parent, every span ended
    /// and never before its start. Returns the trace as read, its spans keyed by the client's span ids.
    /// </summary>
    private static async Task<ReadTrace> AssertArrivedWholeAsync(ApiClient reader, Dictionary<string, JsonElement> stored, RealClients.SentTrace sent)
    {
        var what = $"{sent.Journey} #{sent.Iteration} (trace {sent.TraceId})";
        Assert.True(stored.TryGetValue(sent.TraceId, out var item), $"{what} was not stored.");
        var trace = await reader.GetJsonAsync($"/api/v1/traces/{item.GetProperty("id").GetGuid()}");
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        var byId = spans.ToDictionary(s => s.GetProperty("id").GetGuid());
        var byExternal = spans.ToDictionary(s => s.GetProperty("external_id").GetString()!, StringComparer.OrdinalIgnoreCase);
        Assert.True(spans.Count == sent.Spans.Count,
            $"{what}: {spans.Count} spans stored ({string.Join(", ", byExternal.Keys)}), {sent.Spans.Count} sent.");
        foreach (var span in sent.Spans)
        {
            Assert.True(byExternal.TryGetValue(span.Id, out var s), $"{what}: span {span.Name} ({span.Id}) is missing.");
            Assert.Equal(span.Name, s.GetProperty("name").GetString());
            var parent = s.GetProperty("parent_id").ValueKind == JsonValueKind.Null
                ? null
                : byId[s.GetProperty("parent_id").GetGuid()].GetProperty("external_id").GetString();
            Assert.True(string.Equals(span.ParentId, parent, StringComparison.OrdinalIgnoreCase),
                $"{what}: span {span.Name} has parent {parent ?? "(none)"}, sent {span.ParentId ?? "(none)"}.");
            Assert.True(s.GetProperty("end_time").ValueKind == JsonValueKind.String, $"{what}: span {span.Name} has no end.");
            Assert.True(s.GetProperty("end_time").GetDateTimeOffset() >= s.GetProperty("start_time").GetDateTimeOffset(), $"{what}: span {span.Name} ends before it starts.");
        }

        return new ReadTrace(trace, byExternal);
    }

    private sealed record ReadTrace(JsonElement Trace, Dictionary<string, JsonElement> Spans)
    {
        public JsonElement Span(RealClients.SentTrace sent, string name, int index = 0) =>
            Spans[sent.Spans.Where(s => s.Name == name).ElementAt(index).Id];
    }

    /// <summary>What each journey said, read back: the Chat (model call messages), Functions (tool spans) and Metadata.</summary>
    private static void AssertContent(ReadTrace read, RealClients.SentTrace sent, string runId)
    {
        var n = sent.Order;
        var question = $"Where is order {n}?";
        var t = read.Trace;
        Assert.Contains($"run:{runId}", t.GetProperty("tags").EnumerateArray().Select(x => x.GetString()));
        foreach (var span in read.Spans.Values.Where(s => s.GetProperty("attributes").ValueKind == JsonValueKind.Object))
        {
            // The JS SDK's empty bookkeeping ("child_runs": [], "serialized": {}) is not stored.
            Assert.False(span.GetProperty("attributes").TryGetProperty("child_runs", out _), $"{sent.Journey}: child_runs kept on {span.GetProperty("name")}");
        }

        switch (sent.Journey)
        {
            case "langsmith-runtree" or "langsmith-out-of-order" or "langsmith-unbatched":
            {
                var root = read.Span(sent, "support-agent");
                Assert.Equal("chain", root.GetProperty("kind").GetString());
                Assert.Equal(question, root.GetProperty("input").GetProperty("question").GetString());
                Assert.Equal($"Order {n} has shipped.", root.GetProperty("output").GetProperty("answer").GetString());
                var llm = read.Span(sent, "ChatOpenAI");
                AssertConversation(llm, [("system", SystemPrompt), ("user", question)]);
                AssertToolCallAnswer(llm, n);
                AssertModelCall(llm, "gpt-4o-mini", 31, 12);
                AssertLookup(read.Span(sent, "lookup_order"), n);
                AssertTotals(t, "gpt-4o-mini", 31, 12);
                if (sent.Journey == "langsmith-runtree")
                {
                    Assert.Equal($"thread-{runId}", t.GetProperty("session_id").GetString());
                    Assert.Equal("user-7", t.GetProperty("user_id").GetString());
                }

                break;
            }

            case "langsmith-traceable":
            {
                var first = read.Span(sent, "ChatOpenAI");
                AssertConversation(first, [("system", SystemPrompt), ("user", question)]);
                AssertToolCallAnswer(first, n);
                AssertModelCall(first, "gpt-4o-mini", 22, 10);
                AssertLookup(read.Span(sent, "lookup_order"), n);
                var second = read.Span(sent, "ChatOpenAI", 1);
                AssertConversation(second, [("system", SystemPrompt), ("user", question), ("assistant", null), ("tool", $"{{\"order_id\":{n},\"status\":\"shipped\"}}")]);
                var messages = second.GetProperty("input").GetProperty("messages");
                Assert.Equal($"call_{n}", messages[2].GetProperty("tool_calls")[0].GetProperty("id").GetString());
                Assert.Equal($"call_{n}", messages[3].GetProperty("tool_call_id").GetString());
                Assert.Equal($"Order {n} has shipped.", second.GetProperty("output").GetProperty("content").GetString());
                AssertModelCall(second, "gpt-4o-mini", 24, 10);
                var response = second.GetProperty("attributes").GetProperty("response");
                Assert.Equal((JsonValueKind.String, $"chatcmpl-{n}"), (response.GetProperty("id").ValueKind, response.GetProperty("id").GetString()));
                Assert.Equal(("gpt-4o-mini-2024-07-18", "stop"), (response.GetProperty("model").GetString(), response.GetProperty("finish_reason").GetString()));
                Assert.Equal($"Order {n} has shipped.", read.Span(sent, "support-agent").GetProperty("output").GetProperty("answer").GetString());
                AssertTotals(t, "gpt-4o-mini", 46, 20);
                Assert.Equal($"thread-{runId}", t.GetProperty("session_id").GetString());
                break;
            }

            case "langsmith-same-ms":
                Assert.Equal(n, read.Span(sent, "pipeline").GetProperty("input").GetProperty("order_id").GetInt32());
                Assert.Equal("shipped", read.Span(sent, "pipeline").GetProperty("output").GetProperty("status").GetString());
                Assert.Equal("chain", read.Span(sent, "normalise").GetProperty("kind").GetString());
                AssertLookup(read.Span(sent, "lookup_order"), n);
                break;

            case "otlp-proto" or "otlp-json" or "otlp-proto-messages":
            {
                Assert.Equal("chain", read.Span(sent, "invoke_agent support-agent").GetProperty("kind").GetString());
                var llm = read.Span(sent, "chat gpt-4o-mini");
                AssertConversation(llm, [("system", SystemPrompt), ("user", question)]);
                AssertToolCallAnswer(llm, n);
                AssertModelCall(llm, "gpt-4o-mini-2024-07-18", 31, 12);
                AssertLookup(read.Span(sent, "lookup_order"), n);
                AssertTotals(t, "gpt-4o-mini-2024-07-18", 31, 12);
                Assert.Equal($"thread-{runId}", t.GetProperty("session_id").GetString());
                Assert.Equal("user-7", t.GetProperty("user_id").GetString());
                Assert.Equal("staging", t.GetProperty("environment").GetString());
                Assert.Equal("1.4.2", t.GetProperty("release").GetString());
                break;
            }

            default:
                Assert.Fail($"No expectations for journey '{sent.Journey}'.");
                break;
        }
    }

    /// <summary>The Chat tab's input: the model call's messages, in order (a null text is not checked).</summary>
    private static void AssertConversation(JsonElement llm, (string Role, string? Text)[] expected)
    {
        Assert.Equal("llm", llm.GetProperty("kind").GetString());
        var messages = llm.GetProperty("input").GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(expected.Select(e => e.Role), messages.Select(m => m.GetProperty("role").GetString()));
        foreach (var (message, (_, text)) in messages.Zip(expected))
        {
            if (text is not null)
            {
                Assert.Equal(text, message.GetProperty("content").GetString());
            }
        }
    }

    /// <summary>The Chat tab's response: the assistant asks for lookup_order({"order_id": n}).</summary>
    private static void AssertToolCallAnswer(JsonElement llm, int n)
    {
        var output = llm.GetProperty("output");
        Assert.Equal("assistant", output.GetProperty("role").GetString());
        var call = Assert.Single(output.GetProperty("tool_calls").EnumerateArray().ToList());
        Assert.Equal($"call_{n}", call.GetProperty("id").GetString());
        Assert.Equal("lookup_order", call.GetProperty("function").GetProperty("name").GetString());
        var arguments = JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement;
        Assert.Equal(n, arguments.GetProperty("order_id").GetInt32());
    }

    private static void AssertModelCall(JsonElement llm, string model, int prompt, int completion)
    {
        Assert.Equal(model, llm.GetProperty("model").GetString());
        Assert.Equal("openai", llm.GetProperty("provider").GetString());
        Assert.Equal(prompt, llm.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(completion, llm.GetProperty("completion_tokens").GetInt32());
    }

    /// <summary>The Functions tab: the tool span with its arguments and result.</summary>
    private static void AssertLookup(JsonElement tool, int n)
    {
        Assert.Equal("tool", tool.GetProperty("kind").GetString());
        Assert.Equal(n, tool.GetProperty("input").GetProperty("order_id").GetInt32());
        Assert.Equal(n, tool.GetProperty("output").GetProperty("order_id").GetInt32());
        Assert.Equal("shipped", tool.GetProperty("output").GetProperty("status").GetString());
    }

    /// <summary>The Metadata tab's summary of the trace.</summary>
    private static void AssertTotals(JsonElement trace, string model, int prompt, int completion)
    {
        Assert.Equal(model, trace.GetProperty("model").GetString());
        Assert.Equal("openai", trace.GetProperty("provider").GetString());
        Assert.Equal(prompt, trace.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(completion, trace.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(prompt + completion, trace.GetProperty("total_tokens").GetInt32());
    }

    /// <summary>
    /// The team's ingestion issue log lists no refusal. Adjustments (an end moved onto its start) are allowed:
    /// they are the tolerance ADR 12 grants, and each must name a span the app stored.
    /// </summary>
    private static async Task AssertNothingRefusedAsync(ApiClient reader)
    {
        var issues = (await reader.GetJsonAsync("/api/v1/ingestion/issues?limit=200")).GetProperty("items").EnumerateArray().ToList();
        var refused = issues.Where(i => i.GetProperty("kind").GetString() != "adjusted").ToList();
        Assert.True(refused.Count == 0, "Ingestion refused: " + string.Join("\n", refused.Select(i => i.GetRawText())));
        Assert.All(issues, i => Assert.Equal("end_time", i.GetProperty("field").GetString()));
    }
}

/// <summary>The app on a real Kestrel port (the clients are other processes) and its own PostgreSQL database.</summary>
public sealed class RealClientAppFactory() : EvalAppFactory(TestDatabase.Postgres, kestrel: true);
