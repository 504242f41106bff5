using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// <c>trace.created</c> with a filter: validated at the API (400 naming <c>filters.{name}</c>), read back, applied in the
/// ingestion group commit; and one team's channel whose stored filter cannot be applied loses or fails nothing of another
/// team's traces or events in the same group.
/// </summary>
public abstract class TraceCreatedFilterTests(NotificationAppFactory app)
{
    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private async Task<(ApiClient Api, Guid TeamId)> TeamAsync()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        return (api, team.Id);
    }

    private string Hook() => app.Receiver.HookUrl($"created-{Guid.NewGuid():N}");

    [Fact]
    public async Task Filters_AreValidated_NamingTheField_AndReadBack()
    {
        var (api, _) = await TeamAsync();
        using var _api = api;
        async Task<string?> RefusedAsync(object body)
        {
            var problem = await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels", body), HttpStatusCode.BadRequest);
            return problem.GetProperty("errors").EnumerateObject().Single().Name;
        }

        Assert.Equal("filters.modell", await RefusedAsync(new { name = "a", type = "webhook", url = Hook(), event_types = new[] { "trace.created" }, filters = new { modell = "gpt-4o" } }));
        Assert.Equal("filters.error", await RefusedAsync(new { name = "a", type = "webhook", url = Hook(), event_types = new[] { "trace.created" }, filters = new { error = "yes" } }));
        Assert.Equal("filters.model", await RefusedAsync(new { name = "a", type = "webhook", url = Hook(), event_types = new[] { "trace.created" }, filters = new { model = "" } }));
        Assert.Equal("filters", await RefusedAsync(new { name = "a", type = "webhook", url = Hook(), event_types = new[] { "alert.firing" }, filters = new { model = "gpt-4o" } }));

        var created = await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels", new
        {
            name = "failures", type = "webhook", url = Hook(), event_types = new[] { "trace.created" }, filters = new { model = "gpt-4o", environment = "production", error = true },
        }), HttpStatusCode.Created);
        var id = created.GetProperty("channel").GetProperty("id").GetGuid();
        var read = await api.GetJsonAsync($"/api/v1/notification-channels/{id}");
        Assert.Equal("""{"model":"gpt-4o","environment":"production","error":true}""", read.GetProperty("filters").GetRawText());

        var updated = await JsonAsync(await api.PutJsonAsync($"/api/v1/notification-channels/{id}", new { name = "all", url = Hook(), event_types = new[] { "trace.created" } }), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("filters").ValueKind);
    }

    [Fact]
    public async Task AFilteredChannel_GetsOnlyTheTracesItsFilterMatches()
    {
        var (api, _) = await TeamAsync();
        using var _api = api;
        var created = await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels", new
        {
            name = "gpt failures", type = "webhook", url = Hook(), event_types = new[] { "trace.created" }, filters = new { model = "gpt-4o", tag = "checkout", error = true },
        }), HttpStatusCode.Created);
        var everything = await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels", new
        {
            name = "lake", type = "webhook", url = Hook(), event_types = new[] { "trace.created" },
        }), HttpStatusCode.Created);
        var batch = await api.PostJsonAsync("/api/v1/traces/batch", new
        {
            traces = new object[]
            {
                new { external_id = "wanted", user_input = "q", response = "a", model = "gpt-4o", tags = new[] { "checkout" }, error = "timeout" },
                new { external_id = "no-error", user_input = "q", response = "a", model = "gpt-4o", tags = new[] { "checkout" } },
                new { external_id = "other-model", user_input = "q", response = "a", model = "claude", tags = new[] { "checkout" }, error = "timeout" },
                new { external_id = "other-tag", user_input = "q", response = "a", model = "gpt-4o", tags = new[] { "search" }, error = "timeout" },
            },
        });
        Assert.True(batch.IsSuccessStatusCode, await batch.Content.ReadAsStringAsync());

        var filtered = await api.GetJsonAsync($"/api/v1/notification-channels/{created.GetProperty("channel").GetProperty("id").GetGuid()}/deliveries");
        var all = await api.GetJsonAsync($"/api/v1/notification-channels/{everything.GetProperty("channel").GetProperty("id").GetGuid()}/deliveries");
        Assert.Equal(1, filtered.GetProperty("items").GetArrayLength());
        Assert.Equal(4, all.GetProperty("items").GetArrayLength());
        await app.DeliverAsync();
        var received = app.Receiver.All.Where(r => r.Body.Contains("\"wanted\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, received.Count);
        var data = JsonDocument.Parse(received[0].Body).RootElement.GetProperty("data");
        Assert.Equal(("gpt-4o", "checkout", "timeout"), (data.GetProperty("model").GetString(), data.GetProperty("tags")[0].GetString(), data.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task ABadTeamsChannel_InTheSameGroupCommit_DoesNotLoseOrFailAnotherTeamsTraces()
    {
        var (badApi, bad) = await TeamAsync();
        var (goodApi, good) = await TeamAsync();
        using var _bad = badApi;
        using var _good = goodApi;
        var badChannel = (await JsonAsync(await badApi.PostJsonAsync("/api/v1/notification-channels", new
        {
            name = "broken", type = "webhook", url = Hook(), event_types = new[] { "trace.created" }, filters = new { model = "gpt-4o" },
        }), HttpStatusCode.Created)).GetProperty("channel").GetProperty("id").GetGuid();
        var goodChannel = (await JsonAsync(await goodApi.PostJsonAsync("/api/v1/notification-channels", new
        {
            name = "lake", type = "webhook", url = Hook(), event_types = new[] { "trace.created" },
        }), HttpStatusCode.Created)).GetProperty("channel").GetProperty("id").GetGuid();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            // A stored filter that cannot be applied (written by an older version, or by hand).
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            await db.NotificationChannels.IgnoreQueryFilters().Where(c => c.Id == badChannel)
                .ExecuteUpdateAsync(u => u.SetProperty(c => c.TraceFilter, """{"model":42}"""));
        }

        // One group commit, both teams: the bad team's request first.
        var badTrace = NewTrace(bad, "gpt-4o");
        var goodTraces = new[] { NewTrace(good, "gpt-4o"), NewTrace(good, "claude") };
        IReadOnlyList<StoreResult> results;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            results = await scope.ServiceProvider.GetRequiredService<ITraceStore>().StoreAsync(
            [
                new StoreRequest(bad, [new ParsedTrace(badTrace, 0)]),
                new StoreRequest(good, goodTraces.Select((t, i) => new ParsedTrace(t, i)).ToList()),
            ]);
        }

        Assert.All(results, r => Assert.Empty(r.Refused));
        Assert.Equal([1, 2], results.Select(r => r.Traces.Count(t => t.Created)));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            Assert.Equal(1, await db.Traces.IgnoreQueryFilters().CountAsync(t => t.TeamId == bad));
            Assert.Equal(2, await db.Traces.IgnoreQueryFilters().CountAsync(t => t.TeamId == good));
            var goodRows = await db.NotificationDeliveries.IgnoreQueryFilters().Where(d => d.ChannelId == goodChannel).ToListAsync();
            Assert.Equal(2, goodRows.Count);
            Assert.Equal(0, await db.NotificationDeliveries.IgnoreQueryFilters().CountAsync(d => d.TeamId == bad));
        }

        // The bad team's next traces are stored too, and fixing its channel's filter brings its events back.
        var fixedFilter = await JsonAsync(await badApi.PutJsonAsync($"/api/v1/notification-channels/{badChannel}", new
        {
            name = "fixed", url = Hook(), event_types = new[] { "trace.created" }, filters = new { model = "gpt-4o" },
        }), HttpStatusCode.OK);
        Assert.Equal("gpt-4o", fixedFilter.GetProperty("filters").GetProperty("model").GetString());
        var batch = await badApi.PostJsonAsync("/api/v1/traces/batch", new { traces = new[] { new { user_input = "q", response = "a", model = "gpt-4o" } } });
        Assert.True(batch.IsSuccessStatusCode, await batch.Content.ReadAsStringAsync());
        Assert.Equal(1, (await badApi.GetJsonAsync($"/api/v1/notification-channels/{badChannel}/deliveries")).GetProperty("items").GetArrayLength());
    }

    private Trace NewTrace(Guid teamId, string model)
    {
        var now = app.Clock.GetUtcNow();
        var id = Uuid7.Create(now);
        return new Trace
        {
            Id = id, TeamId = teamId, ExternalId = $"group-{id:N}", ContentHash = [1], SortKey = Trace.MakeSortKey(now, id), Model = model,
            StartedAt = now, CreatedAt = now, UpdatedAt = now,
        };
    }
}

public sealed class PostgresTraceCreatedFilterTests(NotificationPostgresAppFactory app) : TraceCreatedFilterTests(app), IClassFixture<NotificationPostgresAppFactory>;

public sealed class SqliteTraceCreatedFilterTests(NotificationSqliteAppFactory app) : TraceCreatedFilterTests(app), IClassFixture<NotificationSqliteAppFactory>;
