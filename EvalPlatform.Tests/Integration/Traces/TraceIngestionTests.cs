using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>The trace API end to end, on each database.</summary>
public abstract class TraceIngestionTests(EvalAppFactory app)
{
    private static object Simple(string? externalId = null, string tag = "t", string userInput = "Where is my order 1234?") => new
    {
        external_id = externalId,
        name = "support-chat",
        system_prompt = "You are a support agent.",
        user_input = userInput,
        response = "Your order **shipped** yesterday.",
        model = "gpt-4o-mini",
        provider = "openai",
        usage = new { prompt_tokens = 1000, completion_tokens = 200 },
        latency_ms = 850.5,
        environment = "production",
        session_id = "s-1",
        user_id = "u-1",
        tags = new[] { tag },
        metadata = new { region = "eu" },
        function_calls = new object[]
        {
            new { name = "lookup_order", parameters = new { id = 1234 }, result = new { status = "shipped" }, execution_time_ms = 42 },
            new { name = "send_email", parameters = new { to = "x@y.z" }, result = (object?)null, execution_time_ms = 7, error = "smtp timeout" },
        },
    };

    [Fact]
    public async Task SimpleShape_IsStoredAsATree_WithComputedCost()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(Simple("simple-1"));

        var trace = await api.GetJsonAsync($"/api/v1/traces/{id}");

