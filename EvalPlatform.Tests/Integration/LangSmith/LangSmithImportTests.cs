using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// The import against the fake LangSmith: whole traces through the existing run mapper, tagged with their project; feedback
/// as LangSmith scores with its own author and time; idempotent by run id (a second sync, and a run that also came through
/// the compatible endpoint); 429 with Retry-After, 5xx and a page failing once; unmappable runs in the import log while the
/// rest is stored; incremental syncs picking up new and late-finishing runs; pause.
/// </summary>
public abstract class LangSmithImportTests(LangSmithConnectorAppFactory app)
{
    private const string Route = "/api/v1/integrations/langsmith";

    private async Task<(ApiClient Admin, TestTeam Team, FakeLangSmithProject Project, Guid ConnectionId)> ConnectAsync(DateTimeOffset? startTime = null)
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        var project = app.LangSmith.AddProject(TestData.Unique("proj"), app.Clock.GetUtcNow().AddDays(-60));
        var response = await admin.PostJsonAsync(Route, new
        {
            api_url = app.LangSmith.ApiUrl, api_key = FakeLangSmithServer.Key,
            projects = new[] { new { name = project.Name, start_time = startTime?.ToString("O") } },
        });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        return (admin, team, project, id);
    }

    /// <summary>The team's traces (each test has a team of its own), each checked to carry its project's tag.</summary>
    private async Task<List<EvalPlatform.Core.Traces.Trace>> TracesAsync(TestTeam team, string project)
    {
        var traces = await app.ReadAsync(team, db => db.Traces.ToListAsync());
        Assert.All(traces, t => Assert.Contains("project:" + project, t.Tags));
        return traces;
    }

    /// <summary>Equal as stored: PostgreSQL keeps microseconds, SQLite's converter milliseconds.</summary>
    private static void Near(DateTimeOffset expected, DateTimeOffset actual) =>
        Assert.True((expected - actual).Duration() < TimeSpan.FromMilliseconds(1), $"{expected:O} != {actual:O}");

    [Fact]
    public async Task Backfill_StoresWholeMappedTraces_FeedbackAsScoresWithAuthorAndTime_AndASecondSyncStoresNothingTwice()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        var t0 = app.Clock.GetUtcNow().AddDays(-2);
        var runs = new List<JsonObject>();
        string[] styles = ["openai", "anthropic", "langchain"];
        for (var i = 0; i < 7; i++)
        {
            runs.AddRange(FakeLangSmithServer.Trace(t0.AddMinutes(i), i, styles[i % 3]));
        }

        app.LangSmith.AddRuns(project, runs);
        var llmRun = runs[1]["id"]!.GetValue<string>();
        var feedbackId = Guid.NewGuid();
        var feedbackTime = new DateTimeOffset(2026, 5, 4, 3, 2, 1, TimeSpan.Zero);
        app.LangSmith.AddFeedback(new JsonObject
        {
            ["id"] = feedbackId.ToString(), ["run_id"] = llmRun, ["key"] = "correctness", ["score"] = 0.5, ["comment"] = "half right",
            ["created_at"] = feedbackTime.ToString("O"), ["feedback_source"] = new JsonObject { ["type"] = "app", ["user_name"] = "alice@corp.example" },
        });

        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        Assert.Equal(21, outcome.RunsImported);
        Assert.Equal(7, outcome.TracesImported);
        Assert.Equal(1, outcome.ScoresImported);

        var traces = await TracesAsync(team, project.Name);
        Assert.Equal(7, traces.Count);
        var byKey = traces.ToDictionary(t => t.ExternalId!);
        Assert.Equal("gpt-4o-mini", byKey[runs[0]["id"]!.GetValue<string>()].Model);
        Assert.Equal("claude-sonnet-4-5", byKey[runs[3]["id"]!.GetValue<string>()].Model);
        var spans = await app.ReadAsync(team, db => db.Spans.Where(s => s.ExternalId != null).Select(s => s.ExternalId!).ToListAsync());
        Assert.Equal(runs.Select(r => r["id"]!.GetValue<string>()).Order(), spans.Order());
        var score = await app.ReadAsync(team, db => db.Scores.SingleAsync());
        Assert.Equal(feedbackId, score.Id);
        Assert.Equal(ScoreSource.LangSmith, score.Source);
        Assert.Equal("correctness", score.Name);
        Assert.Equal(0.5, score.NumericValue);
        Assert.Equal("langsmith:alice@corp.example", score.Author);
        Assert.Equal(feedbackTime, score.CreatedAt);
        Assert.Equal("half right", score.Comment);

        // The same runs again (a second sync from the overlap window): nothing stored twice.
        app.Clock.Advance(TimeSpan.FromMinutes(20));
        var again = await app.SyncAsync(team.Id, id);
        Assert.True(again.Completed, again.Error);
        Assert.Equal(0, again.RunsImported);
        Assert.Equal(0, again.ScoresImported);
        Assert.Equal(7, (await TracesAsync(team, project.Name)).Count);
        Assert.Equal(1, await app.ReadAsync(team, db => db.Scores.CountAsync()));

        var status = await admin.GetJsonAsync($"{Route}/{id}");
        Assert.Equal(21, status.GetProperty("runs_imported").GetInt64());
        Assert.Equal(7, status.GetProperty("traces_imported").GetInt64());
        Assert.Equal(0, status.GetProperty("errors").GetInt64());
        Assert.True(status.GetProperty("projects")[0].GetProperty("backfill_done").GetBoolean());
        Near(app.Clock.GetUtcNow(), status.GetProperty("last_sync_at").GetDateTimeOffset());
        Near(app.Clock.GetUtcNow().AddMinutes(15), status.GetProperty("next_sync_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task ARunThatCameThroughTheCompatibleEndpoint_IsStoredOnce()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        var runs = FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddHours(-3), 1);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var sdk = app.CreateClient();
        sdk.DefaultRequestHeaders.Add("x-api-key", key.Key);
        var wire = new LangSmithWire();
        foreach (var run in runs)
        {
            var sent = run.DeepClone().AsObject();
            sent["session_name"] = project.Name;
            wire.AddRun("post", sent);
        }

        var posted = await sdk.PostAsync("/api/langsmith/runs/multipart", wire.ToContent());
        Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        app.LangSmith.AddRuns(project, runs);

        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        Assert.Equal(3, outcome.RunsSeen);
        Assert.Equal(0, outcome.RunsImported);
        Assert.Single(await TracesAsync(team, project.Name));
        Assert.Equal(3, await app.ReadAsync(team, db => db.Spans.CountAsync(s => s.ExternalId != null)));
    }

    [Fact]
    public async Task RateLimitsServerErrorsAndAFailingPage_AreWaitedOut_AndEveryRunIsStored()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        var t0 = app.Clock.GetUtcNow().AddDays(-1);
        app.LangSmith.AddRuns(project, Enumerable.Range(0, 80).SelectMany(i => FakeLangSmithServer.Trace(t0.AddSeconds(i), i))); // 240 runs: 3 pages
        var before = app.LangSmith.QueryCount;
        app.LangSmith.NextError(429, retryAfter: "1");
        app.LangSmith.NextError(503);
        app.LangSmith.FailQueryOnce = before + 4; // the second page, once (after the 429 and the 503 and the first page)

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(1), "the 429's Retry-After was not waited for");
        Assert.Equal(240, outcome.RunsImported);
        Assert.Equal(80, (await TracesAsync(team, project.Name)).Count);
        Assert.Equal(before + 3 + 3, app.LangSmith.QueryCount); // three pages and three refusals
    }

    [Fact]
    public async Task AnUnmappableRun_GoesToTheImportLog_AndTheRestIsStored()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        var t0 = app.Clock.GetUtcNow().AddHours(-5);
        var good = FakeLangSmithServer.Trace(t0, 1);
        var bad = FakeLangSmithServer.Trace(t0.AddMinutes(1), 2);
        bad[1]["dotted_order"] = "not-a-dotted-order";
        app.LangSmith.AddRuns(project, good.Concat(bad));

        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        Assert.Equal(1, outcome.Errors);
        Assert.Equal(5, outcome.RunsImported);
        var issues = (await admin.GetJsonAsync($"{Route}/{id}/issues")).GetProperty("items").EnumerateArray().ToList();
        var issue = Assert.Single(issues);
        Assert.Equal(bad[1]["id"]!.GetValue<string>(), issue.GetProperty("run_id").GetString());
        Assert.Contains("dotted_order", issue.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, (await admin.GetJsonAsync($"{Route}/{id}")).GetProperty("errors").GetInt64());
    }

    [Fact]
    public async Task IncrementalSync_PicksUpNewRunsAndLateFinishingOnes_WithinTheOverlapWindow()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        var now = app.Clock.GetUtcNow();
        var done = FakeLangSmithServer.Trace(now.AddMinutes(-30), 1);
        var running = FakeLangSmithServer.Trace(now.AddMinutes(-10), 2, finished: false);
        app.LangSmith.AddRuns(project, done.Concat(running));
        Assert.True((await app.SyncAsync(team.Id, id)).Completed);
        var rootId = running[0]["id"]!.GetValue<string>();
        Assert.Null((await TracesAsync(team, project.Name)).Single(t => t.ExternalId == rootId).LatencyMs);

        // Later: a new trace, the running root finished, and a run that started before the last sync but reached LangSmith only now.
        app.Clock.Advance(TimeSpan.FromMinutes(15));
        var late = FakeLangSmithServer.Trace(now.AddMinutes(-12), 3);
        var fresh = FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddMinutes(-1), 4);
        app.LangSmith.AddRuns(project, late.Concat(fresh));
        app.LangSmith.Finish(rootId, now.AddMinutes(-2), new JsonObject { ["answer"] = "done late" });

        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        Assert.Equal(6, outcome.RunsImported);
        var traces = await TracesAsync(team, project.Name);
        Assert.Equal(4, traces.Count);
        Assert.NotNull(traces.Single(t => t.ExternalId == rootId).LatencyMs);
        var rootSpan = await app.ReadAsync(team, db => db.Spans.SingleAsync(s => s.ExternalId == rootId));
        Assert.Contains("done late", rootSpan.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APausedConnection_IsNotImported_AndResumesWhereItStopped()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        app.LangSmith.AddRuns(project, FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddHours(-1), 1));
        Assert.Equal(HttpStatusCode.OK, (await admin.Http.PostAsync($"{Route}/{id}/pause", null)).StatusCode);
        var paused = await app.SyncAsync(team.Id, id);
        Assert.False(paused.Completed);
        Assert.Equal(0, paused.RunsSeen);
        Assert.Empty(await TracesAsync(team, project.Name));

        Assert.Equal(HttpStatusCode.OK, (await admin.Http.PostAsync($"{Route}/{id}/resume", null)).StatusCode);
        Assert.Equal(3, (await app.SyncAsync(team.Id, id)).RunsImported);
    }

    [Fact]
    public async Task RunsImportedToday_CountTheUtcDay_AndStartAgainAfterMidnight_WhileTheTotalGoesOn()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        var now = app.Clock.GetUtcNow();
        var beforeMidnight = LangSmithProgress.Day(now).AddDays(1).AddMinutes(-10);
        app.Clock.SetUtcNow(beforeMidnight > now ? beforeMidnight : beforeMidnight.AddDays(1));
        app.LangSmith.AddRuns(project, Enumerable.Range(0, 2).SelectMany(i => FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddHours(-1).AddMinutes(i), i)));
        Assert.Equal(6, (await app.SyncAsync(team.Id, id)).RunsImported);
        await AssertImportedAsync(admin, id, today: 6, total: 6);

        // Past midnight (UTC) nothing is imported yet today; yesterday's runs stay in the total.
        app.Clock.Advance(TimeSpan.FromMinutes(20));
        await AssertImportedAsync(admin, id, today: 0, total: 6);

        app.LangSmith.AddRuns(project, FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddMinutes(-1), 7));
        Assert.Equal(3, (await app.SyncAsync(team.Id, id)).RunsImported);
        await AssertImportedAsync(admin, id, today: 3, total: 9);
    }

    private static async Task AssertImportedAsync(ApiClient admin, Guid id, long today, long total)
    {
        var status = await admin.GetJsonAsync($"{Route}/{id}");
        Assert.Equal(today, status.GetProperty("runs_imported_today").GetInt64());
        Assert.Equal(total, status.GetProperty("runs_imported").GetInt64());
        var project = status.GetProperty("projects")[0];
        Assert.Equal(today, project.GetProperty("runs_imported_today").GetInt64());
        Assert.Equal(total, project.GetProperty("runs_imported").GetInt64());
        // An in-sync project has no backfill pace.
        Assert.Equal(System.Text.Json.JsonValueKind.Null, project.GetProperty("backfill_runs_per_minute").ValueKind);
    }

    [Fact]
    public async Task AnExpiredKeyOrADeletedProject_IsShownAsTheErrorOfTheSync()
    {
        var (admin, team, project, id) = await ConnectAsync();
        using var _admin = admin;
        app.LangSmith.DeleteProject(project.Id);
        var outcome = await app.SyncAsync(team.Id, id);
        Assert.False(outcome.Completed);
        var status = await admin.GetJsonAsync($"{Route}/{id}");
        Assert.Contains("404", status.GetProperty("projects")[0].GetProperty("last_error").GetString(), StringComparison.Ordinal);
    }
}

public sealed class PostgresLangSmithImportTests(LangSmithConnectorPostgresAppFactory app)
    : LangSmithImportTests(app), IClassFixture<LangSmithConnectorPostgresAppFactory>;

public sealed class SqliteLangSmithImportTests(LangSmithConnectorSqliteAppFactory app)
    : LangSmithImportTests(app), IClassFixture<LangSmithConnectorSqliteAppFactory>;
