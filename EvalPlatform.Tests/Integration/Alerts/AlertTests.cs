using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Alerts;

/// <summary>The app on a controlled clock with a recording outbox (<see cref="RecordingOutbox"/>) in place of the real one.</summary>
public abstract class AlertAppFactory(TestDatabase database, bool redis) : ClockedAppFactory(database, redis)
{
    public NotificationRecorder Notifications { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s => RecordingOutbox.Register(s, Notifications));
    }
}

public sealed class AlertPostgresAppFactory() : AlertAppFactory(TestDatabase.Postgres, redis: true);

public sealed class AlertSqliteAppFactory() : AlertAppFactory(TestDatabase.Sqlite, redis: false);

/// <summary>
/// Alert rules end to end on each database: the API (snake_case, 400s naming the field, scopes), the minute evaluation over
/// real traces (firing per group, resolving, notifications committed with their state change), acknowledge and snooze,
/// the preview, retention, and isolation between teams.
/// </summary>
public abstract class AlertTests(AlertAppFactory app)
{
    private const ApiKeyScopes All = ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin;

    private static object ErrorRule(string name = "Errors per user", string groupBy = "user_id", int minSamples = 5) => new
    {
        name, metric = "error_rate", window_minutes = 15, condition = new { op = "above", value = 0.2 }, for_evaluations = 1,
        min_samples = minSamples, cooldown_minutes = 0, group_by = groupBy, severity = "critical",
    };

    private static async Task<Guid> CreateRuleAsync(ApiClient api, object rule)
    {
        var response = await api.PostJsonAsync("/api/v1/alerts/rules", rule);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
    }

    private static async Task PostTracesAsync(ApiClient api, string user, int count, int errors, DateTimeOffset? start = null)
    {
        for (var i = 0; i < count; i++)
        {
            await api.PostTraceAsync(new
            {
                user_input = "q", response = "a", model = "gpt-4o", user_id = user, error = i < errors ? "upstream timeout" : null,
                start_time = start?.ToString("O", CultureInfo.InvariantCulture),
            });
        }
    }

    private async Task<AlertRun> EvaluateAsync() => await app.Services.GetRequiredService<AlertRunner>().EvaluateAllAsync();

    [Fact]
    public async Task ARuleFiresForTheGroupThatBreaches_ThenResolves_AndEachNotificationCommitsWithItsState()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        var ruleId = await CreateRuleAsync(api, ErrorRule());
        await PostTracesAsync(api, "123", 10, errors: 4);
        await PostTracesAsync(api, "456", 10, errors: 0);
        await PostTracesAsync(api, "789", 2, errors: 2);

        await EvaluateAsync();

        var firing = Assert.Single(app.Notifications.Of(team.Id));
        Assert.Equal(NotificationEventTypes.AlertFiring, firing.Type);
        Assert.Equal(NotificationSeverity.Critical, firing.Severity);
        Assert.Equal("Errors per user for user 123", firing.Title);
        Assert.Equal("Error rate for user 123 is 40 % (above 20 %) over the last 15 min, 10 traces.", firing.Text);
        Assert.StartsWith("/traces?user_id=123&from=", firing.Link, StringComparison.Ordinal);
        Assert.Equal(ruleId, firing.Data["rule_id"]!.GetValue<Guid>());
        Assert.Equal(("123", 0.4, 0.2, 15, "firing"), (firing.Data["group"]!.GetValue<string>(), firing.Data["value"]!.GetValue<double>(),
            firing.Data["threshold"]!.GetValue<double>(), firing.Data["window_minutes"]!.GetValue<int>(), firing.Data["state"]!.GetValue<string>()));

        var rule = await api.GetJsonAsync($"/api/v1/alerts/rules/{ruleId}");
        Assert.Equal("firing", rule.GetProperty("state").GetString());
        var alerts = rule.GetProperty("alerts").EnumerateArray().ToDictionary(a => a.GetProperty("group").GetString()!, a => a.GetProperty("state").GetString());
        Assert.Equal("firing", alerts["123"]);
        Assert.Equal("no_data", alerts["789"]);
        Assert.False(alerts.ContainsKey("456"));

