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

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
