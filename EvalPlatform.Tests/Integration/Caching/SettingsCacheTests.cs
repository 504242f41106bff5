using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Caching;
using EvalPlatform.Core.Observability;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EvalPlatform.Tests.Integration.Caching;

/// <summary>Counts the settings cache's reads of one setting, by result, from the app's meter.</summary>
internal sealed class CacheReads : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _setting;
    private long _hits;
    private long _misses;

    public CacheReads(string setting)
    {
        _setting = setting;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == EvalMetrics.MeterName && instrument.Name == "evalplatform.cache.requests")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? cache = null, result = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "cache")
                {
                    cache = tag.Value as string;
                }
                else if (tag.Key == "result")
                {
                    result = tag.Value as string;
                }
            }

            if (cache == _setting)
            {
                Interlocked.Add(ref result == "hit" ? ref _hits : ref _misses, value);
            }
        });
        _listener.Start();
    }

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);

    public void Dispose() => _listener.Dispose();
}

/// <summary>
/// The settings cache (ADR 48) on two nodes of one installation (one PostgreSQL, one Redis): a change on one node is seen
/// on the other at once, not after the entry's lifetime; repeated reads hit; invalidation is counted.
/// </summary>
public sealed class SettingsCacheTests(PostgresAppFactory nodeA) : IClassFixture<PostgresAppFactory>
{
    [Fact]
    public async Task ReasonAddedOnNodeA_IsSeenOnNodeB_AtOnce_AndRepeatedReadsHit()
    {
        await using var nodeB = new EvalAppFactory(TestDatabase.Postgres, redis: true, sharedConnectionString: nodeA.ConnectionString);
        await ((IAsyncLifetime)nodeB).InitializeAsync();
        var team = await TestData.CreateTeamAsync(nodeA.Services);
        using var reads = new CacheReads(ReviewSettingsService.CacheName);
        using var onB = await ApiClient.ForTeamAsync(nodeB, team.Id, ApiKeyScopes.Read);

        var first = await ReasonLabelsAsync(onB);
        Assert.DoesNotContain("Cached elsewhere", first);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(first, await ReasonLabelsAsync(onB));
        }

        Assert.True(reads.Hits >= 5, $"repeated reads hit the cache ({reads.Hits} hits, {reads.Misses} misses)");

        await using (var scope = nodeA.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().AddReasonAsync("Cached elsewhere", null);
        }

        // Node B holds the settings for SettingsCache.LocalLifetime (30 s); the invalidation reaches it over Redis.
        var elapsed = Stopwatch.StartNew();
        await Wait.UntilAsync(async () => (await ReasonLabelsAsync(onB)).Contains("Cached elsewhere"), "node B to see the reason added on node A",
            SettingsCache.LocalLifetime / 2);
        Assert.True(elapsed.Elapsed < SettingsCache.LocalLifetime / 2);
    }

    [Fact]
    public async Task ReadsOfAnotherTeam_NeverGetThisTeamsCachedSettings()
    {
        var a = await TestData.CreateTeamAsync(nodeA.Services);
        var b = await TestData.CreateTeamAsync(nodeA.Services);
        await using (var scope = nodeA.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(a.Id, a.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().AddReasonAsync("Only team A's", null);
        }

        using var apiA = await ApiClient.ForTeamAsync(nodeA, a.Id, ApiKeyScopes.Read);
        using var apiB = await ApiClient.ForTeamAsync(nodeA, b.Id, ApiKeyScopes.Read);
        Assert.Contains("Only team A's", await ReasonLabelsAsync(apiA));
        Assert.Contains("Only team A's", await ReasonLabelsAsync(apiA));
        Assert.DoesNotContain("Only team A's", await ReasonLabelsAsync(apiB));
    }

    internal static async Task<List<string>> ReasonLabelsAsync(ApiClient api)
    {
        using var response = await api.Http.GetAsync("/api/v1/review-settings");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("label").GetString()!).ToList();
    }
}

/// <summary>Redis killed: the settings cache keeps answering from memory, and a change on the node is seen at once.</summary>
public sealed class SettingsCacheRedisDownTests : IAsyncLifetime
{
    private PrivateRedis _redis = default!;
    private PrivateRedisAppFactory _app = default!;

    public async Task InitializeAsync()
    {
        _redis = await PrivateRedis.StartAsync();
        _app = new PrivateRedisAppFactory(_redis.ConnectionString + ",asyncTimeout=60000,syncTimeout=60000,connectRetry=1");
        await ((IAsyncLifetime)_app).InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await ((IAsyncLifetime)_app).DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task WhileRedisIsDown_SettingsAreReadFromMemory_AndAChangeOnTheNodeIsSeenAtOnce()
    {
        var team = await TestData.CreateTeamAsync(_app.Services);
        using var api = await ApiClient.ForTeamAsync(_app, team.Id, ApiKeyScopes.Read);
        using var reads = new CacheReads(ReviewSettingsService.CacheName);
        var before = await SettingsCacheTests.ReasonLabelsAsync(api);

        await _redis.KillAsync();
        var mux = _app.Services.GetRequiredService<IConnectionMultiplexer>();
        await Wait.UntilAsync(() => !mux.IsConnected, "the node noticing Redis is gone");

        var elapsed = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(before, await SettingsCacheTests.ReasonLabelsAsync(api));
        }

        Assert.True(reads.Hits >= 5, $"reads answered from memory ({reads.Hits} hits, {reads.Misses} misses)");
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().AddReasonAsync("Added while Redis is away", null);
        }

        Assert.Contains("Added while Redis is away", await SettingsCacheTests.ReasonLabelsAsync(api));
        // Nothing waited on the lost connection (its commands would time out after 60 s).
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(20), $"took {elapsed.Elapsed}");
    }

    private sealed class PrivateRedisAppFactory(string redis) : EvalAppFactory(TestDatabase.Postgres, redis: true)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("ConnectionStrings:Redis", redis);
        }
    }
}
