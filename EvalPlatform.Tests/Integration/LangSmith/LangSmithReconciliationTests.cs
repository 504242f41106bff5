using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// The dry run before a backfill (what it would import: runs, traces, date range; nothing stored) and the reconciliation
/// after it (LangSmith's runs against the traces and spans stored here and the import log), through the API.
/// </summary>
public abstract class LangSmithReconciliationTests(LangSmithConnectorAppFactory app)
{
    private const string Route = "/api/v1/integrations/langsmith";

    [Fact]
    public async Task DryRun_CountsWhatTheBackfillWouldImport_StoringNothing_ThenReconciliationBalances_AndShowsWhatIsMissing()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _api = api;
        var project = app.LangSmith.AddProject(TestData.Unique("proj"), app.Clock.GetUtcNow().AddDays(-60));
        var t0 = new DateTimeOffset(2026, 2, 3, 10, 0, 0, TimeSpan.Zero);
        // 45 traces of 3 runs: 135 runs over two pages (the dry run pages as the import does).
        app.LangSmith.AddRuns(project, Enumerable.Range(0, 45).SelectMany(i => FakeLangSmithServer.Trace(t0.AddHours(i), i)));
        var created = await api.PostJsonAsync(Route, new { api_url = app.LangSmith.ApiUrl, api_key = FakeLangSmithServer.Key, projects = new[] { new { name = project.Name } } });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();

        var dry = await (await api.PostJsonAsync($"{Route}/{id}/dry-run", new { })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(1, dry!["projects"]!.GetValue<int>());
        Assert.Equal(135, dry["runs"]!.GetValue<long>());
        Assert.Equal(45, dry["traces"]!.GetValue<long>());
        Assert.True(dry["complete"]!.GetValue<bool>());
        Assert.Equal(t0, dry["earliest"]!.GetValue<DateTimeOffset>());
        Assert.Equal(t0.AddHours(44).AddMilliseconds(701), dry["latest"]!.GetValue<DateTimeOffset>());
        Assert.Equal(0, await app.ReadAsync(team, db => db.Traces.CountAsync()));

        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        var rec = (await api.GetJsonAsync($"{Route}/{id}/reconciliation"));
        Assert.True(rec.GetProperty("balanced").GetBoolean(), rec.ToString());
        var p = rec.GetProperty("projects")[0];
        Assert.Equal(135, p.GetProperty("lang_smith_runs").GetInt64());
        Assert.Equal(135, p.GetProperty("spans_stored").GetInt64());
        Assert.Equal(45, p.GetProperty("traces_stored").GetInt64());
        Assert.Equal(0, p.GetProperty("missing_runs").GetInt64());

        // New runs in LangSmith not synced yet: the reconciliation says what is missing.
        app.LangSmith.AddRuns(project, FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddMinutes(-5), 99));
        rec = await api.GetJsonAsync($"{Route}/{id}/reconciliation");
        Assert.False(rec.GetProperty("balanced").GetBoolean());
        p = rec.GetProperty("projects")[0];
        Assert.Equal(3, p.GetProperty("missing_runs").GetInt64());
        Assert.Equal(1, p.GetProperty("missing_traces").GetInt64());

        // Another team cannot count or reconcile this connection.
        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _other = other;
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostJsonAsync($"{Route}/{id}/dry-run", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"{Route}/{id}/reconciliation")).StatusCode);
    }

    [Fact]
    public async Task ADeletedProject_IsTheProjectsError_NotACount()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _api = api;
        var project = app.LangSmith.AddProject(TestData.Unique("proj"), app.Clock.GetUtcNow().AddDays(-60));
        var created = await api.PostJsonAsync(Route, new { api_url = app.LangSmith.ApiUrl, api_key = FakeLangSmithServer.Key, projects = new[] { new { name = project.Name } } });
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        app.LangSmith.DeleteProject(project.Id);

        var dry = await api.GetJsonAsync($"{Route}/{id}/reconciliation");
        Assert.False(dry.GetProperty("balanced").GetBoolean());
        Assert.Contains("404", dry.GetProperty("projects")[0].GetProperty("error").GetString(), StringComparison.Ordinal);
        var run = await (await api.PostJsonAsync($"{Route}/{id}/dry-run", new { })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.False(run!["complete"]!.GetValue<bool>());
        Assert.Equal(0, await app.ReadAsync(team, db => db.Traces.CountAsync()));
    }
}

public sealed class PostgresLangSmithReconciliationTests(LangSmithConnectorPostgresAppFactory app)
    : LangSmithReconciliationTests(app), IClassFixture<LangSmithConnectorPostgresAppFactory>;

public sealed class SqliteLangSmithReconciliationTests(LangSmithConnectorSqliteAppFactory app)
    : LangSmithReconciliationTests(app), IClassFixture<LangSmithConnectorSqliteAppFactory>;
