using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>
/// The app with one ingestion writer, a queue of two requests (a team's share: one), and a store that waits at a gate the
/// test opens, so a team's share of the ingestion queue can be held full.
/// </summary>
public sealed class ProxyOverloadAppFactory() : ProviderAppFactory(TestDatabase.Sqlite, redis: false)
{
    public StoreGate Gate { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Ingestion:Writers", "1");
        builder.UseSetting("Ingestion:QueueCapacity", "2");
        builder.ConfigureTestServices(s =>
        {
            var real = s.Last(d => d.ServiceType == typeof(ITraceStore)).ImplementationType!;
            s.AddScoped<ITraceStore>(sp => new GatedStore((ITraceStore)ActivatorUtilities.CreateInstance(sp, real), Gate));
        });
    }

    /// <summary>Closed, every store waits until it opens; <see cref="Entered"/> counts the stores that reached it.</summary>
    public sealed class StoreGate
    {
        private volatile TaskCompletionSource _open = NewOpen(true);
        private int _entered;

        public int Entered => Volatile.Read(ref _entered);

        public void Close() => _open = NewOpen(false);

        public void Open() => _open.TrySetResult();

        public Task WaitAsync()
        {
            Interlocked.Increment(ref _entered);
            return _open.Task;
        }

        private static TaskCompletionSource NewOpen(bool open)
        {
            var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (open)
            {
                source.SetResult();
            }

            return source;
        }
    }

    private sealed class GatedStore(ITraceStore inner, StoreGate gate) : ITraceStore
    {
        public async Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default)
        {
            await gate.WaitAsync();
            return await inner.StoreAsync(requests, ct);
        }
    }
}

/// <summary>
/// A proxied call whose team's share of the ingestion queue is full is not dropped: its recording waits its turn and the
/// trace is stored once the queue drains (ADR 30).
/// </summary>
public sealed class ProxyOverloadTests(ProxyOverloadAppFactory app) : IClassFixture<ProxyOverloadAppFactory>
{
    [Fact]
    public async Task ACallRecordedWhileItsTeamsQueueShareIsFull_IsStoredOnceTheQueueDrains()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        await app.AddConnectionAsync(team, ProviderKind.OpenAi, "openai main", app.OpenAi.BaseUrl, FakeOpenAiServer.Key, app.Clock.GetUtcNow());
        using var http = app.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var queue = app.Services.GetRequiredService<IngestionQueue>();

        // One trace held in the store by the gate, a second one waiting behind it: the team's share (one request) is full.
        app.Gate.Close();
        var entered = app.Gate.Entered;
        var first = http.PostAsync("/api/v1/traces", Json("""{"user_input":"one","response":"a"}"""));
        await WaitUntilAsync(() => app.Gate.Entered > entered);
        var second = http.PostAsync("/api/v1/traces", Json("""{"user_input":"two","response":"b"}"""));
        await WaitUntilAsync(() => queue.WaitingFor(team.Id).Requests == 1);
        using (var refused = await http.PostAsync("/api/v1/traces", Json("""{"user_input":"three","response":"c"}""")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode); // the door itself answers 503 now
        }

        // The proxied call is answered; its recording is refused by the full share and must wait, not be lost.
        using (var call = await http.PostAsync("/proxy/openai/v1/chat/completions",
                   Json("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""")))
        {
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        }

        var recordings = app.Services.GetRequiredService<EvalPlatform.Web.Providers.ProxyRecordingWriter>();
        await WaitUntilAsync(() => recordings.Deferred > 0); // refused by the full share at least once, and put back
        app.Gate.Open();
        Assert.Equal(HttpStatusCode.Created, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await second).StatusCode);
        await using var scope = app.ScopeFor(team);
        var factory = scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>();
        await WaitUntilAsync(async () =>
        {
            await using var db = await factory.CreateAsync();
            return await db.Traces.CountAsync() == 3 && await db.ProviderCalls.CountAsync() == 1;
        });
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static Task WaitUntilAsync(Func<bool> condition) => WaitUntilAsync(() => Task.FromResult(condition()));

    private static Task WaitUntilAsync(Func<Task<bool>> condition) => Wait.UntilAsync(condition, "the condition", TimeSpan.FromSeconds(15));
}
