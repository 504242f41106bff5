using Microsoft.Extensions.Caching.Distributed;

namespace EvalPlatform.Web.Health;

/// <summary>
/// The Redis second-level cache behind <c>HybridCache</c>, which never fails or slows a request because Redis is away:
/// while it is, a read is a miss (the value is loaded from the database and kept in this node's memory) and a write or
/// removal is skipped. Entries written before the outage expire by themselves (every entry has a lifetime).
/// </summary>
internal sealed class ResilientDistributedCache(IDistributedCache redis, RedisFallback fallback) : IDistributedCache
{
    private const string Use = "the second-level cache";

    public byte[]? Get(string key) => Try(() => redis.Get(key));

    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default) =>
        await TryAsync(async () => await redis.GetAsync(key, token));

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => Try(() =>
    {
        redis.Set(key, value, options);
        return true;
    });

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        TryAsync(async () =>
        {
            await redis.SetAsync(key, value, options, token);
            return true;
        });

    public void Refresh(string key) => Try(() =>
    {
        redis.Refresh(key);
        return true;
    });

    public Task RefreshAsync(string key, CancellationToken token = default) => TryAsync(async () =>
    {
        await redis.RefreshAsync(key, token);
        return true;
    });

    public void Remove(string key) => Try(() =>
    {
        redis.Remove(key);
        return true;
    });

    public Task RemoveAsync(string key, CancellationToken token = default) => TryAsync(async () =>
    {
        await redis.RemoveAsync(key, token);
        return true;
    });

    // The synchronous calls run synchronously inside the one guard, so the task is already complete when it is read.
    private T? Try<T>(Func<T> call) => TryAsync(() => Task.FromResult(call())).GetAwaiter().GetResult();

    private async Task<T?> TryAsync<T>(Func<Task<T>> call)
    {
        if (!fallback.IsConnected)
        {
            fallback.FellBack(Use, null);
            return default;
        }

        try
        {
            var result = await call();
            fallback.Reached(Use);
            return result;
        }
        catch (Exception e) when (RedisFallback.IsOutage(e))
        {
            fallback.FellBack(Use, e);
            return default;
        }
    }
}
