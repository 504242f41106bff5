using System.Net;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Queues;

/// <summary>GET /api/v1/queues and /queues/{id}: progress over HTTP, scope read, team-scoped.</summary>
public sealed class QueueApiTests(PostgresAppFactory app) : IClassFixture<PostgresAppFactory>
{
    [Fact]
    public async Task Queues_ListWithProgress_AndOneQueueWithItsReviewers()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (reviewer, reviewerEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        using (var ingest = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest))
        {
            await ingest.PostTraceAsync(new { user_input = "one", model = "gpt-4o" });
            await ingest.PostTraceAsync(new { user_input = "two", model = "gpt-4o" });
            await ingest.PostTraceAsync(new { user_input = "three", model = "claude-sonnet-4" });
        }

        Guid queueId;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            var queues = scope.ServiceProvider.GetRequiredService<QueueService>();
            queueId = (await queues.CreateAsync(new QueueDefinition("gpt-4o", new TraceFilter(Status: ReviewStatus.Pending, Model: "gpt-4o")))).Id;
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, reviewer, TeamRole.Reviewer);
            var queues = scope.ServiceProvider.GetRequiredService<QueueService>();
            var work = await queues.NextAsync(queueId);
            await queues.CompleteAsync(work!.ItemId, QueueVerdictInput.Accept());
        }

        using var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        var list = await api.GetJsonAsync("/api/v1/queues");
        var queue = Assert.Single(list.EnumerateArray());
        Assert.Equal(("gpt-4o", 1, 1, 0), (queue.GetProperty("name").GetString(), queue.GetProperty("done").GetInt32(),
            queue.GetProperty("remaining").GetInt32(), queue.GetProperty("disagreements").GetInt32()));
        Assert.Equal("pending", queue.GetProperty("filter").GetProperty("status").GetString());
        Assert.Equal("gpt-4o", queue.GetProperty("filter").GetProperty("model").GetString());

        var one = await api.GetJsonAsync($"/api/v1/queues/{queueId}");
        var row = one.GetProperty("reviewers").EnumerateArray().Single(r => r.GetProperty("user_id").GetString() == reviewer);
        Assert.Equal((reviewerEmail, 1, 1, 1), (row.GetProperty("name").GetString(), row.GetProperty("done_today").GetInt32(),
            row.GetProperty("done_total").GetInt32(), row.GetProperty("remaining").GetInt32()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, one.GetProperty("agreement").ValueKind);

        // Another team's key sees neither; a key without 'read' is refused.
        var (_, otherKey) = await TestData.CreateKeyTeamPairAsync(app.Services);
        using var other = new ApiClient(app.CreateClient());
        other.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", otherKey.Key);
        Assert.Empty((await other.GetJsonAsync("/api/v1/queues")).EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"/api/v1/queues/{queueId}")).StatusCode);
        using var ingestOnly = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync("/api/v1/queues")).StatusCode);
    }
}
