using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.RateLimits;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EvalPlatform.Tests.Integration.RateLimits;

/// <summary>The shared counter on the test Redis: atomic across callers, all-or-nothing, and quick to give up when Redis is gone.</summary>
public sealed class RedisRateLimitCounterTests : IAsyncLifetime
{
    private ConnectionMultiplexer _redis = default!;
    private readonly string _prefix = $"evaltest:{Guid.NewGuid():N}:ratelimit:";

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.Redis);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private RedisRateLimitCounter Counter(IConnectionMultiplexer? redis = null) =>
        new(redis ?? _redis, Options.Create(new RateLimitOptions { RedisKeyPrefix = _prefix }));

    [Fact]
    public async Task ManyCallersAtOnce_TakeExactlyTheLimit_AndTheRestAreToldHowLongToWait()
    {
        var counter = Counter();
        RateLimitWindow[] windows = [new("burst:m", 25, TimeSpan.FromMinutes(1))];

        var decisions = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() => counter.TryAcquireAsync(windows))));

        Assert.Equal(25, decisions.Count(d => d.Allowed));
        Assert.All(decisions.Where(d => !d.Allowed), d => Assert.InRange(d.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
        var ttl = await _redis.GetDatabase().KeyTimeToLiveAsync(_prefix + "burst:m");
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(50), TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task ARefusedRequest_IsCountedInNoWindow()
    {
        var counter = Counter();
        RateLimitWindow key = new("key:s", 1, TimeSpan.FromSeconds(30)), team = new("team:m", 10, TimeSpan.FromMinutes(1));

        Assert.True((await counter.TryAcquireAsync([key, team])).Allowed);
        Assert.False((await counter.TryAcquireAsync([key, team])).Allowed);
        Assert.False((await counter.TryAcquireAsync([key, team])).Allowed);

        Assert.Equal(1, (long)await _redis.GetDatabase().StringGetAsync(_prefix + "team:m"));
    }

    [Fact]
    public async Task WhenRedisCannotBeReached_ItSaysSoQuickly_InsteadOfWaitingOutTheClientTimeout()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var options = ConfigurationOptions.Parse($"127.0.0.1:{deadPort}");
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 200;
        await using var dead = await ConnectionMultiplexer.ConnectAsync(options);
        var counter = Counter(dead);

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<RateLimitStoreUnavailableException>(() => counter.TryAcquireAsync([new("x:m", 1, TimeSpan.FromMinutes(1))]));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }
}
