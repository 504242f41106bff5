using System.Globalization;
using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Digests;

/// <summary>
/// The daily digest end to end on a controlled clock, with the real outbox and the local fake Slack: due only after the
/// team's local time, once per local date whatever the number of runs (also two at once), figures equal to the analytics
/// engine's for that local day, an empty day, a team that never had a trace, one failing team not stopping the others,
/// isolation between teams, the Slack message's Block Kit shape, and the settings API with its 400s and scopes.
/// </summary>
public abstract class DigestTests(NotificationAppFactory app)
{
    private const ApiKeyScopes All = ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Review;

    private DigestRunner Runner => app.Services.GetRequiredService<DigestRunner>();

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>A new team with the digest on at <paramref name="time"/> in <paramref name="zone"/>.</summary>
    private async Task<(ApiClient Api, TestTeam Team)> TeamAsync(string zone = "Europe/Berlin", string time = "09:00")
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await JsonAsync(await api.PutJsonAsync("/api/v1/team/digest", new { time_zone = zone, enabled = true, time }), HttpStatusCode.OK);
        return (api, team);
    }

    /// <summary>Moves the clock forward to <paramref name="local"/> on a coming day in <paramref name="zone"/>; returns that day's yesterday.</summary>
    private DateOnly AdvanceTo(string zone, TimeOnly local)
    {
        var tz = LocalDays.FindZone(zone);
        var today = LocalDays.DateAt(app.Clock.GetUtcNow(), tz).AddDays(1);
        app.Clock.SetUtcNow(LocalDays.Instant(today, local, tz));
        return today.AddDays(-1);
    }

    private static async Task PostTracesAsync(ApiClient api, DateTimeOffset at, int count, int errors = 0, string? reject = null, int accept = 0)
    {
        for (var i = 0; i < count; i++)
        {
            var id = await api.PostTraceAsync(new
            {
                user_input = "q", response = "a", model = "gpt-4o", error = i < errors ? "upstream timeout" : null,
                start_time = at.AddSeconds(i).ToString("O", CultureInfo.InvariantCulture),
            });
            if (i < accept)
            {
                await JsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "accept" }), HttpStatusCode.OK);
            }
            else if (reject is not null)
            {
                await JsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "reject", reason = reject }), HttpStatusCode.OK);
            }
        }
    }

    /// <summary>Reads as the team's owner would (query filters on).</summary>
    private async Task<T> AsTeamAsync<T>(TestTeam team, Func<IEvalDbContext, IServiceProvider, Task<T>> read)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await read(db, scope.ServiceProvider);
    }

    private Task<List<TeamDigest>> DigestsAsync(TestTeam team) => AsTeamAsync(team, (db, _) => db.TeamDigests.OrderBy(d => d.LocalDate).ToListAsync());

    private Task<List<InAppNotification>> InAppAsync(TestTeam team) =>
        AsTeamAsync(team, (db, _) => db.InAppNotifications.Where(n => n.EventType == NotificationEventTypes.DailyDigest).OrderBy(n => n.CreatedAt).ToListAsync());

    /// <summary>What the preview says (the same builder the job uses, on the same clock).</summary>
    private static async Task<JsonElement> PreviewAsync(ApiClient api) => await api.GetJsonAsync("/api/v1/team/digest/preview");

    private async Task AddAsync(params object[] rows)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        db.AllowCrossTeamWrites(); // seeding rows of the teams under test
        foreach (var row in rows)
        {
            ((DbContext)db).Add(row);
        }

        await db.SaveChangesAsync();
    }

    private static AlertRule Rule(Guid teamId, string name, NotificationSeverity severity) => new()
    {
        Id = Guid.NewGuid(), TeamId = teamId, Name = name, Metric = Metric.ErrorRate, WindowMinutes = 15, ConditionOp = AlertConditionOp.Above,
        ConditionValue = 0.2, Severity = severity, CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    private static AlertEvent Fired(AlertRule rule, DateTimeOffset at, AlertStatus to = AlertStatus.Firing, string? actor = null) => new()
    {
        Id = Guid.NewGuid(), TeamId = rule.TeamId, RuleId = rule.Id, RuleName = rule.Name, At = at, FromStatus = AlertStatus.Pending, ToStatus = to,
        WindowFrom = at.AddMinutes(-15), WindowTo = at, Message = "Error rate is 40 %.", Actor = actor,
    };

    private async Task<Guid> QueueAsync(TestTeam team, string name) => await AsTeamAsync(team, async (_, sp) =>
        (await sp.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition(name, new TraceFilter()))).Id);

    [Fact]
    public async Task ATeamBeforeItsTime_GetsNothing_ThenItsDigestOnce_EvenWhenRunTwiceOrTwiceAtOnce()
    {
        var (api, team) = await TeamAsync("America/New_York", "09:00");
        var yesterday = AdvanceTo("America/New_York", new TimeOnly(8, 59));
        var tz = LocalDays.FindZone("America/New_York");
        await PostTracesAsync(api, LocalDays.Bounds(yesterday, tz).From.AddHours(12), 3);

        await Runner.SendDueAsync();
        Assert.Empty(await DigestsAsync(team));
        Assert.Empty(await InAppAsync(team));

        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await Runner.SendDueAsync();
        await Runner.SendDueAsync();
        var sent = Assert.Single(await DigestsAsync(team));
        Assert.Equal((yesterday, "America/New_York"), (sent.LocalDate, sent.TimeZone));
        var inApp = Assert.Single(await InAppAsync(team));
        Assert.Equal(team.OwnerId, inApp.UserId);
        Assert.Equal(sent.EventId, inApp.EventId);
        Assert.Equal($"Daily digest for {DigestNotification.Day(yesterday)}", inApp.Title);
        Assert.StartsWith("3 traces (none the day before), error rate 0 %", inApp.Text, StringComparison.Ordinal);

        // The next day, two runs at once (two nodes): one digest, one notification.
        var next = AdvanceTo("America/New_York", new TimeOnly(9, 0));
        await PostTracesAsync(api, LocalDays.Bounds(next, tz).From.AddHours(1), 2);
        var runs = await Task.WhenAll(Runner.SendDueAsync(), Runner.SendDueAsync(), Runner.SendDueAsync());
        Assert.All(runs, r => Assert.Equal(0, r.Failed));
        Assert.Equal([yesterday, next], (await DigestsAsync(team)).Select(d => d.LocalDate));
        Assert.Equal(2, (await InAppAsync(team)).Count);
    }

    [Fact]
    public async Task TheFigures_AreTheAnalyticsEnginesForTheLocalDay_WithReasonsAlertsAndQueues()
    {
        var (api, team) = await TeamAsync("Europe/Berlin", "07:30");
        var yesterday = AdvanceTo("Europe/Berlin", new TimeOnly(7, 30));
        var tz = LocalDays.FindZone("Europe/Berlin");
        var (from, to) = LocalDays.Bounds(yesterday, tz);
        var (beforeFrom, _) = LocalDays.Bounds(yesterday.AddDays(-1), tz);

        // Yesterday (local): 10 traces, 3 with errors; 4 accepted, 3 rejected as hallucination, 2 as formatting (+1 not reviewed)
        // across two posts. The first post starts a minute after local midnight (23:01 UTC the day before).
        await PostTracesAsync(api, from.AddMinutes(1), 7, errors: 3, reject: "hallucination", accept: 4);
        await PostTracesAsync(api, to.AddHours(-2), 2, reject: "formatting");
        await PostTracesAsync(api, to.AddHours(-1), 1);
        // The day before: 6 traces (one a minute before yesterday's start), 2 errors, 1 accepted. Today's: not counted.
        await PostTracesAsync(api, beforeFrom.AddHours(10), 5, errors: 1, accept: 1);
        await PostTracesAsync(api, from.AddMinutes(-1), 1, errors: 1);
        await PostTracesAsync(api, to, 1, errors: 1);

        var rule = Rule(team.Id, "Errors", NotificationSeverity.Critical);
        var quiet = Rule(team.Id, "Latency", NotificationSeverity.Warning);
        await AddAsync(rule, quiet);
        await AddAsync(
            Fired(rule, from.AddHours(3)), Fired(rule, from.AddHours(20)), Fired(quiet, from.AddHours(4)),
            Fired(rule, from.AddHours(5), AlertStatus.Firing, actor: "ann@example.com"), // an acknowledgement, not a firing
            Fired(rule, from.AddHours(6), AlertStatus.Resolved), Fired(rule, to.AddMinutes(5)), Fired(rule, from.AddMinutes(-5)));
        await QueueAsync(team, "Triage");

        await Runner.SendDueAsync();

        var notification = Assert.Single(await InAppAsync(team));
        var expected = await AsTeamAsync(team, (_, sp) => sp.GetRequiredService<AnalyticsService>().SummaryAsync(new AnalyticsFilter(from, to)));
        Assert.Equal((10, 3, 4, 5), (expected.Traces, expected.Errors, expected.Accepted, expected.Rejected));

        var preview = await PreviewAsync(api);
        var d = preview.GetProperty("digest");
        Assert.Equal(yesterday.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), d.GetProperty("date").GetString());
        Assert.Equal((from, to), (d.GetProperty("from").GetDateTimeOffset(), d.GetProperty("to").GetDateTimeOffset()));
        Assert.Equal((10.0, 6.0), (d.GetProperty("volume").GetProperty("value").GetDouble(), d.GetProperty("volume").GetProperty("previous").GetDouble()));
        Assert.Equal(66.667, d.GetProperty("volume").GetProperty("change_pct").GetDouble(), 3);
        Assert.Equal(expected.ErrorRate, d.GetProperty("error_rate").GetProperty("value").GetDouble());
        Assert.Equal(2.0 / 6, d.GetProperty("error_rate").GetProperty("previous").GetDouble(), 9);
        Assert.Equal(expected.AcceptanceRate, d.GetProperty("acceptance_rate").GetProperty("value").GetDouble());
        Assert.Equal(1.0, d.GetProperty("acceptance_rate").GetProperty("previous").GetDouble());
        Assert.Equal((3, 4, 5), (d.GetProperty("errors").GetInt32(), d.GetProperty("accepted").GetInt32(), d.GetProperty("rejected").GetInt32()));
        Assert.Equal(["hallucination:Hallucination:3", "formatting:Formatting:2"],
            d.GetProperty("rejection_reasons").EnumerateArray().Select(r => $"{r.GetProperty("reason").GetString()}:{r.GetProperty("label").GetString()}:{r.GetProperty("count").GetInt32()}"));
        Assert.Equal(["Errors:critical:2", "Latency:warning:1"],
            d.GetProperty("alerts").EnumerateArray().Select(a => $"{a.GetProperty("rule_name").GetString()}:{a.GetProperty("severity").GetString()}:{a.GetProperty("count").GetInt32()}"));
        var queue = Assert.Single(d.GetProperty("queues").EnumerateArray());
        Assert.Equal(("Triage", 0, 17), (queue.GetProperty("name").GetString(), queue.GetProperty("done").GetInt32(), queue.GetProperty("total").GetInt32()));

        // What was sent says the same as the preview (same clock, same day).
        Assert.Equal(preview.GetProperty("title").GetString(), notification.Title);
        Assert.Equal(preview.GetProperty("text").GetString(), notification.Text);
        Assert.Equal(
            "10 traces (+66.7 % on the day before), error rate 30 % (−3.3 pt on the day before), acceptance rate 44.4 % (−55.6 pt on the day before). "
            + "Top rejection reasons: Hallucination (3), Formatting (2). 3 alerts fired (Errors ×2, Latency ×1). 1 review queue open: Triage 0/17.",
            notification.Text);
        Assert.Equal(
            $"/analytics?range=custom&from={Uri.EscapeDataString(from.UtcDateTime.ToString("yyyy-MM-ddTHH:mmZ", CultureInfo.InvariantCulture))}"
            + $"&to={Uri.EscapeDataString(to.UtcDateTime.ToString("yyyy-MM-ddTHH:mmZ", CultureInfo.InvariantCulture))}&interval=hour&compare=previous",
            notification.Link);
    }

    [Fact]
    public async Task AnEmptyDay_StillGetsAShortDigest_ButATeamThatNeverHadATrace_GetsNothing()
    {
        var (api, quiet) = await TeamAsync("UTC", "06:00");
        var (_, never) = await TeamAsync("UTC", "06:00");
        var yesterday = AdvanceTo("UTC", new TimeOnly(6, 0));
        await PostTracesAsync(api, LocalDays.Bounds(yesterday.AddDays(-1), TimeZoneInfo.Utc).From.AddHours(1), 4);

        await Runner.SendDueAsync();

        var digest = Assert.Single(await InAppAsync(quiet));
        Assert.Equal($"No traces on {DigestNotification.Day(yesterday)} (the day before: 4). No alerts fired.", digest.Text);
        Assert.True((await PreviewAsync(api)).GetProperty("digest").GetProperty("empty").GetBoolean());
        Assert.Empty(await InAppAsync(never));
        Assert.Empty(await DigestsAsync(never));
    }

    [Fact]
    public async Task OneFailingTeam_DoesNotStopAnothersDigest()
    {
        var (_, broken) = await TeamAsync("UTC", "05:00");
        var (api, fine) = await TeamAsync("UTC", "05:00");
        // Bad data: a zone this machine does not know (stored before a tz database update, say).
        await using (var scope = app.Services.CreateAsyncScope())
        await using (var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            await db.Teams.Where(t => t.Id == broken.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.TimeZone, "Mars/Olympus_Mons"));
        }

        var yesterday = AdvanceTo("UTC", new TimeOnly(5, 0));
        await PostTracesAsync(api, LocalDays.Bounds(yesterday, TimeZoneInfo.Utc).From.AddHours(1), 2);
        try
        {
            var run = await Runner.SendDueAsync();
            Assert.True(run.Failed >= 1);
            Assert.Single(await DigestsAsync(fine));
            Assert.Single(await InAppAsync(fine));
            Assert.Empty(await DigestsAsync(broken));
        }
        finally
        {
            await using var scope = app.Services.CreateAsyncScope();
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            await db.Teams.Where(t => t.Id == broken.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.DigestEnabled, false));
        }
    }

    [Fact]
    public async Task ATeamsDigest_HoldsOnlyItsOwnTracesAlertsAndQueues()
    {
        var (a, teamA) = await TeamAsync("Asia/Kolkata", "09:00");
        var (b, teamB) = await TeamAsync("Asia/Kolkata", "09:00");
        var yesterday = AdvanceTo("Asia/Kolkata", new TimeOnly(9, 0));
        var (from, _) = LocalDays.Bounds(yesterday, LocalDays.FindZone("Asia/Kolkata"));
        await PostTracesAsync(a, from.AddHours(2), 2, reject: "hallucination");
        await PostTracesAsync(b, from.AddHours(2), 6, errors: 6, reject: "formatting");
        var ruleB = Rule(teamB.Id, "B's errors", NotificationSeverity.Critical);
        await AddAsync(ruleB);
        await AddAsync(Fired(ruleB, from.AddHours(3)));
        await QueueAsync(teamB, "B's queue");
        await QueueAsync(teamA, "A's queue");

        await Runner.SendDueAsync();

        var d = (await PreviewAsync(a)).GetProperty("digest");
        Assert.Equal(2, d.GetProperty("volume").GetProperty("value").GetInt32());
        Assert.Equal(0, d.GetProperty("errors").GetInt32());
        Assert.Equal(["hallucination"], d.GetProperty("rejection_reasons").EnumerateArray().Select(r => r.GetProperty("reason").GetString()));
        Assert.Empty(d.GetProperty("alerts").EnumerateArray());
        Assert.Equal(["A's queue"], d.GetProperty("queues").EnumerateArray().Select(q => q.GetProperty("name").GetString()));
        var text = Assert.Single(await InAppAsync(teamA)).Text;
        Assert.DoesNotContain("B's", text, StringComparison.Ordinal);
        Assert.Contains("B's errors", Assert.Single(await InAppAsync(teamB)).Text, StringComparison.Ordinal);
        Assert.All(await DigestsAsync(teamA), row => Assert.Equal(teamA.Id, row.TeamId));
    }

    [Fact]
    public async Task TheDigest_ReachesSlack_AsBlockKit_WithFiguresListsAndAButtonBack()
    {
        var (api, team) = await TeamAsync("Europe/Berlin", "08:00");
        await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels", new
        {
            name = "#daily", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#daily-digest", event_types = new[] { "digest.daily" },
        }), HttpStatusCode.Created);
        var yesterday = AdvanceTo("Europe/Berlin", new TimeOnly(8, 0));
        var (from, _) = LocalDays.Bounds(yesterday, LocalDays.FindZone("Europe/Berlin"));
        await PostTracesAsync(api, from.AddHours(9), 4, errors: 1, reject: "hallucination", accept: 1);
        var before = app.Receiver.To("/api/chat.postMessage").Count;

        await Runner.SendDueAsync();
        await app.DeliverAsync();

        var posted = app.Receiver.To("/api/chat.postMessage").Skip(before).Select(r => JsonDocument.Parse(r.Body).RootElement)
            .Single(m => m.GetProperty("channel").GetString() == "#daily-digest");
        Assert.StartsWith($"Daily digest for {DigestNotification.Day(yesterday)}: 4 traces", posted.GetProperty("text").GetString(), StringComparison.Ordinal);
        var blocks = posted.GetProperty("blocks").EnumerateArray().ToList();
        Assert.Equal(["header", "section", "section", "context", "actions"], blocks.Select(b => b.GetProperty("type").GetString()));
        Assert.Equal($":bar_chart: Daily digest for {DigestNotification.Day(yesterday)}", blocks[0].GetProperty("text").GetProperty("text").GetString());
        Assert.Equal("plain_text", blocks[0].GetProperty("text").GetProperty("type").GetString());
        Assert.Equal(
            ["*Traces*\n4 (none the day before)", "*Error rate*\n25 % (none the day before)", "*Acceptance rate*\n25 % (none the day before)", "*Alerts fired*\n0"],
            blocks[1].GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("text").GetString()));
        Assert.Equal("*Top rejection reasons*\n• Hallucination — 3", blocks[2].GetProperty("text").GetProperty("text").GetString());
        var button = Assert.Single(blocks[4].GetProperty("elements").EnumerateArray());
        Assert.Equal("button", button.GetProperty("type").GetString());
        Assert.StartsWith($"{NotificationAppFactory.PublicBaseUrl}/analytics?range=custom&from=", button.GetProperty("url").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_AreReadWithReadAndChangedWithAdmin_AndRefusedNamingTheField()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, All);
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);

        var initial = await reader.GetJsonAsync("/api/v1/team/digest");
        Assert.Equal(("UTC", false, "09:00"), (initial.GetProperty("time_zone").GetString(), initial.GetProperty("enabled").GetBoolean(), initial.GetProperty("time").GetString()));
        Assert.Equal(JsonValueKind.Null, initial.GetProperty("next_at").ValueKind);

        var changed = await JsonAsync(await admin.PutJsonAsync("/api/v1/team/digest", new { time_zone = "Europe/Berlin", enabled = true, time = "17:30" }), HttpStatusCode.OK);
        Assert.Equal(("Europe/Berlin", true, "17:30"), (changed.GetProperty("time_zone").GetString(), changed.GetProperty("enabled").GetBoolean(), changed.GetProperty("time").GetString()));
        Assert.Equal(LocalDays.NextAt(app.Clock.GetUtcNow(), LocalDays.FindZone("Europe/Berlin"), new TimeOnly(17, 30)), changed.GetProperty("next_at").GetDateTimeOffset());

        // Fields left out keep their value.
        var partly = await JsonAsync(await admin.PutJsonAsync("/api/v1/team/digest", new { enabled = false }), HttpStatusCode.OK);
        Assert.Equal(("Europe/Berlin", false, "17:30"), (partly.GetProperty("time_zone").GetString(), partly.GetProperty("enabled").GetBoolean(), partly.GetProperty("time").GetString()));

        foreach (var (body, field) in new (object, string)[]
        {
            (new { time_zone = "Mars/Olympus_Mons" }, "time_zone"), (new { time_zone = "" }, "time_zone"), (new { time_zone = "W. Europe Standard Time" }, "time_zone"),
            (new { time = "25:00" }, "time"), (new { time = "9am" }, "time"), (new { time = "" }, "time"),
        })
        {
            var response = await admin.PutJsonAsync("/api/v1/team/digest", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadAsStringAsync();
            Assert.Contains($"\"{field}\"", problem, StringComparison.Ordinal);
            Assert.Contains("application/problem+json", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        }

        Assert.Equal("Europe/Berlin", (await reader.GetJsonAsync("/api/v1/team/digest")).GetProperty("time_zone").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PutJsonAsync("/api/v1/team/digest", new { enabled = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.Http.GetAsync("/api/v1/team/digest/preview")).StatusCode);

        // A team that never had a trace: the preview says there is nothing to send.
        var preview = await PreviewAsync(admin);
        Assert.Equal(JsonValueKind.Null, preview.GetProperty("digest").ValueKind);
    }
}

public sealed class DigestPostgresTests(NotificationPostgresAppFactory app) : DigestTests(app), IClassFixture<NotificationPostgresAppFactory>;

public sealed class DigestSqliteTests(NotificationSqliteAppFactory app) : DigestTests(app), IClassFixture<NotificationSqliteAppFactory>;
