using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// Reviews back to LangSmith (issue 18, ADR 45): accepting, rejecting and scoring an imported trace queues feedback on its
/// root run through the notification outbox; a changed review PATCHes the same feedback; an outage is retried (429's
/// Retry-After honoured) and delivered after; Redeliver sends a failed one again; nothing goes when push_feedback is off,
/// for a trace that is not LangSmith's, or across teams.
/// </summary>
public abstract class LangSmithFeedbackTests(LangSmithConnectorAppFactory app)
{
    private const string Route = "/api/v1/integrations/langsmith";

    private sealed record Setup(ApiClient Api, TestTeam Team, Guid ConnectionId, Guid TraceId, string RootRunId) : IDisposable
    {
        public void Dispose() => Api.Dispose();
    }

    /// <summary>A team (admin + review key) connected to a project of one imported trace.</summary>
    private async Task<Setup> ImportedTraceAsync(bool pushFeedback = true, string? feedbackKey = null)
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Review | ApiKeyScopes.Read);
        var project = app.LangSmith.AddProject(TestData.Unique("proj"), app.Clock.GetUtcNow().AddDays(-30));
        var runs = FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddHours(-2), 1);
        app.LangSmith.AddRuns(project, runs);
        var response = await api.PostJsonAsync(Route, new
        {
            api_url = app.LangSmith.ApiUrl, api_key = FakeLangSmithServer.Key, projects = new[] { new { name = project.Name } },
            push_feedback = pushFeedback, feedback_key = feedbackKey,
        });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        var outcome = await app.SyncAsync(team.Id, id);
        Assert.True(outcome.Completed, outcome.Error);
        var trace = await app.ReadAsync(team, db => db.Traces.SingleAsync());
        var root = runs[0]["id"]!.GetValue<string>();
        Assert.Equal(root, trace.ExternalId);
        return new Setup(api, team, id, trace.Id, root);
    }

    private static async Task ReviewAsync(Setup s, object body)
    {
        var response = await s.Api.PostJsonAsync($"/api/v1/traces/{s.TraceId}/review", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Delivers until nothing due is left (the clock does not move).</summary>
    private async Task DeliverAllAsync()
    {
        for (var i = 0; i < 10 && (await app.DeliverAsync()).Claimed > 0; i++)
        {
        }
    }

    private List<JsonObject> FeedbackOn(string runId) =>
        app.LangSmith.Feedback.Where(f => f["run_id"]?.GetValue<string>() == runId).ToList();

    private static async Task<JsonObject> StatusAsync(Setup s) =>
        (await (await s.Api.Http.GetAsync($"{Route}/{s.ConnectionId}")).Content.ReadFromJsonAsync<JsonObject>())!;

    [Fact]
    public async Task Accept_SendsOneFeedbackOnTheRootRun_WithScore1_MarkedAsOurs()
    {
        using var s = await ImportedTraceAsync();
        await ReviewAsync(s, new { action = "accept" });
        await DeliverAllAsync();

        var feedback = Assert.Single(FeedbackOn(s.RootRunId));
        Assert.Equal("human_review", feedback["key"]!.GetValue<string>());
        Assert.Equal(1, feedback["score"]!.GetValue<double>());
        Assert.True(feedback["feedback_source"]!["metadata"]!["evalplatform"]!.GetValue<bool>());
        var link = await app.ReadAsync(s.Team, db => db.LangSmithFeedbackLinks.SingleAsync());
        Assert.Equal(Guid.Parse(feedback["id"]!.GetValue<string>()), link.Id);
        Assert.Equal(LangSmithFeedbackStatus.Sent, link.Status);

        var status = await StatusAsync(s);
        Assert.Equal(1, status["feedback_sent"]!.GetValue<long>());
        Assert.Equal(0, status["feedback_failed"]!.GetValue<long>());

        // The next sync reads that feedback back from LangSmith: it is ours, so it is not stored as a score.
        app.Clock.Advance(TimeSpan.FromMinutes(20));
        var again = await app.SyncAsync(s.Team.Id, s.ConnectionId);
        Assert.Equal(0, again.ScoresImported);
    }

    [Fact]
    public async Task Reject_WithReasonAndNote_SendsScore0_WithTheReasonDetailAndNoteAsComment()
    {
        using var s = await ImportedTraceAsync(feedbackKey: "support_review");
        await ReviewAsync(s, new { action = "reject", reason = "hallucination", detail = "Invents a tracking number.", note = "Check the tool output." });
        await DeliverAllAsync();

        var feedback = Assert.Single(FeedbackOn(s.RootRunId));
        Assert.Equal("support_review", feedback["key"]!.GetValue<string>());
        Assert.Equal(0, feedback["score"]!.GetValue<double>());
        Assert.Equal("Hallucination: Invents a tracking number.\nCheck the tool output.", feedback["comment"]!.GetValue<string>());
    }

    [Fact]
    public async Task AChangedReview_PatchesTheSameFeedback_StillOne()
    {
        using var s = await ImportedTraceAsync();
        await ReviewAsync(s, new { action = "accept" });
        await DeliverAllAsync();
        var id = Assert.Single(FeedbackOn(s.RootRunId))["id"]!.GetValue<string>();

        await ReviewAsync(s, new { action = "reject", reason = "hallucination", detail = "On second look, wrong." });
        await DeliverAllAsync();

        var feedback = Assert.Single(FeedbackOn(s.RootRunId));
        Assert.Equal(id, feedback["id"]!.GetValue<string>());
        Assert.Equal(0, feedback["score"]!.GetValue<double>());
        Assert.Equal("Hallucination: On second look, wrong.", feedback["comment"]!.GetValue<string>());
        Assert.Equal(1, app.LangSmith.Requests.Count(r => r.Method == "PATCH" && r.Path.EndsWith("/feedback/" + id, StringComparison.Ordinal)));
        Assert.Equal(1, (await StatusAsync(s))["feedback_sent"]!.GetValue<long>());
    }

    [Fact]
    public async Task TwoChangesBeforeDelivery_SendOnlyTheLatest_InOnePost()
    {
        using var s = await ImportedTraceAsync();
        await ReviewAsync(s, new { action = "accept" });
        await ReviewAsync(s, new { action = "reject", reason = "hallucination" });
        await DeliverAllAsync();

        var feedback = Assert.Single(FeedbackOn(s.RootRunId));
        Assert.Equal(0, feedback["score"]!.GetValue<double>());
        var id = feedback["id"]!.GetValue<string>();
        Assert.Equal(1, app.LangSmith.Requests.Count(r => r.Method == "POST" && r.Path.EndsWith("/feedback", StringComparison.Ordinal) && r.Body.Contains(id, StringComparison.Ordinal)));
        Assert.Equal(0, app.LangSmith.Requests.Count(r => r.Method == "PATCH" && r.Path.EndsWith(id, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Scored_OnAOneToFiveScale_SendsTheScoreAsASecondKey()
    {
        using var s = await ImportedTraceAsync();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(s.Team.Id, s.Team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().SetScaleAsync(ScoreScale.OneToFive);
        }

        await ReviewAsync(s, new { action = "accept", score = 4 });
        await DeliverAllAsync();

        var feedback = FeedbackOn(s.RootRunId).ToDictionary(f => f["key"]!.GetValue<string>());
        Assert.Equal(2, feedback.Count);
        Assert.Equal(1, feedback["human_review"]["score"]!.GetValue<double>());
        Assert.Equal(4, feedback["human_score"]["score"]!.GetValue<double>());

        await ReviewAsync(s, new { score = 2 });
        await DeliverAllAsync();
        var after = FeedbackOn(s.RootRunId).ToDictionary(f => f["key"]!.GetValue<string>());
        Assert.Equal(2, after.Count);
        Assert.Equal(2, after["human_score"]["score"]!.GetValue<double>());
        Assert.Equal(1, after["human_review"]["score"]!.GetValue<double>());
        Assert.Equal(2, (await StatusAsync(s))["feedback_sent"]!.GetValue<long>());
    }

    [Fact]
    public async Task AnOutage_IsRetried_Honouring429RetryAfter_AndDeliveredAfter()
    {
        using var s = await ImportedTraceAsync();
        app.LangSmith.NextError(429, retryAfter: "7");
        await ReviewAsync(s, new { action = "accept" });
        await app.DeliverAsync();

        var row = await app.ReadAsync(s.Team, db => db.NotificationDeliveries.SingleAsync(d => d.LangSmithConnectionId == s.ConnectionId));
        Assert.Equal(DeliveryStatus.Pending, row.Status);
        Assert.Equal(429, row.ResponseCode);
        var wait = row.NextAttemptAt - app.Clock.GetUtcNow();
        Assert.True(wait > TimeSpan.FromSeconds(6) && wait <= TimeSpan.FromSeconds(7), wait.ToString());
        Assert.Empty(FeedbackOn(s.RootRunId));
        Assert.Equal(1, (await StatusAsync(s))["feedback_pending"]!.GetValue<long>());

        // Then LangSmith is down for a while: 503s, each attempt later.
        app.LangSmith.Down = true;
        try
        {
            for (var i = 0; i < 3; i++)
            {
                app.Clock.Advance(TimeSpan.FromHours(1));
                await app.DeliverAsync();
            }
        }
        finally
        {
            app.LangSmith.Down = false;
        }

        row = await app.ReadAsync(s.Team, db => db.NotificationDeliveries.SingleAsync(d => d.LangSmithConnectionId == s.ConnectionId));
        Assert.Equal(DeliveryStatus.Pending, row.Status);
        Assert.Equal(503, row.ResponseCode);
        Assert.Equal(4, row.Attempts);
        Assert.Empty(FeedbackOn(s.RootRunId));

        app.Clock.Advance(TimeSpan.FromHours(1));
        await app.DeliverAsync();
        Assert.Single(FeedbackOn(s.RootRunId));
        var status = await StatusAsync(s);
        Assert.Equal(1, status["feedback_sent"]!.GetValue<long>());
        Assert.Equal(0, status["feedback_pending"]!.GetValue<long>());
    }

    [Fact]
    public async Task APermanentRefusal_CountsAsFailed_WithTheReason_AndRedeliverSendsIt()
    {
        using var s = await ImportedTraceAsync();
        app.LangSmith.NextError(422, message: "run not found");
        await ReviewAsync(s, new { action = "accept" });
        await app.DeliverAsync();

        var status = await StatusAsync(s);
        Assert.Equal(1, status["feedback_failed"]!.GetValue<long>());
        var failed = (await s.Api.GetJsonAsync($"{Route}/{s.ConnectionId}/feedback?status=failed")).GetProperty("items");
        Assert.Equal(1, failed.GetArrayLength());
        Assert.Contains("run not found", failed[0].GetProperty("last_error").GetString(), StringComparison.Ordinal);

        var redeliver = await s.Api.PostJsonAsync($"{Route}/{s.ConnectionId}/feedback/redeliver", new { });
        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        Assert.Equal(1, (await redeliver.Content.ReadFromJsonAsync<JsonObject>())!["queued"]!.GetValue<int>());
        await DeliverAllAsync();

        Assert.Single(FeedbackOn(s.RootRunId));
        status = await StatusAsync(s);
        Assert.Equal(1, status["feedback_sent"]!.GetValue<long>());
        Assert.Equal(0, status["feedback_failed"]!.GetValue<long>());
    }

    [Fact]
    public async Task PushFeedbackOff_SendsNothing()
    {
        using var s = await ImportedTraceAsync(pushFeedback: false);
        await ReviewAsync(s, new { action = "reject", reason = "hallucination" });
        await DeliverAllAsync();

        Assert.Empty(FeedbackOn(s.RootRunId));
        Assert.Equal(0, await app.ReadAsync(s.Team, db => db.NotificationDeliveries.CountAsync(d => d.LangSmithConnectionId != null)));
        Assert.Equal(0, await app.ReadAsync(s.Team, db => db.LangSmithFeedbackLinks.CountAsync()));
    }

    [Fact]
    public async Task ANativeTrace_SendsNothing_EvenWithAConnection()
    {
        using var s = await ImportedTraceAsync();
        var key = await TestData.CreateKeyAsync(app.Services, s.Team.Id, ApiKeyScopes.Ingest);
        using var ingest = app.CreateClient();
        ingest.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key.Key);
        // A UUID external id, as LangSmith's, but no run behind it.
        var external = Guid.NewGuid().ToString();
        var created = await ingest.PostAsJsonAsync("/api/v1/traces", new { external_id = external, user_input = "q", response = "a", model = "gpt-4o" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var native = await app.ReadAsync(s.Team, db => db.Traces.SingleAsync(t => t.ExternalId == external));

        var review = await s.Api.PostJsonAsync($"/api/v1/traces/{native.Id}/review", new { action = "accept" });
        Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());
        Assert.Equal(0, await app.ReadAsync(s.Team, db => db.LangSmithFeedbackLinks.CountAsync()));
    }

    [Fact]
    public async Task LateFeedback_OnARunOlderThanTheOverlapWindow_IsPickedUpByIncrementalSync_AndStoredOnce()
    {
        using var s = await ImportedTraceAsync();
        // Days later, someone gives feedback in LangSmith on that old run: no pass reads the run again.
        app.Clock.Advance(TimeSpan.FromDays(3));
        var feedbackId = Guid.NewGuid();
        JsonObject Feedback(double score, string comment) => new()
        {
            ["id"] = feedbackId.ToString(), ["run_id"] = s.RootRunId, ["key"] = "helpfulness", ["score"] = score, ["comment"] = comment,
            ["created_at"] = app.Clock.GetUtcNow().ToString("O"), ["feedback_source"] = new JsonObject { ["type"] = "app", ["user_name"] = "bob@corp.example" },
        };
        app.LangSmith.AddFeedback(Feedback(0.2, "meh"));
        app.Clock.Advance(TimeSpan.FromMinutes(1));

        var first = await app.SyncAsync(s.Team.Id, s.ConnectionId);
        Assert.True(first.Completed, first.Error);
        Assert.Equal(0, first.RunsImported);
        Assert.Equal(1, first.ScoresImported);
        var score = await app.ReadAsync(s.Team, db => db.Scores.SingleAsync());
        Assert.Equal(feedbackId, score.Id);
        Assert.Equal(0.2, score.NumericValue);
        Assert.Equal("langsmith:bob@corp.example", score.Author);
        Assert.Equal(s.TraceId, score.TraceId);

        // Edited in LangSmith before the next check: the same score is updated, not a second one added.
        app.LangSmith.AddFeedback(Feedback(0.9, "better on a second read"));
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var second = await app.SyncAsync(s.Team.Id, s.ConnectionId);
        Assert.True(second.Completed, second.Error);
        var scores = await app.ReadAsync(s.Team, db => db.Scores.ToListAsync());
        var updated = Assert.Single(scores);
        Assert.Equal(0.9, updated.NumericValue);
        Assert.Equal("better on a second read", updated.Comment);

        // Nothing new: a third sync stores nothing.
        app.Clock.Advance(TimeSpan.FromMinutes(20));
        var third = await app.SyncAsync(s.Team.Id, s.ConnectionId);
        Assert.Equal(0, third.ScoresImported);
        Assert.Single(await app.ReadAsync(s.Team, db => db.Scores.ToListAsync()));
    }

    [Fact]
    public async Task TeamBsReview_NeverGoesWithTeamAsKey()
    {
        using var a = await ImportedTraceAsync();
        using var b = await ImportedTraceAsync();
        var requestsBefore = app.LangSmith.Requests.Count;
        await ReviewAsync(b, new { action = "accept" });
        await DeliverAllAsync();

        Assert.Empty(FeedbackOn(a.RootRunId));
        Assert.Single(FeedbackOn(b.RootRunId));
        Assert.Equal(0, await app.ReadAsync(a.Team, db => db.LangSmithFeedbackLinks.CountAsync()));
        Assert.Equal(1, await app.ReadAsync(b.Team, db => db.LangSmithFeedbackLinks.CountAsync()));
        // Team B's feedback went out on team B's connection, and team A's status counts none of it.
        var row = await app.ReadAsync(b.Team, db => db.NotificationDeliveries.SingleAsync(d => d.LangSmithConnectionId != null));
        Assert.Equal(b.ConnectionId, row.LangSmithConnectionId);
        Assert.Equal(0, (await StatusAsync(a))["feedback_sent"]!.GetValue<long>());
        Assert.True(app.LangSmith.Requests.Count > requestsBefore);

        // Team A cannot see or redeliver team B's feedback.
        Assert.Equal(HttpStatusCode.NotFound, (await a.Api.Http.GetAsync($"{Route}/{b.ConnectionId}/feedback")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await a.Api.PostJsonAsync($"{Route}/{b.ConnectionId}/feedback/redeliver", new { })).StatusCode);
    }
}

public sealed class PostgresLangSmithFeedbackTests(LangSmithConnectorPostgresAppFactory app)
    : LangSmithFeedbackTests(app), IClassFixture<LangSmithConnectorPostgresAppFactory>;

public sealed class SqliteLangSmithFeedbackTests(LangSmithConnectorSqliteAppFactory app)
    : LangSmithFeedbackTests(app), IClassFixture<LangSmithConnectorSqliteAppFactory>;
