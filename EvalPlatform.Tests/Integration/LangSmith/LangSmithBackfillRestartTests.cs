using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// A 10,002-run backfill (3,334 traces) killed in the middle, then resumed by a new host on the same database from the
/// saved cursor: every trace and every run is stored exactly once, and the resumed host does not start over.
/// </summary>
public sealed class LangSmithBackfillRestartTests : IAsyncLifetime
{
    private const int Traces = 3_334;
    private readonly LangSmithConnectorAppFactory _first = new LangSmithConnectorPostgresAppFactory();
    private LangSmithConnectorAppFactory? _second;

    public Task InitializeAsync() => _first.InitializeAsync();

    /// <summary>The second host goes first: the first one owns the database (and drops it).</summary>
    public async Task DisposeAsync()
    {
        if (_second is not null)
        {
            await ((IAsyncLifetime)_second).DisposeAsync();
        }

        await ((IAsyncLifetime)_first).DisposeAsync();
    }

    [Fact]
    public async Task Backfill_KilledInTheMiddle_ResumesOnANewHost_AndStoresEveryTraceOnce()
    {
        var fake = _first.LangSmith;
        var (admin, team) = await ApiClient.ForNewTeamAsync(_first, ApiKeyScopes.Admin);
        using var _admin = admin;
        var project = fake.AddProject("backfill", _first.Clock.GetUtcNow().AddDays(-90));
        var t0 = _first.Clock.GetUtcNow().AddDays(-30);
        fake.AddRuns(project, Enumerable.Range(0, Traces).SelectMany(i => FakeLangSmithServer.Trace(t0.AddSeconds(i * 7), i, (i % 3) switch { 0 => "openai", 1 => "anthropic", _ => "langchain" })));
        var response = await admin.PostJsonAsync("/api/v1/integrations/langsmith", new { api_url = fake.ApiUrl, api_key = FakeLangSmithServer.Key, projects = new[] { new { name = "backfill" } } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();

        // Killed while it asks for page 40: whatever it was doing is cut off, and that host is never used again.
        using var kill = new CancellationTokenSource();
        var before = fake.QueryCount;
        fake.QueryReceived = n =>
        {
            if (n == before + 40)
            {
                kill.Cancel();
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _first.SyncAsync(team.Id, id, kill.Token));
        fake.QueryReceived = null;
        var halfway = await _first.ReadAsync(team, db => db.LangSmithProjects.SingleAsync());
        Assert.True(halfway.PassActive);
        Assert.NotNull(halfway.Cursor);
        Assert.InRange(halfway.RunsSeen, 3_000, 4_000);

        // A new host on the same database (and the same LangSmith) resumes from the saved cursor.
        _second = new LangSmithConnectorAppFactory(TestDatabase.Postgres, redis: true, _first.ConnectionString, fake);
        await _second.InitializeAsync();
        var queriesBefore = fake.QueryCount;
        var outcome = await _second.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        Assert.InRange(fake.QueryCount - queriesBefore, 60, 63); // the rest of the 101 pages, not all of them again

        var (traces, runs, distinctRuns) = await _second.ReadAsync(team, async db => (
            await db.Traces.CountAsync(),
            await db.Spans.CountAsync(s => s.ExternalId != null),
            await db.Spans.Where(s => s.ExternalId != null).Select(s => s.ExternalId).Distinct().CountAsync()));
        Assert.Equal(Traces, traces);
        Assert.Equal(Traces * 3, runs);
        Assert.Equal(Traces * 3, distinctRuns);
        var done = await _second.ReadAsync(team, db => db.LangSmithProjects.SingleAsync());
        Assert.True(done.BackfillDone);
        Assert.Equal(Traces * 3, done.RunsImported);
        Assert.Equal(Traces, done.TracesImported);
    }
}
