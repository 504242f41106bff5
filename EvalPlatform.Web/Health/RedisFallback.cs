using System.Collections.Concurrent;
using StackExchange.Redis;

namespace EvalPlatform.Web.Health;

/// <summary>
/// What every use of Redis does while Redis is away: it falls back to this node (live updates delivered here only,
/// the second-level cache skipped, webhook copies remembered here) instead of waiting on a connection that is not
/// there. The multiplexer fails fast while disconnected (<see cref="BacklogPolicy.FailFast"/>) and reconnects by itself;
/// this class says so once per outage and use, and once when it is back, not once per call.
/// </summary>
public sealed class RedisFallback(IConnectionMultiplexer redis, ILogger<RedisFallback> logger)
{
    private readonly ConcurrentDictionary<string, byte> _fallenBack = new(StringComparer.Ordinal);

    /// <summary>True while the multiplexer has a connection; false as soon as it has noticed the loss.</summary>
    public bool IsConnected => redis.IsConnected;

    /// <summary>Notes that <paramref name="use"/> fell back to this node (logged the first time of an outage).</summary>
    public void FellBack(string use, Exception? error)
    {
        if (_fallenBack.TryAdd(use, 0))
        {
            logger.LogWarning("Redis is unavailable ({Reason}); {Use} falls back to this node until it returns",
                error?.Message ?? "not connected", use);
        }
    }

    /// <summary>Notes that <paramref name="use"/> reached Redis again (logged when it had fallen back).</summary>
    public void Reached(string use)
    {
        if (!_fallenBack.IsEmpty && _fallenBack.TryRemove(use, out _))
        {
            logger.LogInformation("Redis is back; {Use} is shared across nodes again", use);
        }
    }

    /// <summary>Whether <paramref name="e"/> is Redis being away (not a bug of ours).</summary>
    public static bool IsOutage(Exception e) => e is RedisException or TimeoutException;
}
