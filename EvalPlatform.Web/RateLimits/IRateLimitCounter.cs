namespace EvalPlatform.Web.RateLimits;

/// <summary>At most <paramref name="Limit"/> requests counted under <paramref name="Key"/> in a fixed window of <paramref name="Length"/>.</summary>
public sealed record RateLimitWindow(string Key, int Limit, TimeSpan Length);

/// <summary>Taken, or refused with how long until the full window frees up again.</summary>
public readonly record struct RateLimitDecision(bool Allowed, TimeSpan RetryAfter)
{
    public static RateLimitDecision Allow => new(true, TimeSpan.Zero);
}

/// <summary>Redis does not answer: the caller decides whether to fail open or to count on its own.</summary>
public sealed class RateLimitStoreUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Fixed-window counters: a request is counted in all of its windows or in none (all-or-nothing, so a refused request
/// costs nothing and one window's refusal does not use up the others).
/// </summary>
public interface IRateLimitCounter
{
    /// <exception cref="RateLimitStoreUnavailableException">The shared store cannot be reached.</exception>
    Task<RateLimitDecision> TryAcquireAsync(IReadOnlyList<RateLimitWindow> windows, CancellationToken ct = default);
}
