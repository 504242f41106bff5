using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EvalPlatform.Web.RateLimits;

/// <summary>
/// The counters every node shares: one Lua script checks all of a request's windows and counts it in all of them or none,
/// atomically, so two nodes counting at once cannot both take the last place. A window is a key that expires
/// <see cref="RateLimitWindow.Length"/> after its first count (Redis's clock, not the nodes').
/// </summary>
public sealed class RedisRateLimitCounter(IConnectionMultiplexer redis, IOptions<RateLimitOptions> options) : IRateLimitCounter
{
    // KEYS: the windows; ARGV: limit, length in ms, for each. Returns {0, 0} when counted, else {i, ms until window i ends}.
    private const string Script = """
        for i, key in ipairs(KEYS) do
          local count = tonumber(redis.call('GET', key) or '0')
          if count >= tonumber(ARGV[i * 2 - 1]) then
            local ttl = redis.call('PTTL', key)
            if ttl < 0 then ttl = tonumber(ARGV[i * 2]) end
            return {i, ttl}
          end
        end
        for i, key in ipairs(KEYS) do
          if redis.call('INCR', key) == 1 then
            redis.call('PEXPIRE', key, ARGV[i * 2])
          end
        end
        return {0, 0}
        """;

    private readonly string _prefix = options.Value.RedisKeyPrefix;
    private readonly TimeSpan _timeout = TimeSpan.FromMilliseconds(Math.Max(1, options.Value.RedisTimeoutMilliseconds));

    public async Task<RateLimitDecision> TryAcquireAsync(IReadOnlyList<RateLimitWindow> windows, CancellationToken ct = default)
    {
        if (windows.Count == 0)
        {
            return RateLimitDecision.Allow;
        }

        // A disconnected multiplexer would queue the command until its own timeout (seconds): answer at once instead.
        if (!redis.IsConnected)
        {
            throw new RateLimitStoreUnavailableException("Redis is not connected.", new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not connected"));
        }

        var keys = windows.Select(w => (RedisKey)(_prefix + w.Key)).ToArray();
        var values = windows.SelectMany(w => new RedisValue[] { w.Limit, (long)w.Length.TotalMilliseconds }).ToArray();
        RedisResult result;
        try
        {
            result = await redis.GetDatabase().ScriptEvaluateAsync(Script, keys, values).WaitAsync(_timeout, ct);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new RateLimitStoreUnavailableException($"Redis did not count the request: {e.Message}", e);
        }

        var answer = (long[])result!;
        return answer[0] == 0 ? RateLimitDecision.Allow : new RateLimitDecision(false, TimeSpan.FromMilliseconds(Math.Max(1, answer[1])));
    }
}
