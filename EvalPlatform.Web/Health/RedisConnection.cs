using EvalPlatform.Core.Live;
using EvalPlatform.Web.Live;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EvalPlatform.Web.Health;

/// <summary>
/// Redis, when <c>ConnectionStrings:Redis</c> is set: one shared multiplexer for the second-level cache, the live bus,
/// rate limits and webhook replay checks, and a readiness check that reports an outage as degraded (each use falls back
/// to this node while Redis is away).
/// </summary>
public static class RedisConnection
{
    public const string SettingName = "ConnectionStrings:Redis";

    public static bool IsConfigured(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[SettingName]);

    public static WebApplicationBuilder AddEvalCache(this WebApplicationBuilder builder)
    {
        builder.Services.AddHybridCache();
        if (!IsConfigured(builder.Configuration))
        {
            return builder;
        }

        var options = ConfigurationOptions.Parse(builder.Configuration[SettingName]!);
        // Keep retrying in the background after a blip; start-up checks reachability once, loudly. While disconnected a
        // command fails at once instead of queueing until its timeout (seconds): every use falls back to this node
        // (RedisFallback, ADR 43), so a Redis outage never slows a request.
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName = "evalplatform";
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(options));
        builder.Services.AddSingleton<RedisFallback>();
        builder.Services.AddSingleton<IConfigureOptions<RedisCacheOptions>>(sp => new ConfigureOptions<RedisCacheOptions>(o =>
        {
            o.InstanceName = "evalplatform:";
            o.ConnectionMultiplexerFactory = () => Task.FromResult(sp.GetRequiredService<IConnectionMultiplexer>());
        }));
        builder.Services.AddSingleton<IDistributedCache>(sp => new ResilientDistributedCache(
            new RedisCache(sp.GetRequiredService<IOptions<RedisCacheOptions>>()), sp.GetRequiredService<RedisFallback>()));
        // Every node's pages hear every node's events.
        builder.Services.AddSingleton<RedisLiveBus>();
        builder.Services.AddSingleton<ILiveBus>(sp => sp.GetRequiredService<RedisLiveBus>());
        // Without Redis the app works on each node by itself: ready, but degraded.
        builder.Services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", failureStatus: HealthStatus.Degraded, tags: [HealthEndpoints.ReadyTag]);
        // Inbound webhook copies are refused on every node, not only the one that saw the original.
        builder.Services.AddSingleton<Core.Webhooks.InProcessWebhookReplayGuard>();
        builder.Services.AddSingleton<Core.Webhooks.IWebhookReplayGuard, Security.RedisWebhookReplayGuard>();
        return builder;
    }

    /// <summary>Pings Redis once; the reason it failed, or null.</summary>
    public static async Task<string?> ProbeAsync(IServiceProvider services, TimeSpan timeout)
    {
        try
        {
            var mux = services.GetRequiredService<IConnectionMultiplexer>();
            await mux.GetDatabase().PingAsync().WaitAsync(timeout);
            return null;
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ArgumentException)
        {
            return e.Message;
        }
    }
}

internal sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var latency = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"ping {latency.TotalMilliseconds:0.#} ms");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Redis does not answer: live updates, caches and rate limits work on each node by itself until it returns.", e);
        }
    }
}
