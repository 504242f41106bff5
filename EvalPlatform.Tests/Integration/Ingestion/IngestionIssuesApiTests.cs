using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Ingestion;

/// <summary>
/// <c>GET /api/v1/ingestion/issues</c> and <c>/summary</c> on each database: what a door refused or adjusted is
/// listed with door, time, trace and run id, field, reason and count; filters, paging, bad parameters, scopes,
/// and one team never seeing another's log.
/// </summary>
public abstract class IngestionIssuesApiTests(EvalAppFactory app)
{
    private const string Issues = "/api/v1/ingestion/issues";
    private static readonly DateTimeOffset T0 = new(2026, 8, 20, 10, 0, 0, TimeSpan.Zero);

    private sealed record Sent(ApiClient Reader, TestTeam Team, string RootId, string BadId, string AdjustedId, DateTimeOffset Before, DateTimeOffset After);

    /// <summary>
    /// A LangSmith multipart batch as the SDK sends it: a root chain, a tool run ending 5 s before its start (refused),
    /// a tool run ending 0.5 ms before its start (adjusted) and a good llm run, all of one trace.
    /// </summary>
    private async Task<Sent> SendLangSmithBatchAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var sdk = app.CreateClient();
        sdk.DefaultRequestHeaders.Add("x-api-key", key.Key);
        var (rootId, badId, adjustedId, goodId) = (Id(0), Id(1), Id(2), Id(3));
        var root = LangSmithWire.Run(rootId, "support-agent", "chain", T0, null, new JsonObject { ["q"] = "Where is my order?" });
        root["end_time"] = LangSmithWire.IsoTime(T0.AddSeconds(2));
        var rootRef = (rootId, root["dotted_order"]!.GetValue<string>(), rootId);
        var bad = LangSmithWire.Run(badId, "lookup_order", "tool", T0.AddMilliseconds(10), rootRef, new JsonObject { ["id"] = "A-1" });
        bad["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(10).AddSeconds(-5));
        var adjusted = LangSmithWire.Run(adjustedId, "lookup_carrier", "tool", T0.AddMilliseconds(20.5), rootRef, new JsonObject { ["id"] = "A-1" });
        adjusted["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(20));
        var good = LangSmithWire.Run(goodId, "ChatOpenAI", "llm", T0.AddMilliseconds(30), rootRef, new JsonObject { ["q"] = "hi" });
        good["end_time"] = LangSmithWire.IsoTime(T0.AddMilliseconds(900));

        var before = TimeProvider.System.GetUtcNow().AddSeconds(-1);
        var response = await sdk.PostAsync("/api/langsmith/runs/multipart",
            new LangSmithWire().AddRun("post", root).AddRun("post", bad).AddRun("post", adjusted).AddRun("post", good).ToContent());
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return new Sent(await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read), team, rootId, badId, adjustedId, before, TimeProvider.System.GetUtcNow().AddSeconds(1));
    }

    private static string Id(int offsetMs) => Uuid7.Create(T0.AddMilliseconds(offsetMs)).ToString();

