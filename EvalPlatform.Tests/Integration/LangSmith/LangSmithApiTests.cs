using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>The LangSmith-compatible API end to end, with the SDK's own wire shapes, on each database.</summary>
public abstract class LangSmithApiTests(EvalAppFactory app)
{
    private const string Base = "/api/langsmith";
    private static readonly DateTimeOffset T0 = new(2026, 8, 20, 10, 0, 0, TimeSpan.Zero);

    /// <summary>A client that sends its key as the SDK does (<c>x-api-key</c>), plus a reader for the team.</summary>
    private async Task<(HttpClient Sdk, ApiClient Reader, TestTeam Team)> ClientsAsync(ApiKeyScopes scopes = ApiKeyScopes.Ingest)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, scopes);
        var sdk = app.CreateClient();
        sdk.DefaultRequestHeaders.Add("x-api-key", key.Key);
        return (sdk, await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read), team);
    }

    private static string Id(int offsetMs) => Uuid7.Create(T0.AddMilliseconds(offsetMs)).ToString();

    private static async Task<HttpResponseMessage> SendAsync(HttpClient sdk, LangSmithWire wire) => await sdk.PostAsync($"{Base}/runs/multipart", wire.ToContent());

    private static async Task AssertStatusAsync(HttpStatusCode expected, HttpResponseMessage response) =>
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");

    private static async Task<JsonElement> TraceByExternalIdAsync(ApiClient reader, string externalId)
    {
        var list = await reader.GetJsonAsync("/api/v1/traces?limit=200");
        var item = list.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("external_id").GetString() == externalId);
        return await reader.GetJsonAsync($"/api/v1/traces/{item.GetProperty("id").GetString()}");
    }

    private static JsonElement SpanByExternalId(JsonElement trace, string id) =>
        trace.GetProperty("spans").EnumerateArray().Single(s => s.GetProperty("external_id").GetString() == id);

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Info_AdvertisesMultipart_NoZstd_AndTheBatchLimits()
    {
        using var anonymous = app.CreateClient();
        var info = await anonymous.GetFromJsonAsync<JsonElement>($"{Base}/info");

        var config = info.GetProperty("batch_ingest_config");
        Assert.True(config.GetProperty("use_multipart_endpoint").GetBoolean());
        Assert.Equal(100, config.GetProperty("size_limit").GetInt32());
        Assert.Equal(16 * 1024 * 1024, config.GetProperty("size_limit_bytes").GetInt64());
        Assert.False(info.GetProperty("instance_flags").GetProperty("zstd_compression_enabled").GetBoolean());
        Assert.Equal(JsonValueKind.String, info.GetProperty("version").ValueKind);
    }

    [Fact]
    public async Task Multipart_ChildrenFirst_ThenRoot_AssembleOneTrace_WithChatFunctionsAndMetadata()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "support-agent", "chain", T0, null, new JsonObject { ["question"] = "Weather in Paris?" },
            metadata: new JsonObject { ["thread_id"] = "thread-7", ["user_id"] = "u-42" });
        root["tags"] = new JsonArray("beta");
        var rootRef = (rootId, root["dotted_order"]!.GetValue<string>(), rootId);

        var llmId = Id(10);
        var llm = LangSmithWire.Run(llmId, "ChatAnthropic", "llm", T0.AddMilliseconds(10), rootRef, new JsonObject
        {
            ["system"] = "Be brief.",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" }),
        }, metadata: new JsonObject { ["ls_provider"] = "anthropic", ["ls_model_name"] = "claude-sonnet-4" });
        var llmPatch = new JsonObject
        {
            ["id"] = llmId, ["trace_id"] = rootId, ["parent_run_id"] = rootId, ["dotted_order"] = llm["dotted_order"]!.GetValue<string>(),
            ["run_type"] = "llm", ["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(510)),
            ["outputs"] = new JsonObject
            {
                ["role"] = "assistant", ["type"] = "message",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "Checking the weather." },
                    new JsonObject { ["type"] = "tool_use", ["id"] = "tu_1", ["name"] = "get_weather", ["input"] = new JsonObject { ["city"] = "Paris" } }),
                ["usage_metadata"] = new JsonObject { ["input_tokens"] = 120, ["output_tokens"] = 30, ["total_tokens"] = 150, ["total_cost"] = 0.0021 },
            },
            ["events"] = new JsonArray(
                new JsonObject { ["name"] = "start", ["time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(10)) },
                new JsonObject { ["name"] = "new_token", ["time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(250)), ["kwargs"] = new JsonObject { ["token"] = "Check" } }),
        };

        var toolId = Id(520);
        var tool = LangSmithWire.Run(toolId, "get_weather", "tool", T0.AddMilliseconds(520), rootRef, new JsonObject { ["city"] = "Paris" });
        tool["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(562));
        tool["outputs"] = new JsonObject { ["output"] = "18C and sunny" };

        // Request 1: the children (the llm's post and patch in one request, the tool already complete).
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", llm).AddRun("patch", llmPatch).AddRun("post", tool)));
        // Request 2: the root's post; request 3: its patch.
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", root)));
        var rootPatch = new JsonObject
        {
            ["id"] = rootId, ["trace_id"] = rootId, ["dotted_order"] = root["dotted_order"]!.GetValue<string>(),
            ["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(600)), ["outputs"] = new JsonObject { ["answer"] = "18C and sunny." },
        };
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("patch", rootPatch)));

        var trace = await TraceByExternalIdAsync(reader, rootId);
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(3, spans.Count);
        var rootSpan = SpanByExternalId(trace, rootId);
        var llmSpan = SpanByExternalId(trace, llmId);
        var toolSpan = SpanByExternalId(trace, toolId);
        Assert.Equal(JsonValueKind.Null, rootSpan.GetProperty("parent_id").ValueKind);
        Assert.Equal(rootSpan.GetProperty("id").GetString(), llmSpan.GetProperty("parent_id").GetString());
        Assert.Equal(rootSpan.GetProperty("id").GetString(), toolSpan.GetProperty("parent_id").GetString());
        Assert.Equal("support-agent", trace.GetProperty("name").GetString());

        // Chat: the llm span, OpenAI-format messages and the assistant message with its tool call.
        Assert.Equal("llm", llmSpan.GetProperty("kind").GetString());
        var messages = llmSpan.GetProperty("input").GetProperty("messages");
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal("Weather in Paris?", messages[1].GetProperty("content").GetString());
        var response = llmSpan.GetProperty("output");
        Assert.Equal("Checking the weather.", response.GetProperty("content").GetString());
        Assert.Equal("get_weather", response.GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(500, llmSpan.GetProperty("duration_ms").GetDouble());
        Assert.Equal("claude-sonnet-4", llmSpan.GetProperty("model").GetString());
        Assert.Equal("anthropic", llmSpan.GetProperty("provider").GetString());
        Assert.Equal(120, llmSpan.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(0.0021m, llmSpan.GetProperty("cost").GetDecimal());

        // Functions: the tool span with its arguments, result and timing.
        Assert.Equal("tool", toolSpan.GetProperty("kind").GetString());
        Assert.Equal("Paris", toolSpan.GetProperty("input").GetProperty("city").GetString());
        Assert.Equal("18C and sunny", toolSpan.GetProperty("output").GetString());
        Assert.Equal(42, toolSpan.GetProperty("duration_ms").GetDouble());

        // Metadata: model, provider, tokens, cost, time to first token, session, user, project tag.
        Assert.Equal("claude-sonnet-4", trace.GetProperty("model").GetString());
        Assert.Equal("anthropic", trace.GetProperty("provider").GetString());
        Assert.Equal(120, trace.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(30, trace.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(0.0021m, trace.GetProperty("cost").GetDecimal());
        Assert.Equal(240, trace.GetProperty("time_to_first_token_ms").GetDouble());
        Assert.Equal("thread-7", trace.GetProperty("session_id").GetString());
        Assert.Equal("u-42", trace.GetProperty("user_id").GetString());
        var tags = trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Contains("project:support-bot", tags);
        Assert.Contains("beta", tags);
        Assert.Equal("support-bot", trace.GetProperty("metadata").GetProperty("langsmith_project").GetString());
        Assert.Equal(600, trace.GetProperty("latency_ms").GetDouble());
        Assert.Equal("langsmith-py", rootSpan.GetProperty("attributes").GetProperty("extra").GetProperty("runtime").GetProperty("sdk").GetString());
    }

    [Fact]
    public async Task Batch_PostAndPatchArrays_MergeIntoOneTrace()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "pipeline", "chain", T0, null, new JsonObject { ["input"] = "hi" });
        var llmId = Id(5);
        var llm = LangSmithWire.Run(llmId, "ChatOpenAI", "llm", T0.AddMilliseconds(5), (rootId, root["dotted_order"]!.GetValue<string>(), rootId),
            new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) },
            metadata: new JsonObject { ["ls_provider"] = "openai", ["ls_model_name"] = "gpt-4o" });
        var patch = new JsonObject
        {
            ["id"] = llmId, ["trace_id"] = rootId, ["dotted_order"] = llm["dotted_order"]!.GetValue<string>(), ["parent_run_id"] = rootId,
            ["end_time"] = LangSmithWire.IsoTime(T0.AddSeconds(1)),
            ["outputs"] = new JsonObject { ["choices"] = new JsonArray(new JsonObject { ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "Hello!" } }) },
        };

        var response = await sdk.PostAsJsonAsync($"{Base}/runs/batch", new JsonObject { ["post"] = new JsonArray(root, llm), ["patch"] = new JsonArray(patch) });
        await AssertStatusAsync(HttpStatusCode.Accepted, response);

        var trace = await TraceByExternalIdAsync(reader, rootId);
        var llmSpan = SpanByExternalId(trace, llmId);
        Assert.Equal(2, trace.GetProperty("spans").GetArrayLength());
        Assert.Equal("hi", llmSpan.GetProperty("input").GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("Hello!", llmSpan.GetProperty("output").GetProperty("content").GetString());
        Assert.Equal("gpt-4o", trace.GetProperty("model").GetString());
    }

    [Fact]
    public async Task SingleRunEndpoints_PostThenPatch_Merge_WithoutTraceIds()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var childId = Id(100);
        // The reference's minimal shapes: no trace_id, no dotted_order; the child names only its parent.
        await AssertStatusAsync(HttpStatusCode.Accepted, await sdk.PostAsJsonAsync($"{Base}/runs", new JsonObject
        {
            ["id"] = rootId, ["name"] = "agent", ["run_type"] = "chain", ["inputs"] = new JsonObject { ["q"] = "hi" },
            ["start_time"] = "2026-08-20T10:00:00.000Z", ["session_name"] = "support-bot",
        }));
        await AssertStatusAsync(HttpStatusCode.Accepted, await sdk.PostAsJsonAsync($"{Base}/runs", new JsonObject
        {
            ["id"] = childId, ["name"] = "OpenAI Call", ["run_type"] = "llm", ["parent_run_id"] = rootId, ["start_time"] = "2026-08-20T10:00:00.100Z",
            ["inputs"] = new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }) },
            ["extra"] = new JsonObject { ["metadata"] = new JsonObject { ["ls_provider"] = "openai", ["ls_model_name"] = "gpt-4o" } },
        }));
        // A patch without run_type or trace_id: the stored run gives both, so its outputs still read as the response.
        await AssertStatusAsync(HttpStatusCode.Accepted, await sdk.PatchAsJsonAsync($"{Base}/runs/{childId}", new JsonObject
        {
            ["outputs"] = new JsonObject
            {
                ["choices"] = new JsonArray(new JsonObject { ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "Hello!" } }),
                ["usage_metadata"] = new JsonObject { ["input_tokens"] = 27, ["output_tokens"] = 13, ["total_tokens"] = 40 },
            },
            ["end_time"] = "2026-08-20T10:00:01.234Z",
        }));
        await AssertStatusAsync(HttpStatusCode.Accepted, await sdk.PatchAsJsonAsync($"{Base}/runs/{rootId}", new JsonObject
        {
            ["outputs"] = new JsonObject { ["a"] = "Hello!" }, ["end_time"] = "2026-08-20T10:00:01.300Z",
        }));

        var trace = await TraceByExternalIdAsync(reader, rootId);
        var child = SpanByExternalId(trace, childId);
        Assert.Equal(2, trace.GetProperty("spans").GetArrayLength());
        Assert.Equal(SpanByExternalId(trace, rootId).GetProperty("id").GetString(), child.GetProperty("parent_id").GetString());
        Assert.Equal("Hi", child.GetProperty("input").GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("Hello!", child.GetProperty("output").GetProperty("content").GetString());
        Assert.Equal(1134, child.GetProperty("duration_ms").GetDouble());
        Assert.Equal(40, trace.GetProperty("total_tokens").GetInt32());
        Assert.Equal(1300, trace.GetProperty("latency_ms").GetDouble());
    }

    [Fact]
    public async Task PatchBeforeItsPost_WaitsAsAPlaceholder_ThenMerges()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" });
        var patch = new JsonObject
        {
            ["id"] = rootId, ["trace_id"] = rootId, ["dotted_order"] = root["dotted_order"]!.GetValue<string>(), ["run_type"] = "chain",
            ["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(700)), ["outputs"] = new JsonObject { ["answer"] = "hello" },
        };

        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("patch", patch)));
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", root)));

        var trace = await TraceByExternalIdAsync(reader, rootId);
        var span = trace.GetProperty("spans").EnumerateArray().Single();
        Assert.Equal("agent", span.GetProperty("name").GetString());
        Assert.Equal("hi", span.GetProperty("input").GetProperty("q").GetString());
        Assert.Equal("hello", span.GetProperty("output").GetProperty("answer").GetString());
        Assert.Equal(700, trace.GetProperty("latency_ms").GetDouble());
    }

    [Fact]
    public async Task PatchForUnknownRun_WithoutTraceId_Is404()
    {
        var (sdk, _, _) = await ClientsAsync();
        var response = await sdk.PatchAsJsonAsync($"{Base}/runs/{Id(1)}", new JsonObject { ["end_time"] = "2026-08-20T10:00:01Z" });
        await AssertStatusAsync(HttpStatusCode.NotFound, response);
    }

    [Fact]
    public async Task DuplicatePost_Is409_AndNothingIsDoubled()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "agent", "chain", T0, null, new JsonObject { ["q"] = "first" });
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", root)));

        var again = root.DeepClone().AsObject();
        again["inputs"] = new JsonObject { ["q"] = "second" };
        again["tags"] = new JsonArray("retry-tag");
        again["extra"]!["metadata"]!["thread_id"] = "other-thread";
        var retry = await SendAsync(sdk, new LangSmithWire().AddRun("post", again));
        await AssertStatusAsync(HttpStatusCode.Conflict, retry);
        Assert.Contains(rootId, (await ProblemAsync(retry)).GetProperty("duplicates").EnumerateArray().Select(d => d.GetString()));

        var single = await sdk.PostAsJsonAsync($"{Base}/runs", again);
        await AssertStatusAsync(HttpStatusCode.Conflict, single);

        var trace = await TraceByExternalIdAsync(reader, rootId);
        Assert.Equal(1, trace.GetProperty("spans").GetArrayLength());
        Assert.Equal("first", trace.GetProperty("spans")[0].GetProperty("input").GetProperty("q").GetString());
        // A refused duplicate changes nothing on the trace either (its tags and session are not applied).
        Assert.DoesNotContain("retry-tag", trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(JsonValueKind.Null, trace.GetProperty("session_id").ValueKind);
        Assert.Single((await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Feedback_BecomesAScoreOnTheRunsSpan()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" });
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", root)));

        var response = await sdk.PostAsJsonAsync($"{Base}/feedback", new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(), ["run_id"] = rootId, ["trace_id"] = rootId, ["key"] = "correctness", ["score"] = 0,
            ["value"] = "rejected", ["comment"] = "Hallucinated refund policy", ["correction"] = new JsonObject { ["outputs"] = new JsonObject { ["answer"] = "30 days" } },
            ["feedback_source"] = new JsonObject { ["type"] = "api", ["metadata"] = new JsonObject() },
        });
        await AssertStatusAsync(HttpStatusCode.OK, response);

        // The SDK's batched feedback: a feedback.{id} part beside a new run.
        var otherId = Id(50);
        var other = LangSmithWire.Run(otherId, "agent", "chain", T0.AddMilliseconds(50), null, new JsonObject { ["q"] = "again" });
        var wire = new LangSmithWire().AddRun("post", other).AddFeedback(new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(), ["run_id"] = otherId, ["trace_id"] = otherId, ["key"] = "helpfulness", ["score"] = true,
        });
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, wire));

        var trace = await TraceByExternalIdAsync(reader, rootId);
        var score = trace.GetProperty("scores").EnumerateArray().Single();
        Assert.Equal("correctness", score.GetProperty("name").GetString());
        Assert.Equal(0, score.GetProperty("numeric_value").GetDouble());
        Assert.Equal(SpanByExternalId(trace, rootId).GetProperty("id").GetString(), score.GetProperty("span_id").GetString());
        Assert.Equal("lang_smith", score.GetProperty("source").GetString());
        Assert.Contains("Hallucinated", score.GetProperty("comment").GetString());
        Assert.Contains("30 days", score.GetProperty("comment").GetString());
        var otherScore = (await TraceByExternalIdAsync(reader, otherId)).GetProperty("scores").EnumerateArray().Single();
        Assert.Equal("boolean", otherScore.GetProperty("data_type").GetString());
        Assert.Equal(JsonValueKind.Null, trace.GetProperty("review").GetProperty("reviewed_by").ValueKind);
    }

    [Fact]
    public async Task Attachment_IsRecordedOnTheSpan_SmallOnesWithTheirBytes()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "vision", "chain", T0, null, new JsonObject { ["q"] = "what is this?" });
        var small = Encoding.UTF8.GetBytes("hello");
        var large = new byte[100_000];
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", root,
            [("note", "text/plain", small), ("photo", "image/png", large)])));

        // A later patch's attachment adds to the post's.
        var patch = new JsonObject { ["id"] = rootId, ["trace_id"] = rootId, ["dotted_order"] = root["dotted_order"]!.GetValue<string>(), ["end_time"] = LangSmithWire.IsoTime(T0.AddSeconds(1)) };
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("patch", patch, [("answer", "text/plain", small)])));

        var attributes = SpanByExternalId(await TraceByExternalIdAsync(reader, rootId), rootId).GetProperty("attributes");
        Assert.Equal(Convert.ToBase64String(small), attributes.GetProperty("attachment.note").GetProperty("data_base64").GetString());
        Assert.Equal(100_000, attributes.GetProperty("attachment.photo").GetProperty("size").GetInt64());
        Assert.Equal("image/png", attributes.GetProperty("attachment.photo").GetProperty("content_type").GetString());
        Assert.False(attributes.GetProperty("attachment.photo").GetProperty("stored").GetBoolean());
        Assert.True(attributes.GetProperty("attachment.answer").GetProperty("stored").GetBoolean());
    }

    [Fact]
    public async Task PartForAnUnknownRun_IsSkippedNamingThePart_AndTheRestIsStored()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var goodId = Id(0);
        var strayId = Id(1);
        var wire = new LangSmithWire()
            .AddRun("post", LangSmithWire.Run(goodId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" }))
            .AddJson($"post.{strayId}.outputs", new JsonObject { ["answer"] = "x" });

        var response = await SendAsync(sdk, wire);

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        Assert.Equal([$"post.{strayId}.outputs"], await SkippedPathsAsync(response));
        Assert.Equal("hi", SpanByExternalId(await TraceByExternalIdAsync(reader, goodId), goodId).GetProperty("input").GetProperty("q").GetString());
        await AssertIssueAsync(reader, "refused", "outputs", strayId);
    }

    [Fact]
    public async Task FieldPartForAStoredRun_UpdatesIt()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var rootId = Id(0);
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire()
            .AddRun("post", LangSmithWire.Run(rootId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" }))));

        var later = new LangSmithWire().AddJson($"patch.{rootId}.outputs", new JsonObject { ["answer"] = "late" });
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, later));

        var span = SpanByExternalId(await TraceByExternalIdAsync(reader, rootId), rootId);
        Assert.Equal("hi", span.GetProperty("input").GetProperty("q").GetString());
        Assert.Equal("late", span.GetProperty("output").GetProperty("answer").GetString());
    }

    [Fact]
    public async Task MalformedParts_AreSkippedNamingThem_AndEveryRunIsStored()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var goodId = Id(0);
        var badId = Id(1);
        var wire = new LangSmithWire()
            .AddRun("post", LangSmithWire.Run(goodId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" }))
            .AddRun("post", LangSmithWire.Run(badId, "agent", "chain", T0, null, null))
            .AddPart($"post.{badId}.inputs", Encoding.UTF8.GetBytes("{\"q\": \"unterminated"), "application/json")
            .AddPart("mystery.part", Encoding.UTF8.GetBytes("{}"), "application/json");

        var response = await SendAsync(sdk, wire);

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        Assert.Equal(["mystery.part", $"post.{badId}.inputs"], (await SkippedPathsAsync(response)).Order(StringComparer.Ordinal));
        // The run whose inputs part was unreadable is stored without its inputs rather than lost.
        Assert.Equal("hi", SpanByExternalId(await TraceByExternalIdAsync(reader, goodId), goodId).GetProperty("input").GetProperty("q").GetString());
        Assert.Equal(JsonValueKind.Null, SpanByExternalId(await TraceByExternalIdAsync(reader, badId), badId).GetProperty("input").ValueKind);
        await AssertIssueAsync(reader, "refused", "inputs", badId);
    }

    [Fact]
    public async Task RunEndingFarBeforeItsStart_IsSkippedWithItsReason_TheOtherRunsStored()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var (goodId, badId) = (Id(0), Id(1));
        var bad = LangSmithWire.Run(badId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" });
        bad["end_time"] = LangSmithWire.IsoTime(T0.AddSeconds(-5));

        var response = await SendAsync(sdk, new LangSmithWire()
            .AddRun("post", LangSmithWire.Run(goodId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" }))
            .AddRun("post", bad));

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        Assert.Equal([$"post.{badId}.end_time"], await SkippedPathsAsync(response));
        Assert.Equal([goodId], (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("external_id").GetString()));
        var issue = await AssertIssueAsync(reader, "refused", "end_time", badId);
        Assert.Contains("5 s before start_time", issue.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task SingleRunRoute_WhoseOneRunIsRefused_Is400NamingTheField()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var id = Id(0);
        var run = LangSmithWire.Run(id, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" });
        run["end_time"] = LangSmithWire.IsoTime(T0.AddSeconds(-5));

        var response = await sdk.PostAsJsonAsync($"{Base}/runs", run);

        await AssertStatusAsync(HttpStatusCode.BadRequest, response);
        Assert.True((await ProblemAsync(response)).GetProperty("errors").TryGetProperty("end_time", out _));
        Assert.Empty((await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray());
        await AssertIssueAsync(reader, "refused", "end_time", id);
    }

    [Fact]
    public async Task RunEndingMicrosecondsBeforeItsStart_AsTheJsSdkSends_IsStored()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var start = T0.AddTicks(30); // 3 us past the millisecond, as the JS SDK pads start_time for sibling order
        var id = Id(0);
        var run = LangSmithWire.Run(id, "lookup", "tool", start, null, new JsonObject { ["q"] = "hi" });
        run["start_time"] = LangSmithWire.IsoTime(start);
        run["end_time"] = T0.ToUnixTimeMilliseconds(); // epoch milliseconds, as the JS SDK sends end_time
        run["outputs"] = new JsonObject { ["a"] = 1 };

        var response = await SendAsync(sdk, new LangSmithWire().AddRun("post", run));

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        Assert.Empty(await SkippedPathsAsync(response));
        // Times are kept to 0.1 ms on every database, so 3 us apart is the same instant: nothing to adjust.
        var span = SpanByExternalId(await TraceByExternalIdAsync(reader, id), id);
        Assert.Equal(T0, span.GetProperty("start_time").GetDateTimeOffset());
        Assert.Equal(T0, span.GetProperty("end_time").GetDateTimeOffset());
        Assert.Empty((await reader.GetJsonAsync("/api/v1/ingestion/issues")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task RunEndingBeforeItsStart_WithinASecond_IsStoredWithZeroLength_AndTheOriginalKept()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var start = T0.AddMilliseconds(0.5);
        var id = Id(0);
        var run = LangSmithWire.Run(id, "lookup", "tool", start, null, new JsonObject { ["q"] = "hi" });
        run["start_time"] = LangSmithWire.IsoTime(start);
        run["end_time"] = T0.ToUnixTimeMilliseconds();
        run["outputs"] = new JsonObject { ["a"] = 1 };

        var response = await SendAsync(sdk, new LangSmithWire().AddRun("post", run));
        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        Assert.Empty(await SkippedPathsAsync(response));
        // A retry of the same run changes nothing and adjusts nothing again.
        await AssertStatusAsync(HttpStatusCode.Conflict, await SendAsync(sdk, new LangSmithWire().AddRun("post", run)));

        var span = SpanByExternalId(await TraceByExternalIdAsync(reader, id), id);
        Assert.Equal(start, span.GetProperty("start_time").GetDateTimeOffset());
        Assert.Equal(start, span.GetProperty("end_time").GetDateTimeOffset());
        Assert.Equal(T0, span.GetProperty("attributes").GetProperty("evalplatform.original_end_time").GetDateTimeOffset());
        var issue = await AssertIssueAsync(reader, "adjusted", "end_time", id);
        Assert.Equal(1, issue.GetProperty("count").GetInt32());
        Assert.Contains("500 µs before start_time", issue.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task PatchEndingBeforeTheStoredStart_InALaterBatch_IsStoredWithZeroLength()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var start = T0.AddMilliseconds(0.7);
        var id = Id(0);
        var run = LangSmithWire.Run(id, "lookup", "tool", start, null, new JsonObject { ["q"] = "hi" });
        run["start_time"] = LangSmithWire.IsoTime(start);
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, new LangSmithWire().AddRun("post", run)));

        var patch = new JsonObject { ["id"] = id, ["trace_id"] = id, ["dotted_order"] = run["dotted_order"]!.GetValue<string>(),
            ["end_time"] = T0.ToUnixTimeMilliseconds(), ["outputs"] = new JsonObject { ["a"] = 1 } };
        var response = await SendAsync(sdk, new LangSmithWire().AddRun("patch", patch));

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        var span = SpanByExternalId(await TraceByExternalIdAsync(reader, id), id);
        Assert.Equal(start, span.GetProperty("end_time").GetDateTimeOffset());
        Assert.Equal(1, span.GetProperty("output").GetProperty("a").GetInt32());
        await AssertIssueAsync(reader, "adjusted", "end_time", id);
    }

    [Fact]
    public async Task Batch_WithOneBadRun_StoresTheOthers_AndNamesTheBadOne()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var (goodId, badId) = (Id(0), Id(1));
        var good = LangSmithWire.Run(goodId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" });
        var bad = LangSmithWire.Run(badId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" });
        bad["dotted_order"] = LangSmithWire.Segment(T0, Id(2));

        var response = await sdk.PostAsJsonAsync($"{Base}/runs/batch", new JsonObject { ["post"] = new JsonArray(good, bad, 42) });

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        Assert.Equal(["post[1].dotted_order", "post[1].trace_id", "post[2]"], (await SkippedPathsAsync(response)).Order(StringComparer.Ordinal));
        Assert.Equal([goodId], (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("external_id").GetString()));
        await AssertIssueAsync(reader, "refused", "dotted_order", badId);
    }

    /// <summary>PostgreSQL refuses a NUL character in text; SQLite stores it.</summary>
    protected virtual bool DatabaseRefusesNul => false;

    [Fact]
    public async Task RunHoldingANulCharacter_CostsOnlyItsTrace_TheOtherTracesOfTheBatchAreStored()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var (goodId, badId) = (Id(0), Id(1));
        var response = await SendAsync(sdk, new LangSmithWire()
            .AddRun("post", LangSmithWire.Run(goodId, "agent", "chain", T0, null, new JsonObject { ["q"] = "hi" }))
            .AddRun("post", LangSmithWire.Run(badId, "zero \0 byte", "chain", T0, null, new JsonObject { ["q"] = "hi" })));

        await AssertStatusAsync(HttpStatusCode.Accepted, response);
        var stored = (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("external_id").GetString()).Order(StringComparer.Ordinal).ToList();
        if (!DatabaseRefusesNul)
        {
            Assert.Equal(new[] { goodId, badId }.Order(StringComparer.Ordinal), stored);
            return;
        }

        Assert.Equal([goodId], stored);
        Assert.Equal([$"post.{badId}"], await SkippedPathsAsync(response));
        var issue = await AssertIssueAsync(reader, "refused", "$", badId);
        Assert.Contains("The database could not store this trace", issue.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    private static async Task<List<string>> SkippedPathsAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("skipped").EnumerateArray().Select(s => s.GetProperty("path").GetString()!).ToList();

    /// <summary>The team's ingestion issue log holds one entry of this kind and field for the run, from the LangSmith door.</summary>
    private static async Task<JsonElement> AssertIssueAsync(ApiClient reader, string kind, string field, string runId)
    {
        var items = (await reader.GetJsonAsync($"/api/v1/ingestion/issues?kind={kind}")).GetProperty("items").EnumerateArray().ToList();
        var issue = Assert.Single(items, i => i.GetProperty("span_id").GetString() == runId && i.GetProperty("field").GetString() == field);
        Assert.Equal("langsmith", issue.GetProperty("door").GetString());
        return issue;
    }

    [Fact]
    public async Task CompressedBody_Is415_AsInfoSaysZstdIsOff()
    {
        var (sdk, _, _) = await ClientsAsync();
        var content = LangSmithWire.ForTraces(1, T0).ToContent();
        content.Headers.ContentEncoding.Add("zstd");
        await AssertStatusAsync(HttpStatusCode.UnsupportedMediaType, await sdk.PostAsync($"{Base}/runs/multipart", content));
    }

    [Fact]
    public async Task MissingKey_Is401_ReadOnlyKey_Is403()
    {
        using var anonymous = app.CreateClient();
        var wire = LangSmithWire.ForTraces(1, T0);
        await AssertStatusAsync(HttpStatusCode.Unauthorized, await anonymous.PostAsync($"{Base}/runs/multipart", wire.ToContent()));

        var (readOnly, _, _) = await ClientsAsync(ApiKeyScopes.Read);
        var forbidden = await readOnly.PostAsync($"{Base}/runs/multipart", wire.ToContent());
        await AssertStatusAsync(HttpStatusCode.Forbidden, forbidden);
        Assert.Contains("ingest", (await ProblemAsync(forbidden)).GetProperty("detail").GetString());
        await AssertStatusAsync(HttpStatusCode.Forbidden, await readOnly.PostAsJsonAsync($"{Base}/feedback", new JsonObject { ["key"] = "x" }));
    }

    [Fact]
    public async Task OversizedBody_Is413()
    {
        var (sdk, reader, _) = await ClientsAsync();
        var id = Id(0);
        var wire = new LangSmithWire()
            .AddRun("post", LangSmithWire.Run(id, "agent", "chain", T0, null, null))
            .AddPart($"attachment.{id}.dump", new byte[25 * 1024 * 1024], "application/octet-stream");

        await AssertStatusAsync(HttpStatusCode.RequestEntityTooLarge, await SendAsync(sdk, wire));
        Assert.Empty((await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task SdkBody_ManyTraces_AllAssemble()
    {
        var (sdk, reader, _) = await ClientsAsync();
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdk, LangSmithWire.ForTraces(20, T0)));

        var items = (await reader.GetJsonAsync("/api/v1/traces?limit=200")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(20, items.Count);
        Assert.All(items, i => Assert.Equal("gpt-4o-mini", i.GetProperty("model").GetString()));
        Assert.All(items, i => Assert.Equal(450, i.GetProperty("total_tokens").GetInt32()));
    }

    [Fact]
    public async Task OtherTeam_CannotReadOrTouchTheRuns()
    {
        var (sdkA, readerA, _) = await ClientsAsync();
        var (sdkB, readerB, _) = await ClientsAsync(ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        var rootId = Id(0);
        var root = LangSmithWire.Run(rootId, "agent", "chain", T0, null, new JsonObject { ["q"] = "team A's secret" });
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdkA, new LangSmithWire().AddRun("post", root)));
        var traceA = await TraceByExternalIdAsync(readerA, rootId);

        Assert.Equal(HttpStatusCode.NotFound, (await readerB.Http.GetAsync($"/api/v1/traces/{traceA.GetProperty("id").GetString()}")).StatusCode);
        Assert.Empty((await readerB.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray());
        // Team B cannot patch team A's run (it is unknown to B) nor attach feedback to it.
        await AssertStatusAsync(HttpStatusCode.NotFound, await sdkB.PatchAsJsonAsync($"{Base}/runs/{rootId}", new JsonObject { ["outputs"] = new JsonObject { ["x"] = 1 } }));
        await AssertStatusAsync(HttpStatusCode.BadRequest, await sdkB.PostAsJsonAsync($"{Base}/feedback", new JsonObject { ["run_id"] = rootId, ["key"] = "k", ["score"] = 1 }));
        // The same run id posted by team B is team B's own trace; team A's is untouched.
        await AssertStatusAsync(HttpStatusCode.Accepted, await SendAsync(sdkB, new LangSmithWire().AddRun("post", root)));
        var afterA = await TraceByExternalIdAsync(readerA, rootId);
        Assert.Equal(1, afterA.GetProperty("spans").GetArrayLength());
        Assert.Empty(afterA.GetProperty("scores").EnumerateArray());
        Assert.Single((await readerB.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray());
    }
}

public sealed class LangSmithApiPostgresTests(PostgresAppFactory app) : LangSmithApiTests(app), IClassFixture<PostgresAppFactory>
{
    protected override bool DatabaseRefusesNul => true;
}

public sealed class LangSmithApiSqliteTests(SqliteAppFactory app) : LangSmithApiTests(app), IClassFixture<SqliteAppFactory>;
