using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EvalPlatform.Tests.Integration.Hosting;

/// <summary>
/// Redis killed under a running node (issue 14's "Faults survived"): ingestion, reads and the node's own live updates go
/// on while it is away, readiness says degraded, and when Redis returns events cross nodes through it again. The node's
/// Redis commands are given a 60 s timeout here, so a command that waited for the lost connection instead of falling
/// back would hold a request far past the 30 s this test allows for all of them.
/// </summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private PrivateRedis _redis = default!;
    private OutageAppFactory _app = default!;

    public async Task InitializeAsync()
    {
        _redis = await PrivateRedis.StartAsync();
        _app = new OutageAppFactory(_redis.ConnectionString + ",asyncTimeout=60000,syncTimeout=60000,connectRetry=1");
        await ((IAsyncLifetime)_app).InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await ((IAsyncLifetime)_app).DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task WhileRedisIsDown_IngestionReadsAndLiveUpdatesWorkOnTheNode_ReadyIsDegraded_AndEventsCrossRedisAgainWhenItReturns()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(_app, ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin);
        var heard = new HashSet<Guid>();
        using var subscription = _app.Services.GetRequiredService<ILiveBus>().Subscribe(team.Id, e =>
        {
            if (e is TracesIngested ingested)
            {
                lock (heard)
                {
                    heard.UnionWith(ingested.TraceIds);
                }
            }

            return Task.CompletedTask;
        });
        var mux = _app.Services.GetRequiredService<IConnectionMultiplexer>();

        var before = await api.PostTraceAsync(new { user_input = "before the outage" });
        await WaitUntilAsync(() => Heard(heard, before), "the first trace's live event");
        Assert.Equal("Healthy", await ReadyStatusAsync());

        await _redis.KillAsync();
        await WaitUntilAsync(() => !mux.IsConnected, "the node noticing Redis is gone");

        using var allowed = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var during = new List<Guid>();
        for (var i = 0; i < 40; i++)
        {
            using var response = await api.Http.PostAsync("/api/v1/traces", JsonContent(new { user_input = $"during the outage {i}" }), allowed.Token);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(allowed.Token));
            during.Add(body.RootElement.GetProperty("id").GetGuid());
        }

        // The node's own pages still hear every trace at once; the reads and the cached settings answer.
        await WaitUntilAsync(() => during.All(id => Heard(heard, id)), "live events delivered on the node while Redis is away");
        var list = await api.GetJsonAsync("/api/v1/traces?limit=100");
        Assert.Equal(41, list.GetProperty("items").GetArrayLength());
        using (var providers = await api.Http.GetAsync("/api/v1/providers", allowed.Token))
        {
            Assert.Equal(HttpStatusCode.OK, providers.StatusCode);
        }

        var (status, redisStatus) = await ReadyAsync();
        Assert.Equal(("Degraded", "Degraded"), (status.Status, redisStatus));
        Assert.Equal(HttpStatusCode.OK, status.Code);

        await _redis.StartAgainAsync();
        await WaitUntilAsync(() => mux.IsConnected, "the node reconnecting to Redis");
        await WaitUntilAsync(async () => await ReadyStatusAsync() == "Healthy", "readiness healthy again");

        // Events go through Redis again: another subscriber of the channel (as another node is) hears the next trace.
        await using var otherNode = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var relayed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await otherNode.GetSubscriber().SubscribeAsync(RedisChannel.Literal("evalplatform:live"), (_, message) => relayed.TrySetResult(message.ToString()));
        var after = await api.PostTraceAsync(new { user_input = "after the outage" });
        var message = await relayed.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Contains(after.ToString(), message, StringComparison.OrdinalIgnoreCase);
        await WaitUntilAsync(() => Heard(heard, after), "the node hearing its own event back through Redis");
    }

    private static bool Heard(HashSet<Guid> heard, Guid id)
    {
        lock (heard)
        {
            return heard.Contains(id);
        }
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), new MediaTypeHeaderValue("application/json"));

    private async Task<string> ReadyStatusAsync() => (await ReadyAsync()).Ready.Status;

    private async Task<((HttpStatusCode Code, string Status) Ready, string? Redis)> ReadyAsync()
    {
        using var http = _app.CreateClient();
        using var response = await http.GetAsync("/health/ready");
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var redis = body.RootElement.GetProperty("checks").TryGetProperty("redis", out var check) ? check.GetProperty("status").GetString() : null;
        return ((response.StatusCode, body.RootElement.GetProperty("status").GetString()!), redis);
    }

    private static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static Task WaitUntilAsync(Func<Task<bool>> condition, string what) => Wait.UntilAsync(condition, what);

    /// <summary>The app on PostgreSQL with the test's own Redis instead of the shared one.</summary>
    private sealed class OutageAppFactory(string redis) : EvalAppFactory(TestDatabase.Postgres, redis: true)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("ConnectionStrings:Redis", redis);
        }
    }
}