    /// <summary>The issues of the query once there are at least <paramref name="count"/> (the writer may still be flushing): polls to a deadline.</summary>
    private static async Task<List<JsonElement>> IssuesAsync(ApiClient reader, string query = "", int count = 0)
    {
        List<JsonElement> items = [];
        await Wait.UntilAsync(async () =>
        {
            items = (await reader.GetJsonAsync(Issues + query)).GetProperty("items").EnumerateArray().ToList();
            return items.Count >= count;
        }, $"{count} ingestion issues for '{query}'", TimeSpan.FromSeconds(10));
        return items;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<ApiClient> NativeBatchAsync(EvalAppFactory app, Guid teamId, params string[] badIds)
    {
        var api = await ApiClient.ForTeamAsync(app, teamId, ApiKeyScopes.Ingest);
        var traces = badIds.Select(id => (object)new { external_id = id, user_input = "x", latency_ms = -5 })
            .Append(new { external_id = Guid.NewGuid().ToString(), user_input = "Where is my order?", response = "It shipped." });
        var response = await api.PostJsonAsync("/api/v1/traces/batch", new { traces = traces.ToArray() });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return api;
    }

    [Fact]
    public async Task ARefusedAndAnAdjustedRun_AreListed_WithDoorTimeTraceRunFieldReasonAndCount()
    {
        var sent = await SendLangSmithBatchAsync();

        var items = await IssuesAsync(sent.Reader, count: 2);

        Assert.Equal(2, items.Count);
        var refused = Assert.Single(items, i => i.GetProperty("kind").GetString() == "refused");
        Assert.Equal("langsmith", refused.GetProperty("door").GetString());
        Assert.Equal(sent.RootId, refused.GetProperty("trace_id").GetString());
        Assert.Equal(sent.BadId, refused.GetProperty("span_id").GetString());
        Assert.Equal("end_time", refused.GetProperty("field").GetString());
        Assert.Contains("5 s before start_time", refused.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, refused.GetProperty("count").GetInt32());
        var seen = refused.GetProperty("last_seen_at").GetDateTimeOffset();
        Assert.InRange(seen, sent.Before, sent.After);
        Assert.Equal(seen, refused.GetProperty("first_seen_at").GetDateTimeOffset());
        Assert.True(Guid.TryParse(refused.GetProperty("id").GetString(), out _));

        var adjusted = Assert.Single(items, i => i.GetProperty("kind").GetString() == "adjusted");
        Assert.Equal(("langsmith", sent.RootId, sent.AdjustedId, "end_time"), (adjusted.GetProperty("door").GetString(),
            adjusted.GetProperty("trace_id").GetString(), adjusted.GetProperty("span_id").GetString(), adjusted.GetProperty("field").GetString()));
        Assert.Contains("500 µs before start_time", adjusted.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // The run ids of the refused run and of the stored ones: the trace is there without the refused run.
        var trace = (await sent.Reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray().Single();
        var spans = (await sent.Reader.GetJsonAsync($"/api/v1/traces/{trace.GetProperty("id").GetString()}")).GetProperty("spans").EnumerateArray()
            .Select(s => s.GetProperty("external_id").GetString()).ToList();
        Assert.DoesNotContain(sent.BadId, spans);
        Assert.Contains(sent.AdjustedId, spans);
    }

    [Fact]
    public async Task TheSameIssueAgain_IsCountedOnItsRow()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await NativeBatchAsync(app, team.Id, "bad-1");
        await NativeBatchAsync(app, team.Id, "bad-1");
        await NativeBatchAsync(app, team.Id, "bad-1", "bad-2");
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);

        var items = await IssuesAsync(reader, count: 2);

        Assert.Equal(2, items.Count);
        var row = Assert.Single(items, i => i.GetProperty("trace_id").GetString() == "bad-1");
        Assert.Equal(("batch", "refused", "latency_ms", 3), (row.GetProperty("door").GetString(), row.GetProperty("kind").GetString(),
            row.GetProperty("field").GetString(), row.GetProperty("count").GetInt32()));
        Assert.True(row.GetProperty("last_seen_at").GetDateTimeOffset() >= row.GetProperty("first_seen_at").GetDateTimeOffset());
        // Newest first: bad-2 was last seen in the last batch, with bad-1 (same time: the group key decides, stably).
        Assert.True(items[0].GetProperty("last_seen_at").GetDateTimeOffset() >= items[1].GetProperty("last_seen_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Filters_ByDoorKindTraceSpanAndSince()
    {
        var sent = await SendLangSmithBatchAsync();
        await NativeBatchAsync(app, sent.Team.Id, "bad-1");
        await IssuesAsync(sent.Reader, count: 3);

        async Task<string[]> SpansOrTraces(string query) =>
            (await IssuesAsync(sent.Reader, query)).Select(i => i.GetProperty("span_id").GetString() ?? i.GetProperty("trace_id").GetString()!).Order().ToArray();

        Assert.Equal([sent.BadId], await SpansOrTraces("?kind=refused&door=langsmith"));
        Assert.Equal(["bad-1"], await SpansOrTraces("?door=BATCH"));
        Assert.Equal([sent.AdjustedId], await SpansOrTraces("?kind=adjusted"));
        Assert.Equal(new[] { sent.AdjustedId, sent.BadId }.Order().ToArray(), await SpansOrTraces($"?trace_id={sent.RootId}"));
        Assert.Equal([sent.BadId], await SpansOrTraces($"?span_id={sent.BadId}"));
        Assert.Empty(await SpansOrTraces("?door=otlp"));
        Assert.Empty(await SpansOrTraces("?trace_id=unknown"));
        Assert.Equal(3, (await SpansOrTraces($"?since={Uri.EscapeDataString(sent.Before.ToString("O"))}")).Length);
        Assert.Equal(3, (await SpansOrTraces("?since=2000-01-01T00:00:00Z")).Length); // earlier than the retention: all of it
        Assert.Empty(await SpansOrTraces($"?since={Uri.EscapeDataString(sent.After.AddMinutes(1).ToString("O"))}"));
    }

    [Fact]
    public async Task Paging_WalksEveryRowOnce_NewestFirst_WithTheCursor()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await NativeBatchAsync(app, team.Id, "p-1", "p-2", "p-3");
        await NativeBatchAsync(app, team.Id, "p-4", "p-5");
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        await IssuesAsync(reader, count: 5);

        var seen = new List<JsonElement>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await reader.GetJsonAsync($"{Issues}?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.InRange(items.Count, 1, 2);
            seen.AddRange(items);
            cursor = page.GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(["p-1", "p-2", "p-3", "p-4", "p-5"], seen.Select(i => i.GetProperty("trace_id").GetString()!).Order().ToArray());
        var times = seen.Select(i => i.GetProperty("last_seen_at").GetDateTimeOffset()).ToList();
        Assert.Equal(times.OrderDescending(), times);
        Assert.Equal(["p-4", "p-5"], seen.Take(2).Select(i => i.GetProperty("trace_id").GetString()!).Order().ToArray());
    }

    [Theory]
    [InlineData("door=ftp", "door")]
    [InlineData("kind=skipped", "kind")]
    [InlineData("since=last-tuesday", "since")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task ABadParameter_Is400ProblemDetails_NamingIt(string query, string parameter)
    {
        var (reader, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);

        var problem = await ProblemAsync(await reader.Http.GetAsync($"{Issues}?{query}"));

        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal([parameter], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToArray());
        Assert.DoesNotContain("   at ", problem.ToString(), StringComparison.Ordinal);
        if (parameter != "cursor" && parameter != "limit")
        {
            // The summary reads the same filter and refuses it alike.
            var summary = await ProblemAsync(await reader.Http.GetAsync($"{Issues}/summary?{query}"));
            Assert.True(summary.GetProperty("errors").TryGetProperty(parameter, out _));
        }
    }

    [Fact]
    public async Task SeveralBadParameters_AreAllNamed_AndATooLongTraceIdToo()
    {
        var (reader, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);

        var problem = await ProblemAsync(await reader.Http.GetAsync($"{Issues}?door=x&kind=y&trace_id={new string('t', 201)}&limit=-1"));

        Assert.Equal(["door", "kind", "limit", "trace_id"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order().ToArray());
    }

    [Fact]
    public async Task AnotherTeamsKey_SeesNoneOfIt()
    {
        var sent = await SendLangSmithBatchAsync();
        Assert.Equal(2, (await IssuesAsync(sent.Reader, count: 2)).Count);
        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read | ApiKeyScopes.Ingest);

        Assert.Empty(await IssuesAsync(other));
        Assert.Empty(await IssuesAsync(other, $"?trace_id={sent.RootId}"));
        Assert.Empty(await IssuesAsync(other, $"?span_id={sent.BadId}"));
        var summary = await other.GetJsonAsync($"{Issues}/summary");
        Assert.Empty(summary.GetProperty("totals").EnumerateArray());
        Assert.Empty(summary.GetProperty("items").EnumerateArray());
        // A cursor of the first team's list reads nothing of it either.
        var firstPage = await sent.Reader.GetJsonAsync($"{Issues}?limit=1");
        Assert.Empty((await other.GetJsonAsync($"{Issues}?cursor={firstPage.GetProperty("next_cursor").GetString()}")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task AnIngestOnlyKey_Is403_AndNoKey_Is401()
    {
        var (ingestOnly, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest);
        using var anonymous = app.CreateClient();

        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync(Issues)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync($"{Issues}/summary")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(Issues)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"{Issues}/summary")).StatusCode);
    }

    [Fact]
    public async Task Summary_TotalsPerDoorAndKind_AndGroupsPerFieldAndReason()
    {
        var sent = await SendLangSmithBatchAsync();
        await NativeBatchAsync(app, sent.Team.Id, "bad-1", "bad-2");
        await NativeBatchAsync(app, sent.Team.Id, "bad-1");
        await IssuesAsync(sent.Reader, count: 4);

        var summary = await sent.Reader.GetJsonAsync($"{Issues}/summary");

        var totals = summary.GetProperty("totals").EnumerateArray()
            .Select(t => (t.GetProperty("door").GetString(), t.GetProperty("kind").GetString(), t.GetProperty("count").GetInt64())).ToArray();
        Assert.Equal([("batch", "refused", 3L), ("langsmith", "refused", 1L), ("langsmith", "adjusted", 1L)], totals);
        var groups = summary.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(3, groups.Count);
        // The most frequent first: two traces' latency, three times in all.
        Assert.Equal(("batch", "latency_ms", 3L), (groups[0].GetProperty("door").GetString(), groups[0].GetProperty("field").GetString(), groups[0].GetProperty("count").GetInt64()));
        var since = summary.GetProperty("since").GetDateTimeOffset();
        var earliest = TimeProvider.System.GetUtcNow() - IngestionIssueLimits.Retention;
        Assert.InRange(since, earliest - TimeSpan.FromMinutes(1), earliest + TimeSpan.FromMinutes(1));

        var filtered = await sent.Reader.GetJsonAsync($"{Issues}/summary?door=langsmith&kind=adjusted");
        Assert.Equal(("langsmith", "adjusted", 1L), filtered.GetProperty("totals").EnumerateArray()
            .Select(t => (t.GetProperty("door").GetString(), t.GetProperty("kind").GetString(), t.GetProperty("count").GetInt64())).Single());
    }
}

public sealed class IngestionIssuesApiPostgresTests(PostgresAppFactory app) : IngestionIssuesApiTests(app), IClassFixture<PostgresAppFactory>;

public sealed class IngestionIssuesApiSqliteTests(SqliteAppFactory app) : IngestionIssuesApiTests(app), IClassFixture<SqliteAppFactory>;

/// <summary>The 7-day retention on a clock the test moves: the list stops answering for old rows, and the purge deletes them.</summary>
public abstract class IngestionIssueRetentionTests(ClockedAppFactory app)
{
    [Fact]
    public async Task RowsOlderThanSevenDays_AreNoLongerListed_AndThePurgeDeletesThem()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app);
        var log = app.Services.GetRequiredService<IngestionIssueLog>();
        var oldTrace = Guid.NewGuid().ToString();
        Assert.Equal(HttpStatusCode.OK, (await api.PostJsonAsync("/api/v1/traces/batch", new
        {
            traces = new object[] { new { external_id = oldTrace, user_input = "x", latency_ms = -5 }, new { external_id = Guid.NewGuid().ToString(), user_input = "ok" } },
        })).StatusCode);
        Assert.Single((await api.GetJsonAsync($"/api/v1/ingestion/issues?trace_id={oldTrace}")).GetProperty("items").EnumerateArray());

        app.Clock.Advance(TimeSpan.FromDays(6));
        var recentTrace = Guid.NewGuid().ToString();
        Assert.Equal(HttpStatusCode.OK, (await api.PostJsonAsync("/api/v1/traces/batch", new
        {
            traces = new object[] { new { external_id = recentTrace, user_input = "x", latency_ms = -5 }, new { external_id = Guid.NewGuid().ToString(), user_input = "ok" } },
        })).StatusCode);
        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));

        var listed = (await api.GetJsonAsync("/api/v1/ingestion/issues")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(recentTrace, Assert.Single(listed).GetProperty("trace_id").GetString());
        var totals = (await api.GetJsonAsync("/api/v1/ingestion/issues/summary")).GetProperty("totals").EnumerateArray().ToList();
        Assert.Equal(1, Assert.Single(totals).GetProperty("count").GetInt64());

        // The background writer may have purged already on the clock's move; either way the old row is gone and the recent one stays.
        await log.PurgeAsync();
        Assert.Equal(0, await log.PurgeAsync());
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var stored = await db.IngestionIssues.IgnoreQueryFilters().Where(i => i.TeamId == team.Id).Select(i => i.TraceKey).ToListAsync();
        Assert.Equal([recentTrace], stored);
    }
}

public sealed class IngestionIssueRetentionPostgresTests(ClockedPostgresAppFactory app) : IngestionIssueRetentionTests(app), IClassFixture<ClockedPostgresAppFactory>;

public sealed class IngestionIssueRetentionSqliteTests(ClockedSqliteAppFactory app) : IngestionIssueRetentionTests(app), IClassFixture<ClockedSqliteAppFactory>;