        Assert.Equal("simple-1", trace.GetProperty("external_id").GetString());
        Assert.Equal(1200, trace.GetProperty("total_tokens").GetInt32());
        // gpt-4o-mini: 1000 x 0.15/M + 200 x 0.60/M
        Assert.Equal(0.00027m, trace.GetProperty("cost").GetDecimal());
        Assert.True(trace.GetProperty("cost_computed").GetBoolean());
        Assert.Equal("eu", trace.GetProperty("metadata").GetProperty("region").GetString());
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(["llm", "tool", "tool"], spans.Select(s => s.GetProperty("kind").GetString()!).ToArray());
        var messages = spans[0].GetProperty("input").GetProperty("messages");
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal("Where is my order 1234?", messages[1].GetProperty("content").GetString());
        Assert.Equal("Your order **shipped** yesterday.", spans[0].GetProperty("output").GetProperty("content").GetString());
        Assert.Equal(1234, spans[1].GetProperty("input").GetProperty("id").GetInt32());
        Assert.Equal(42, spans[1].GetProperty("duration_ms").GetDouble());
        Assert.Equal("smtp timeout", spans[2].GetProperty("error").GetString());
    }

    [Fact]
    public async Task FullShape_KeepsMessagesToolCallsAndTheSpanTree()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(new
        {
            model = "claude-sonnet-4",
            messages = new object[]
            {
                new { role = "system", content = "Be brief." },
                new { role = "user", content = new object[] { new { type = "text", text = "Weather in Paris?" } } },
                new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "c1", type = "function", function = new { name = "weather", arguments = "{\"city\":\"Paris\"}" } } } },
                new { role = "tool", tool_call_id = "c1", content = "18C" },
                new { role = "assistant", content = "18C and sunny." },
            },
            spans = new object[]
            {
                new { id = "agent", kind = "chain", name = "agent", start_time = "2026-11-01T10:00:00Z", end_time = "2026-11-01T10:00:02Z" },
                new { id = "w", parent_id = "agent", kind = "tool", name = "weather", input = new { city = "Paris" }, output = "18C", duration_ms = 120 },
            },
        });

        var trace = await api.GetJsonAsync($"/api/v1/traces/{id}");
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(3, spans.Count);
        Assert.Equal(4, spans[0].GetProperty("input").GetProperty("messages").GetArrayLength());
        Assert.Equal("18C and sunny.", spans[0].GetProperty("output").GetProperty("content").GetString());
        Assert.Equal(spans[1].GetProperty("id").GetGuid(), spans[2].GetProperty("parent_id").GetGuid());
        Assert.Equal(2000, spans[1].GetProperty("duration_ms").GetDouble());

        var list = await api.GetJsonAsync("/api/v1/traces?limit=1");
        var row = list.GetProperty("items")[0];
        Assert.Equal("Weather in Paris?", row.GetProperty("input_preview").GetString());
        Assert.Equal("18C and sunny.", row.GetProperty("output_preview").GetString());
    }

    [Fact]
    public async Task Retry_ReturnsTheStoredId_AndStoresNothingTwice_WhatEverTheKeyOrder()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var first = await api.PostJsonAsync("/api/v1/traces", """{"external_id":"r-1","user_input":"a","response":"b","tags":["retry"]}""");
        var again = await api.PostJsonAsync("/api/v1/traces", """{"tags":["retry"],"response":"b", "user_input":"a","external_id":"r-1"}""");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var a = await first.Content.ReadFromJsonAsync<JsonElement>();
        var b = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(a.GetProperty("id").GetGuid(), b.GetProperty("id").GetGuid());
        Assert.Equal("existing", b.GetProperty("status").GetString());
        Assert.Equal(1, (await api.GetJsonAsync("/api/v1/traces?tag=retry")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task SameExternalId_DifferentContent_Is409_AndKeepsTheStoredTrace()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(new { external_id = "c-1", user_input = "original" });

        var clash = await api.PostJsonAsync("/api/v1/traces", new { external_id = "c-1", user_input = "changed" });

        Assert.Equal(HttpStatusCode.Conflict, clash.StatusCode);
        var problem = await clash.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("external_id", out _));
        var stored = await api.GetJsonAsync($"/api/v1/traces/{id}");
        Assert.Contains("original", stored.GetProperty("spans")[0].GetProperty("input").GetRawText(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 12: an ingest-only key learns nothing of stored content. PATCH answers <c>{id, updated_at}</c> (the whole
    /// trace only with <c>read</c>), and no door's 409 for a clashing external id names the stored trace's id.
    /// </summary>
    [Fact]
    public async Task AnIngestOnlyKey_GetsNoTraceContentBack_FromPatchOrFromA409()
    {
        var (reader, team) = await ApiClient.ForNewTeamAsync(app);
        using var ingestOnly = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        var id = await ingestOnly.PostTraceAsync(new { external_id = "secret-1", user_input = "the secret question" });

        var patched = await ingestOnly.PatchJsonAsync($"/api/v1/traces/{id}", new { response = "the secret answer" });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var body = await patched.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["id", "updated_at"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(id, body.GetProperty("id").GetGuid());
        var full = await (await reader.PatchJsonAsync($"/api/v1/traces/{id}", new { error = "late" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("the secret answer", full.GetProperty("spans").GetRawText(), StringComparison.Ordinal);

        var clashes = new[]
        {
            await ingestOnly.PostJsonAsync("/api/v1/traces", new { external_id = "secret-1", user_input = "other" }),
            await ingestOnly.PostJsonAsync("/api/v1/traces/batch", new { traces = new[] { new { external_id = "secret-1", user_input = "other" } } }),
        };
        foreach (var clash in clashes)
        {
            Assert.Equal(HttpStatusCode.Conflict, clash.StatusCode);
            Assert.DoesNotContain(id.ToString(), await clash.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Batch_StoresAll_AndAnswersEachId()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var response = await api.PostJsonAsync("/api/v1/traces/batch", new { traces = new[] { Simple("b-1", "batch"), Simple("b-2", "batch"), Simple(null, "batch") } });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var items = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], items.Select(i => i.GetProperty("index").GetInt32()).ToArray());
        Assert.Equal(3, items.Select(i => i.GetProperty("id").GetGuid()).Distinct().Count());
        Assert.Equal(3, (await api.GetJsonAsync("/api/v1/traces?tag=batch")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Batch_ThatRepeatsStoredTraces_StoresOnlyTheNewOnes_AndAnswersTheStoredIds()
    {
        // The writer inserts as if every id were new; the stored "m-2" makes the unique index refuse the
        // group, which is then redone with a look-up: nothing doubled, nothing of the new ones lost.
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var first = await api.PostJsonAsync("/api/v1/traces/batch", new { traces = new[] { Simple("m-1", "mixed"), Simple("m-2", "mixed") } });
        var firstIds = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray()
            .ToDictionary(i => i.GetProperty("external_id").GetString()!, i => i.GetProperty("id").GetGuid());

        var again = await api.PostJsonAsync("/api/v1/traces/batch", new { traces = new[] { Simple("m-3", "mixed"), Simple("m-2", "mixed"), Simple(null, "mixed") } });

        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        var items = (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["created", "existing", "created"], items.Select(i => i.GetProperty("status").GetString()!).ToArray());
        Assert.Equal(firstIds["m-2"], items[1].GetProperty("id").GetGuid());
        var stored = (await api.GetJsonAsync("/api/v1/traces?tag=mixed")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(4, stored.Count);
        Assert.Equal(3, stored.Count(t => t.GetProperty("external_id").ValueKind == JsonValueKind.String));
        foreach (var item in items)
        {
            var trace = await api.GetJsonAsync($"/api/v1/traces/{item.GetProperty("id").GetGuid()}");
            Assert.Equal(3, trace.GetProperty("spans").GetArrayLength());
        }
    }

    [Fact]
    public async Task Batch_PartlyRetried_StoresOnlyTheNewOnes()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        await api.PostTraceAsync(Simple("p-1", "partial"));

        var response = await api.PostJsonAsync("/api/v1/traces/batch", new { traces = new[] { Simple("p-1", "partial"), Simple("p-2", "partial") } });

        var items = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items");
        Assert.Equal("existing", items[0].GetProperty("status").GetString());
        Assert.Equal("created", items[1].GetProperty("status").GetString());
        Assert.Equal(2, (await api.GetJsonAsync("/api/v1/traces?tag=partial")).GetProperty("items").GetArrayLength());
    }

    public static TheoryData<string, string> BadBodies() => new()
    {
        { """{"user_input": "x",""", "$" },
        { """{"user_input": 42}""", "user_input" },
        { """{"tags": "one"}""", "tags" },
        { """{"usage": {"prompt_tokens": -1}}""", "usage.prompt_tokens" },
        { """{"usage": {"prompt_tokens": 1.5}}""", "usage.prompt_tokens" },
        { """{"cost": 1e400}""", "cost" },
        { """{"latency_ms": -3}""", "latency_ms" },
        { """{"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}""", "end_time" },
        { """{"start_time": "yesterday"}""", "start_time" },
        { """{"spans": [{"kind": "tool"}]}""", "spans[0].name" },
        { """{"spans": [{"id": "a", "name": "a", "parent_id": "nope"}]}""", "spans[0].parent_id" },
        { """{"spans": [{"id": "a", "name": "a", "parent_id": "b"}, {"id": "b", "name": "b", "parent_id": "a"}]}""", "spans" },
        { """{"spans": [{"id": "a", "name": "a"}, {"id": "a", "name": "b"}]}""", "spans[1].id" },
        { """{"spans": [{"name": "a", "start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}]}""", "spans[0].end_time" },
        { """{"messages": [{"content": "no role"}]}""", "messages[0].role" },
        { """{"messages": [{"role": "robot", "content": "x"}]}""", "messages[0].role" },
        { """{"function_calls": [{"parameters": {}}]}""", "function_calls[0].name" },
        { """{"user_input": "x", "messages": []}""", "messages" },
        { """{"surprise": true}""", "surprise" },
        { """[1, 2]""", "$" },
        { "{\"name\": \"" + new string('n', 501) + "\"}", "name" },
        { "{\"metadata\": " + string.Concat(Enumerable.Repeat("{\"a\":", 70)) + "1" + new string('}', 70) + "}", "metadata" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadInput_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);

        var response = await api.PostJsonAsync("/api/v1/traces", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        Assert.True(fields.Any(f => f.StartsWith(field, StringComparison.Ordinal)), $"expected '{field}' among [{string.Join(", ", fields)}]");
        Assert.Equal(0, (await api.GetJsonAsync("/api/v1/traces")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task WrongContentType_Is415_AndOversizedBody_Is413()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);

        var text = await api.Http.PostAsync("/api/v1/traces", new StringContent("{}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);

        var huge = "{\"traces\":[{\"user_input\":\"" + new string('x', 11 * 1024 * 1024) + "\"}]}";
        var tooBig = await api.PostJsonAsync("/api/v1/traces/batch", huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        Assert.Equal("application/problem+json", tooBig.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Patch_CompletesATraceSentAtItsStart()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(new { model = "gpt-4o", user_input = "Summarise this", start_time = "2026-11-01T10:00:00Z" });
        var running = await api.GetJsonAsync($"/api/v1/traces/{id}");
        Assert.Equal(JsonValueKind.Null, running.GetProperty("end_time").ValueKind);

        var patch = await api.PatchJsonAsync($"/api/v1/traces/{id}", new
        {
            end_time = "2026-11-01T10:00:01.5Z", response = "A summary.", usage = new { prompt_tokens = 100, completion_tokens = 10 },
        });

        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var done = await api.GetJsonAsync($"/api/v1/traces/{id}");
        Assert.Equal(1500, done.GetProperty("latency_ms").GetDouble());
        Assert.Equal(110, done.GetProperty("total_tokens").GetInt32());
        Assert.True(done.GetProperty("cost").GetDecimal() > 0);
        Assert.Equal("A summary.", done.GetProperty("spans")[0].GetProperty("output").GetProperty("content").GetString());
        var row = (await api.GetJsonAsync("/api/v1/traces")).GetProperty("items")[0];
        Assert.Equal("A summary.", row.GetProperty("output_preview").GetString());
    }

    [Theory]
    [InlineData("""{"colour": "red"}""", "colour")]
    [InlineData("""{"end_time": "2020-01-01T00:00:00Z"}""", "end_time")]
    [InlineData("""{}""", "$")]
    public async Task Patch_WithBadInput_Is400_AndChangesNothing(string body, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(new { user_input = "x", start_time = "2026-11-01T10:00:00Z" });

        var response = await api.PatchJsonAsync($"/api/v1/traces/{id}", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(JsonValueKind.Null, (await api.GetJsonAsync($"/api/v1/traces/{id}")).GetProperty("end_time").ValueKind);
    }

    [Fact]
    public async Task Search_MatchesASubstringAnyCase_AndTakesWildcardsLiterally()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        using var _ = api;
        var percent = await api.PostTraceAsync(new { user_input = "Is the 50% discount still on?", response = "Yes" });
        var digits = await api.PostTraceAsync(new { user_input = "Is the 500 discount still on?", response = "No" });
        var underscore = await api.PostTraceAsync(new { user_input = "a", response = "set max_tokens higher" });
        await api.PostTraceAsync(new { user_input = "a", response = "set maxXtokens higher" });
        await api.PostTraceAsync(new { user_input = @"C:\temp\x", response = "a path" });

        async Task<Guid[]> SearchAsync(string term) =>
            (await api.GetJsonAsync("/api/v1/traces?search=" + Uri.EscapeDataString(term))).GetProperty("items").EnumerateArray()
                .Select(t => t.GetProperty("id").GetGuid()).ToArray();

        // A fragment of a word, in another case, in the prompt or the response (LIKE through the trigram index on PostgreSQL, ADR 50).
        Assert.Equal([digits, percent], await SearchAsync("DISCOUN"));
        Assert.Equal([underscore], await SearchAsync("MAX_TOK"));
        // % and _ are the user's characters, not wildcards; a backslash too.
        Assert.Equal([percent], await SearchAsync("50%"));
        Assert.Empty(await SearchAsync("50%0"));
        Assert.Single(await SearchAsync(@"c:\temp"));
        Assert.Empty(await SearchAsync(@"c:\%"));
    }

    [Fact]
    public async Task List_FiltersAndPagesNewestFirst()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await api.PostTraceAsync(new { user_input = $"question {i} about refunds", model = i % 2 == 0 ? "gpt-4o" : "claude-sonnet-4", environment = "prod", tags = new[] { "page" } }));
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await api.GetJsonAsync($"/api/v1/traces?tag=page&limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(ids).ToArray(), seen.ToArray());
        Assert.Equal(3, (await api.GetJsonAsync("/api/v1/traces?model=gpt-4o")).GetProperty("items").GetArrayLength());
        Assert.Single((await api.GetJsonAsync("/api/v1/traces?search=QUESTION%203")).GetProperty("items").EnumerateArray());
        Assert.Equal(5, (await api.GetJsonAsync("/api/v1/traces?status=pending&environment=prod")).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await api.GetJsonAsync("/api/v1/traces?status=accepted")).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await api.GetJsonAsync("/api/v1/traces?from=2999-01-01T00:00:00Z")).GetProperty("items").GetArrayLength());
    }

    [Theory]
    [InlineData("status=great", "status")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=500", "limit")]
    [InlineData("from=soon", "from")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task List_WithBadParameters_Is400NamingThem(string query, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);

        var response = await api.Http.GetAsync($"/api/v1/traces?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task AnotherTeamsKey_CanNeitherReadNorWriteTheTrace()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(Simple("mine"));
        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin);

        Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"/api/v1/traces/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PatchJsonAsync($"/api/v1/traces/{id}", new { response = "hijack" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostJsonAsync($"/api/v1/traces/{id}/scores", new { name = "x", value = 1 })).StatusCode);
        Assert.Equal(0, (await other.GetJsonAsync("/api/v1/traces")).GetProperty("items").GetArrayLength());
        // The same external id is free in another team.
        Assert.Equal(HttpStatusCode.Created, (await other.PostJsonAsync("/api/v1/traces", Simple("mine"))).StatusCode);
        var mine = await api.GetJsonAsync($"/api/v1/traces/{id}");
        Assert.Equal(JsonValueKind.Null, mine.GetProperty("spans")[0].GetProperty("error").ValueKind);
    }

    [Fact]
    public async Task Scopes_AreEnforced()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var readOnly = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        using var ingestOnly = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);

        Assert.Equal(HttpStatusCode.Forbidden, (await readOnly.PostJsonAsync("/api/v1/traces", Simple())).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await ingestOnly.PostJsonAsync("/api/v1/traces", Simple())).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync("/api/v1/traces")).StatusCode);
    }

    [Fact]
    public async Task Scores_AreAttached_AndShownWithTheTrace()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(Simple());
        var spanId = (await api.GetJsonAsync($"/api/v1/traces/{id}")).GetProperty("spans")[1].GetProperty("id").GetGuid();

        var response = await api.PostJsonAsync($"/api/v1/traces/{id}/scores", new
        {
            scores = new object[]
            {
                new { name = "helpfulness", value = 0.8 },
                new { name = "tone", value = "friendly", comment = "nice" },
                new { name = "correct_tool", value = true, span_id = spanId },
            },
        });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var scores = (await api.GetJsonAsync($"/api/v1/traces/{id}")).GetProperty("scores").EnumerateArray()
            .OrderBy(s => s.GetProperty("name").GetString(), StringComparer.Ordinal).ToList();
        Assert.Equal(["boolean", "numeric", "categorical"], scores.Select(s => s.GetProperty("data_type").GetString()!).ToArray());
        Assert.Equal(0.8, scores[1].GetProperty("numeric_value").GetDouble());
        Assert.Equal(spanId, scores[0].GetProperty("span_id").GetGuid());
        Assert.All(scores, s => Assert.Equal("api", s.GetProperty("source").GetString()));
    }

    [Theory]
    [InlineData("""{"value": 1}""", "name")]
    [InlineData("""{"name": "x"}""", "value")]
    [InlineData("""{"name": "x", "value": {"a": 1}}""", "value")]
    [InlineData("""{"name": "x", "value": "high", "data_type": "numeric"}""", "value")]
    [InlineData("""{"name": "x", "value": 1, "span_id": "00000000-0000-0000-0000-000000000001"}""", "span_id")]
    [InlineData("""{"scores": []}""", "scores")]
    public async Task Scores_WithBadInput_Are400_AndStoreNothing(string body, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);
        var id = await api.PostTraceAsync(Simple());

        var response = await api.PostJsonAsync($"/api/v1/traces/{id}/scores", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(0, (await api.GetJsonAsync($"/api/v1/traces/{id}")).GetProperty("scores").GetArrayLength());
    }

    [Fact]
    public async Task ConcurrentPosts_AreAllStoredOnce_AndConcurrentRetriesCreateOne()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app);

        var posts = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => api.PostJsonAsync("/api/v1/traces", Simple($"cc-{i}", "concurrent"))));
        Assert.All(posts, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        var retries = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => api.PostJsonAsync("/api/v1/traces", Simple("same", "retried"))));
        Assert.Single(retries, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(19, retries.Count(r => r.StatusCode == HttpStatusCode.OK));

        Assert.Equal(40, (await api.GetJsonAsync("/api/v1/traces?tag=concurrent&limit=200")).GetProperty("items").GetArrayLength());
        Assert.Equal(1, (await api.GetJsonAsync("/api/v1/traces?tag=retried")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Ingest_PublishesTracesIngested_ForTheTeam()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app);
        var received = new TaskCompletionSource<TracesIngested>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = app.Services.GetRequiredService<ILiveBus>().Subscribe(team.Id, e =>
        {
            if (e is TracesIngested ingested)
            {
                received.TrySetResult(ingested);
            }

            return Task.CompletedTask;
        });

        var id = await api.PostTraceAsync(Simple("live-1"));

        var liveEvent = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([id], liveEvent.TraceIds);
        Assert.Equal("Where is my order 1234?", Assert.Single(liveEvent.Summaries).InputPreview);
    }
}

public sealed class TraceIngestionPostgresTests(PostgresAppFactory app) : TraceIngestionTests(app), IClassFixture<PostgresAppFactory>;

public sealed class TraceIngestionSqliteTests(SqliteAppFactory app) : TraceIngestionTests(app), IClassFixture<SqliteAppFactory>;