        // A quarter of an hour later user 123's traces are fine: the alert resolves, once.
        app.Clock.Advance(TimeSpan.FromMinutes(16));
        await PostTracesAsync(api, "123", 10, errors: 0);
        await EvaluateAsync();
        var resolved = app.Notifications.Of(team.Id)[^1];
        Assert.Equal(NotificationEventTypes.AlertResolved, resolved.Type);
        Assert.Equal("Resolved: Errors per user for user 123", resolved.Title);
        Assert.StartsWith("Error rate for user 123 is 0 % (above 20 %) over the last 15 min, 10 traces.", resolved.Text, StringComparison.Ordinal);
        await EvaluateAsync();
        Assert.Equal(2, app.Notifications.Of(team.Id).Count);

        var events = (await api.GetJsonAsync("/api/v1/alerts/events")).GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(["firing->resolved", "ok->firing"],
            events.Where(e => e.GetProperty("group").GetString() == "123").Select(e => $"{e.GetProperty("from").GetString()}->{e.GetProperty("to").GetString()}"));
        Assert.Equal(firing.Text, events.Single(e => e.GetProperty("group").GetString() == "123" && e.GetProperty("to").GetString() == "firing").GetProperty("message").GetString());

        var evaluations = (await api.GetJsonAsync($"/api/v1/alerts/rules/{ruleId}/evaluations?group=123")).EnumerateArray().ToList();
        Assert.Equal(["clear", "clear", "breaching"], evaluations.Select(e => e.GetProperty("decision").GetString()));
        Assert.Equal((0.4, 10), (evaluations[^1].GetProperty("value").GetDouble(), evaluations[^1].GetProperty("samples").GetInt32()));
        Assert.Equal("too_few_samples", (await api.GetJsonAsync($"/api/v1/alerts/rules/{ruleId}/evaluations?group=789")).EnumerateArray().Last().GetProperty("decision").GetString());
    }

    [Fact]
    public async Task TheLiveEdgeAndTheRollupsGiveTheSameDecision()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateRuleAsync(api, ErrorRule("Errors", "none"));
        var earlier = app.Clock.GetUtcNow() - TimeSpan.FromMinutes(10);
        await PostTracesAsync(api, "a", 6, errors: 3, start: earlier);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IMetricsRollup>().RollUpAsync();
        }

        await PostTracesAsync(api, "a", 4, errors: 0);
        await EvaluateAsync();

        var firing = Assert.Single(app.Notifications.Of(team.Id));
        Assert.Equal("Error rate is 30 % (above 20 %) over the last 15 min, 10 traces.", firing.Text);
    }

    [Fact]
    public async Task OneTeamsFailingRule_DoesNotStopAnothers_AndNothingOfItCommits()
    {
        var (a, teamA) = await ApiClient.ForNewTeamAsync(app, All);
        var (b, teamB) = await ApiClient.ForNewTeamAsync(app, All);
        var volume = new { name = "Traffic", metric = "traces", window_minutes = 5, condition = new { op = "below", value = 1000 } };
        var ruleA = await CreateRuleAsync(a, volume);
        await CreateRuleAsync(b, volume);
        app.Notifications.FailFor[teamA.Id] = true;
        try
        {
            var run = await EvaluateAsync();
            Assert.True(run.Failed >= 1);
        }
        finally
        {
            app.Notifications.FailFor.TryRemove(teamA.Id, out _);
        }

        Assert.Empty(app.Notifications.Of(teamA.Id));
        Assert.Equal("Traces is 0 (below 1,000) over the last 5 min, 0 traces.", Assert.Single(app.Notifications.Of(teamB.Id)).Text);
        var stateA = await a.GetJsonAsync($"/api/v1/alerts/rules/{ruleA}");
        Assert.Equal("ok", stateA.GetProperty("state").GetString());
        Assert.Empty(stateA.GetProperty("alerts").EnumerateArray());
        Assert.Empty((await a.GetJsonAsync("/api/v1/alerts/events")).GetProperty("events").EnumerateArray());

        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await EvaluateAsync();
        Assert.Equal(NotificationEventTypes.AlertFiring, Assert.Single(app.Notifications.Of(teamA.Id)).Type);
    }

    [Fact]
    public async Task NoRuleEventOrEvaluation_CrossesTeams_AndOthersTracesNeverCount()
    {
        var (a, teamA) = await ApiClient.ForNewTeamAsync(app, All);
        var (b, _) = await ApiClient.ForNewTeamAsync(app, All);
        var ruleA = await CreateRuleAsync(a, ErrorRule("Errors", "none"));
        var ruleB = await CreateRuleAsync(b, ErrorRule("Errors", "none"));
        await PostTracesAsync(b, "123", 10, errors: 10);
        await PostTracesAsync(a, "123", 10, errors: 0);
        await EvaluateAsync();

        Assert.Empty(app.Notifications.Of(teamA.Id));
        Assert.Equal("firing", (await b.GetJsonAsync($"/api/v1/alerts/rules/{ruleB}")).GetProperty("state").GetString());
        Assert.Equal("ok", (await a.GetJsonAsync($"/api/v1/alerts/rules/{ruleA}")).GetProperty("state").GetString());
        Assert.Equal([ruleA], (await a.GetJsonAsync("/api/v1/alerts/rules")).EnumerateArray().Select(r => r.GetProperty("id").GetGuid()));
        Assert.Empty((await a.GetJsonAsync("/api/v1/alerts/events")).GetProperty("events").EnumerateArray());
        Assert.Empty((await a.GetJsonAsync($"/api/v1/alerts/events?rule_id={ruleB}")).GetProperty("events").EnumerateArray());
        foreach (var url in new[] { $"/api/v1/alerts/rules/{ruleB}", $"/api/v1/alerts/rules/{ruleB}/evaluations" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await a.Http.GetAsync(url)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await a.Http.PutAsJsonAsync($"/api/v1/alerts/rules/{ruleB}", ErrorRule("Mine now"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.PostJsonAsync($"/api/v1/alerts/rules/{ruleB}/acknowledge", new { group = "" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.Http.DeleteAsync($"/api/v1/alerts/rules/{ruleB}")).StatusCode);
        Assert.Equal("firing", (await b.GetJsonAsync($"/api/v1/alerts/rules/{ruleB}")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Rules_AreCreatedReadChangedAndDeleted_InSnakeCase()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        var channel = Guid.NewGuid();
        app.Notifications.Channels[team.Id] = [channel];
        var id = await CreateRuleAsync(api, new
        {
            name = "Hallucinations on gpt-4o", metric = "reason_rejection_rate", metric_key = "hallucination",
            filters = new { model = "gpt-4o", environment = "production" }, window_minutes = 60, condition = new { op = "change_pct", value = 50 },
            for_evaluations = 3, min_samples = 20, cooldown_minutes = 30, group_by = "environment", severity = "warning", channel_ids = new[] { channel },
        });

        var rule = await api.GetJsonAsync($"/api/v1/alerts/rules/{id}");
        Assert.Equal(("reason_rejection_rate", "hallucination", "gpt-4o", 60), (rule.GetProperty("metric").GetString(), rule.GetProperty("metric_key").GetString(),
            rule.GetProperty("filters").GetProperty("model").GetString(), rule.GetProperty("window_minutes").GetInt32()));
        Assert.Equal(("change_pct", 50.0), (rule.GetProperty("condition").GetProperty("op").GetString(), rule.GetProperty("condition").GetProperty("value").GetDouble()));
        Assert.Equal((3, 20, 30, "environment", "warning", true), (rule.GetProperty("for_evaluations").GetInt32(), rule.GetProperty("min_samples").GetInt32(),
            rule.GetProperty("cooldown_minutes").GetInt32(), rule.GetProperty("group_by").GetString(), rule.GetProperty("severity").GetString(), rule.GetProperty("enabled").GetBoolean()));
        Assert.Equal([channel], rule.GetProperty("channel_ids").EnumerateArray().Select(c => c.GetGuid()));

        var put = await api.Http.PutAsJsonAsync($"/api/v1/alerts/rules/{id}", new
        {
            name = "Latency", metric = "latency_p95", window_minutes = 30, condition = new { op = "anomaly", value = 3.5 }, enabled = false,
        });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var changed = await put.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("Latency", "anomaly", "none", false), (changed.GetProperty("name").GetString(), changed.GetProperty("condition").GetProperty("op").GetString(),
            changed.GetProperty("group_by").GetString(), changed.GetProperty("enabled").GetBoolean()));

        Assert.Equal(HttpStatusCode.NoContent, (await api.Http.DeleteAsync($"/api/v1/alerts/rules/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.GetAsync($"/api/v1/alerts/rules/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("""{"metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2}}""", "name")]
    [InlineData("""{"name":"x","metric":"vibes","window_minutes":15,"condition":{"op":"above","value":0.2}}""", "metric")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":4,"condition":{"op":"above","value":0.2}}""", "window_minutes")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":1441,"condition":{"op":"above","value":0.2}}""", "window_minutes")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":"soon","condition":{"op":"above","value":0.2}}""", "window_minutes")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15}""", "condition")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"sideways","value":0.2}}""", "condition.op")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":20}}""", "condition.value")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"anomaly","value":0}}""", "condition.value")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"change_pct","value":0}}""", "condition.value")]
    [InlineData("""{"name":"x","metric":"score_mean","window_minutes":15,"condition":{"op":"below","value":0.5}}""", "metric_key")]
    [InlineData("""{"name":"x","metric":"error_rate","metric_key":"k","window_minutes":15,"condition":{"op":"above","value":0.2}}""", "metric_key")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"group_by":"colour"}""", "group_by")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"severity":"loud"}""", "severity")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"for_evaluations":0}""", "for_evaluations")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"min_samples":-1}""", "min_samples")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"cooldown_minutes":-5}""", "cooldown_minutes")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"channel_ids":["0190c5d2-0000-7000-8000-000000000001"]}""", "channel_ids")]
    [InlineData("""{"name":"x","metric":"error_rate","window_minutes":15,"condition":{"op":"above","value":0.2},"colour":"red"}""", "colour")]
    public async Task BadInput_Is400_NamingTheField(string body, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);

        var response = await api.PostJsonAsync("/api/v1/alerts/rules", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"\"{field}\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADuplicateName_Is400_NamingIt()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateRuleAsync(api, ErrorRule("Errors"));

        var response = await api.PostJsonAsync("/api/v1/alerts/rules", ErrorRule("errors"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"name\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReadKeyLists_ButOnlyAnAdminKeyManages_AndNoKeyIs401()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, All);
        var id = await CreateRuleAsync(admin, ErrorRule());
        var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);

        Assert.Single((await reader.GetJsonAsync("/api/v1/alerts/rules")).EnumerateArray());
        Assert.Equal(HttpStatusCode.OK, (await reader.Http.GetAsync("/api/v1/alerts/events")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostJsonAsync("/api/v1/alerts/rules", ErrorRule("Other"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.Http.DeleteAsync($"/api/v1/alerts/rules/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostJsonAsync($"/api/v1/alerts/rules/{id}/snooze", new { minutes = 10 })).StatusCode);
        using var anonymous = app.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/alerts/rules")).StatusCode);
    }

    [Fact]
    public async Task AFiringAlert_IsAcknowledgedAndSnoozed_AndEvaluationsAreKeptAWeek()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        var id = await CreateRuleAsync(api, ErrorRule("Errors", "none"));
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostJsonAsync($"/api/v1/alerts/rules/{id}/acknowledge", new { })).StatusCode);
        await PostTracesAsync(api, "u", 10, errors: 5);
        await EvaluateAsync();
        app.Clock.Advance(TimeSpan.FromSeconds(5));

        var ack = await api.PostJsonAsync($"/api/v1/alerts/rules/{id}/acknowledge", new { });
        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        Assert.StartsWith("API key ", (await ack.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("acknowledged_by").GetString(), StringComparison.Ordinal);
        app.Clock.Advance(TimeSpan.FromSeconds(5));
        var snooze = await api.PostJsonAsync($"/api/v1/alerts/rules/{id}/snooze", new { minutes = 30 });
        Assert.Equal(app.Clock.GetUtcNow() + TimeSpan.FromMinutes(30), (await snooze.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("snoozed_until").GetDateTimeOffset());
        var bad = await api.PostJsonAsync($"/api/v1/alerts/rules/{id}/snooze", new { minutes = 99999 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var messages = (await api.GetJsonAsync($"/api/v1/alerts/events?rule_id={id}")).GetProperty("events").EnumerateArray().Select(e => e.GetProperty("message").GetString()).ToList();
        Assert.StartsWith("Snoozed by API key ", messages[0], StringComparison.Ordinal);
        Assert.StartsWith("Acknowledged by API key ", messages[1], StringComparison.Ordinal);

        // Resolved while snoozed: still announced (it was announced firing); the acknowledgement goes with it.
        app.Clock.Advance(TimeSpan.FromMinutes(16));
        await PostTracesAsync(api, "u", 10, errors: 0);
        await EvaluateAsync();
        Assert.Equal(NotificationEventTypes.AlertResolved, app.Notifications.Of(team.Id)[^1].Type);
        var state = (await api.GetJsonAsync($"/api/v1/alerts/rules/{id}")).GetProperty("alerts")[0];
        Assert.Equal(("resolved", JsonValueKind.Null), (state.GetProperty("state").GetString(), state.GetProperty("acknowledged_at").ValueKind));
        Assert.Equal(HttpStatusCode.Conflict, (await api.PostJsonAsync($"/api/v1/alerts/rules/{id}/acknowledge", new { })).StatusCode);

        Assert.Equal(2, (await api.GetJsonAsync($"/api/v1/alerts/rules/{id}/evaluations")).GetArrayLength());
        app.Clock.Advance(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));
        await EvaluateAsync();
        Assert.True(await app.Services.GetRequiredService<AlertRunner>().PurgeEvaluationsAsync() >= 2);
        Assert.Equal(1, (await api.GetJsonAsync($"/api/v1/alerts/rules/{id}/evaluations")).GetArrayLength());
    }

    [Fact]
    public async Task EventsArePaged_NewestFirst()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateRuleAsync(api, new { name = "Traffic", metric = "traces", window_minutes = 5, condition = new { op = "below", value = 3 } });
        for (var i = 0; i < 3; i++)
        {
            await EvaluateAsync();
            app.Clock.Advance(TimeSpan.FromMinutes(1));
            await PostTracesAsync(api, "u", 5, 0);
            await EvaluateAsync();
            app.Clock.Advance(TimeSpan.FromMinutes(6));
        }

        var first = await api.GetJsonAsync("/api/v1/alerts/events?limit=4");
        var next = first.GetProperty("next").GetString();
        var second = await api.GetJsonAsync($"/api/v1/alerts/events?limit=4&cursor={next}");
        var all = first.GetProperty("events").EnumerateArray().Concat(second.GetProperty("events").EnumerateArray()).Select(e => e.GetProperty("at").GetDateTimeOffset()).ToList();

        Assert.Equal(6, all.Count);
        Assert.Equal(all.OrderDescending(), all);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.Http.GetAsync("/api/v1/alerts/events?cursor=nonsense")).StatusCode);
    }

    [Fact]
    public async Task Preview_ReplaysTheLastWeek_FromOneRead()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        var spike = MetricInterval.Minute.Floor(app.Clock.GetUtcNow()) - TimeSpan.FromHours(5);
        await PostTracesAsync(api, "u", 10, errors: 6, start: spike);
        await PostTracesAsync(api, "u", 10, errors: 0, start: spike - TimeSpan.FromHours(2));
        await using (var rollup = app.Services.CreateAsyncScope())
        {
            // Traces sent with an earlier start count once a rollup run has seen them (ADR 17), as on the dashboard.
            await rollup.ServiceProvider.GetRequiredService<IMetricsRollup>().RollUpAsync();
        }

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var alerts = scope.ServiceProvider.GetRequiredService<AlertService>();

        var preview = await alerts.PreviewAsync(new AlertRuleDefinition(null, Metric.ErrorRate, null, new AlertFilters(), 15, AlertConditionOp.Above, 0.2, ForEvaluations: 3, MinSamples: 5));

        Assert.Equal(1, preview.Firings);
        var fired = Assert.Single(preview.Points, p => p.Notice == AlertNotice.Firing);
        Assert.Equal(spike + TimeSpan.FromMinutes(3), fired.At);
        Assert.Equal(AlertNotice.Resolved, preview.Points.First(p => p.At == spike + TimeSpan.FromMinutes(15) + TimeSpan.FromMinutes(1)).Notice);
        Assert.Equal(TimeSpan.FromMinutes(1), preview.Step);
        Assert.All(preview.Points.Where(p => p.At <= spike), p => Assert.NotEqual(AlertDecision.Breaching, p.Decision));
    }
}

public sealed class AlertPostgresTests(AlertPostgresAppFactory app) : AlertTests(app), IClassFixture<AlertPostgresAppFactory>;

public sealed class AlertSqliteTests(AlertSqliteAppFactory app) : AlertTests(app), IClassFixture<AlertSqliteAppFactory>;
