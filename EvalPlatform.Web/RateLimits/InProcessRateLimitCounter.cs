namespace EvalPlatform.Web.RateLimits;

/// <summary>
/// The counters of one node, when Redis is not configured (one node is the whole installation) and as the fallback for
/// the anonymous routes while Redis is down. Windows start at a request's first count and end <see cref="RateLimitWindow.Length"/>
/// later, as in Redis; ended windows are swept once a minute so client addresses do not pile up.
/// </summary>
public sealed class InProcessRateLimitCounter(TimeProvider clock) : IRateLimitCounter
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    public Task<RateLimitDecision> TryAcquireAsync(IReadOnlyList<RateLimitWindow> windows, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (now >= _nextSweep)
            {
                foreach (var ended in _windows.Where(w => w.Value.Ends <= now).Select(w => w.Key).ToList())
                {
                    _windows.Remove(ended);
                }

                _nextSweep = now + SweepEvery;
            }

            foreach (var w in windows)
            {
                if (_windows.TryGetValue(w.Key, out var current) && current.Ends > now && current.Count >= w.Limit)
                {
                    return Task.FromResult(new RateLimitDecision(false, current.Ends - now));
                }
            }

            foreach (var w in windows)
            {
                _windows[w.Key] = _windows.TryGetValue(w.Key, out var current) && current.Ends > now
                    ? current with { Count = current.Count + 1 }
                    : new Window(1, now + w.Length);
            }
        }

        return Task.FromResult(RateLimitDecision.Allow);
    }

    private readonly record struct Window(long Count, DateTimeOffset Ends);
}
