using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>Two nodes of one installation (same PostgreSQL, same Redis): a trace sent to one is heard on the other.</summary>
public sealed class LiveAcrossNodesTests(PostgresAppFactory nodeA) : IClassFixture<PostgresAppFactory>
{
    [Fact]
    public async Task TraceIngestedOnNodeA_ReachesSubscribersOnNodeB_ExactlyOnce()
    {
        await using var nodeB = new EvalAppFactory(TestDatabase.Postgres, redis: true, sharedConnectionString: nodeA.ConnectionString);
        await ((IAsyncLifetime)nodeB).InitializeAsync();
        var (api, team) = await ApiClient.ForNewTeamAsync(nodeA);
        var onB = new List<LiveEvent>();
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var markers = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var marker = new TraceUpdated(team.Id, Guid.NewGuid());
        using var subscription = nodeB.Services.GetRequiredService<ILiveBus>().Subscribe(team.Id, e =>
        {
            lock (onB)
            {
                onB.Add(e);
            }

            if (e is TracesIngested)
            {
                arrived.TrySetResult();
            }

            if (e == marker)
            {
                markers.TrySetResult();
            }

            return Task.CompletedTask;
        });
        var otherTeam = await TestData.CreateTeamAsync(nodeA.Services);
        var toOtherTeam = new List<LiveEvent>();
        var otherMarkerArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var otherMarker = new TraceUpdated(otherTeam.Id, Guid.NewGuid());
        using var otherSubscription = nodeB.Services.GetRequiredService<ILiveBus>().Subscribe(otherTeam.Id, e =>
        {
            lock (toOtherTeam)
            {
                toOtherTeam.Add(e);
            }

            if (e == otherMarker)
            {
                otherMarkerArrived.TrySetResult();
            }

            return Task.CompletedTask;
        });

        var id = await api.PostTraceAsync(new { user_input = "hello from node A" });

        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // Events from node A reach node B in order through one channel and one queue per subscription: once a later
        // marker is in, a second copy of the trace event (or one routed to the other team) would be in before it.
        var busA = nodeA.Services.GetRequiredService<ILiveBus>();
        await busA.PublishAsync(marker);
        await busA.PublishAsync(otherMarker);
        await Task.WhenAll(markers.Task, otherMarkerArrived.Task).WaitAsync(TimeSpan.FromSeconds(10));
        lock (onB)
        {
            var only = Assert.IsType<TracesIngested>(Assert.Single(onB, e => e != marker));
            Assert.Equal([id], only.TraceIds);
            Assert.Equal("hello from node A", only.Summaries[0].InputPreview);
        }

        lock (toOtherTeam)
        {
            Assert.Equal([otherMarker], toOtherTeam);
        }
    }

    [Fact]
    public async Task KeyRevokedOnNodeA_IsRefusedOnNodeB_LongBeforeItsCacheEntryExpires()
    {
        await using var nodeB = new EvalAppFactory(TestDatabase.Postgres, redis: true, sharedConnectionString: nodeA.ConnectionString);
        await ((IAsyncLifetime)nodeB).InitializeAsync();
        var team = await TestData.CreateTeamAsync(nodeA.Services);
        var key = await TestData.CreateKeyAsync(nodeA.Services, team.Id, ApiKeyScopes.Read);
        using var onB = nodeB.CreateClient();
        onB.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/whoami")).StatusCode);

        await using (var scope = nodeA.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ApiKeyService>().RevokeAsync(key.Info.Id);
        }

        // Node B cached the key for ApiKeyCache.Lifetime (30 s); the revocation reaches it over Redis.
        var deadline = Stopwatch.StartNew();
        var status = HttpStatusCode.OK;
        await Wait.UntilAsync(async () => (status = (await onB.GetAsync("/api/v1/whoami")).StatusCode) != HttpStatusCode.OK,
            "node B to stop taking the revoked key", TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(deadline.Elapsed < ApiKeyCache.Lifetime / 2);
    }
}
