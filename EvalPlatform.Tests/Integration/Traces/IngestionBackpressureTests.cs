using System.Net;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>With the database stalled and the queue full, the API says "retry later" instead of piling up requests.</summary>
public sealed class IngestionBackpressureTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    private sealed class StalledStore : ITraceStore
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default)
        {
            Entered.TrySetResult();
            await Release.Task;
            return requests.Select(r => new StoreResult(r.Traces.Select(t => new StoredTrace(t.Index, t.Trace.Id, t.Trace.ExternalId, true)).ToList(), [])).ToList();
        }
    }

    [Fact]
    public async Task FullQueue_Answers503WithRetryAfter_AndQueuedRequestsStillComplete()
    {
        var store = new StalledStore();
        await using var stalled = app.WithWebHostBuilder(b =>
        {
            b.UseSetting("Ingestion:QueueCapacity", "1");
            b.ConfigureTestServices(s => s.AddScoped<ITraceStore>(_ => store));
        });
        var team = await TestData.CreateTeamAsync(stalled.Services);
        using var api = await ApiClient.ForTeamAsync(stalled, team.Id, ApiKeyScopes.Ingest);

        var writing = api.PostJsonAsync("/api/v1/traces", new { user_input = "first" });
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = api.PostJsonAsync("/api/v1/traces", new { user_input = "second" });
        var queue = stalled.Services.GetRequiredService<IngestionQueue>();
        await WaitUntilAsync(() => queue.Queued == 1);

        var refused = await api.PostJsonAsync("/api/v1/traces", new { user_input = "third" });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);

        store.Release.SetResult();
        Assert.Equal(HttpStatusCode.Created, (await writing).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await queued).StatusCode);
    }

    [Fact]
    public async Task ATeamOverItsShareOfTheQueue_Gets503_WhileAnotherTeamIsStillQueued()
    {
        var store = new StalledStore();
        await using var stalled = app.WithWebHostBuilder(b =>
        {
            b.UseSetting("Ingestion:QueueCapacity", "4");
            b.UseSetting("Ingestion:TeamShare", "0.5");
            b.ConfigureTestServices(s => s.AddScoped<ITraceStore>(_ => store));
        });
        var (a, teamA) = await ApiClient.ForNewTeamAsync(stalled, ApiKeyScopes.Ingest);
        var (b, teamB) = await ApiClient.ForNewTeamAsync(stalled, ApiKeyScopes.Ingest);
        using var _ = a;
        using var __ = b;
        var queue = stalled.Services.GetRequiredService<IngestionQueue>();

        var writing = a.PostJsonAsync("/api/v1/traces", new { user_input = "held by the writer" });
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queuedA = new[] { a.PostJsonAsync("/api/v1/traces", new { user_input = "a1" }), a.PostJsonAsync("/api/v1/traces", new { user_input = "a2" }) };
        await WaitUntilAsync(() => queue.WaitingFor(teamA.Id).Requests == 2);

        var refused = await a.PostJsonAsync("/api/v1/traces", new { user_input = "a3" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("team's share", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var queuedB = b.PostJsonAsync("/api/v1/traces", new { user_input = "b1" });
        await WaitUntilAsync(() => queue.WaitingFor(teamB.Id).Requests == 1);

        store.Release.SetResult();
        foreach (var response in await Task.WhenAll([writing, .. queuedA, queuedB]))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        Assert.Equal((0, 0L), queue.Waiting);
    }

    private static Task WaitUntilAsync(Func<bool> condition) => Wait.UntilAsync(condition, "the queue's state", TimeSpan.FromSeconds(10));
}
