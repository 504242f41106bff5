using EvalPlatform.Core.Live;
using EvalPlatform.Core.Observability;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Caching;

/// <summary>A cached team setting changed on some node: every node drops its copy (<see cref="SettingsCache"/>).</summary>
public sealed record CacheInvalidated(Guid TeamId, string Key) : LiveEvent(TeamId);

/// <summary>
/// The one way to cache what is read on every request or page (review settings and rejection reasons, provider
/// connections…): <see cref="HybridCache"/> with this node's memory in front of Redis (ADR 48), one entry per team and
/// setting. A writer calls <see cref="InvalidateAsync"/> after its commit: the entry leaves this node's memory and Redis
/// at once, and an <see cref="CacheInvalidated"/> on the live bus makes every other node drop its memory copy at once
/// too (HybridCache itself tells no other node). While Redis is away the bus stays on this node (ADR 43): another node
/// keeps its copy for at most <see cref="LocalLifetime"/>, and Redis's for at most <see cref="Lifetime"/>.
/// Reads and invalidations are counted in <see cref="EvalMetrics"/> by setting.
/// </summary>
public sealed class SettingsCache
{
    /// <summary>The longest an entry lives in Redis; bounds what a change made during a Redis outage leaves behind there.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    /// <summary>The longest an entry lives in a node's memory.</summary>
    public static readonly TimeSpan LocalLifetime = TimeSpan.FromSeconds(30);

    private static readonly HybridCacheEntryOptions Options = new() { Expiration = Lifetime, LocalCacheExpiration = LocalLifetime };

    private readonly HybridCache _cache;
    private readonly ILiveBus _bus;
    private readonly EvalMetrics _metrics;
    private readonly IOptionsMonitor<SettingsCacheOptions> _options;

    public SettingsCache(HybridCache cache, ILiveBus bus, LiveDispatcher dispatcher, EvalMetrics metrics, IOptionsMonitor<SettingsCacheOptions> options)
    {
        _cache = cache;
        _options = options;
        _bus = bus;
        _metrics = metrics;
        // Another node's change (or this node's, echoed back by Redis): drop the copy. The observer must not block or
        // throw; the removal from memory is immediate, the one from Redis is best effort (ResilientDistributedCache).
        dispatcher.Observe(e =>
        {
            if (e is CacheInvalidated invalidated)
            {
                _ = _cache.RemoveAsync(invalidated.Key).AsTask();
            }
        });
    }

    /// <summary>The entry's key: the setting's name and the team.</summary>
    public static string Key(string setting, Guid teamId) => $"{setting}:{teamId:N}";

    /// <summary>The team's cached value, loaded (by <paramref name="load"/>, once for concurrent callers) when absent.</summary>
    public async ValueTask<T> GetOrLoadAsync<T>(string setting, Guid teamId, Func<CancellationToken, ValueTask<T>> load, CancellationToken ct = default)
    {
        if (!_options.CurrentValue.Enabled)
        {
            _metrics.CacheRead(setting, hit: false);
            return await load(ct);
        }

        var loaded = false;
        var value = await _cache.GetOrCreateAsync(Key(setting, teamId), load, async (l, token) =>
        {
            loaded = true;
            return await l(token);
        }, Options, cancellationToken: ct);
        _metrics.CacheRead(setting, hit: !loaded);
        return value;
    }

    /// <summary>The team's setting changed (call after the commit): every node reads it again on next use.</summary>
    public async Task InvalidateAsync(string setting, Guid teamId, CancellationToken ct = default)
    {
        var key = Key(setting, teamId);
        await _cache.RemoveAsync(key, ct);
        _metrics.CacheInvalidated(setting);
        await _bus.PublishAsync(new CacheInvalidated(teamId, key), ct);
    }
}
