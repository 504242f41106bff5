namespace EvalPlatform.Web.RateLimits;

/// <summary>
/// The <c>RateLimits</c> section: how many requests each API key, each team and each client address (on the anonymous
/// routes) may make per second and per minute. A limit of 0 is no limit. The defaults leave the benches well inside
/// (ingestion: 200 single POSTs a second and 4 clients of 500-trace batches on one key; the proxy bench: back-to-back
/// calls, some hundreds a second) while a runaway client is still stopped (ADR 36).
/// </summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimits";

    /// <summary>Off: nothing is counted or refused.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Each API key, on /api/v1 and the other ingestion doors (OTLP, LangSmith, the proxy).</summary>
    public RateLimitRule PerKey { get; set; } = new() { PerSecond = 1_000, PerMinute = 60_000 };

    /// <summary>All of a team's keys and its signed webhook deliveries together.</summary>
    public RateLimitRule PerTeam { get; set; } = new() { PerSecond = 2_000, PerMinute = 120_000 };

    /// <summary>Each client address posting the sign-in form.</summary>
    public RateLimitRule SignIn { get; set; } = new() { PerMinute = 20 };

    /// <summary>Each client address on /setup (the first run's page and form).</summary>
    public RateLimitRule Setup { get; set; } = new() { PerMinute = 30 };

    /// <summary>Each client address on /invite/{token}.</summary>
    public RateLimitRule Invitation { get; set; } = new() { PerMinute = 30 };

    /// <summary>Each client address on the inbound webhook route, counted before the signature is checked.</summary>
    public RateLimitRule Webhooks { get; set; } = new() { PerSecond = 100, PerMinute = 3_000 };

    /// <summary>Prefix of the counters' Redis keys (installations sharing one Redis use different prefixes).</summary>
    public string RedisKeyPrefix { get; set; } = "evalplatform:ratelimit:";

    /// <summary>How long a request waits for Redis before it is let through uncounted (fail open).</summary>
    public int RedisTimeoutMilliseconds { get; set; } = 500;

    internal IEnumerable<RateLimitRule> Rules => [PerKey, PerTeam, SignIn, Setup, Invitation, Webhooks];
}

/// <summary>Requests allowed in each fixed window; 0 is no limit for that window.</summary>
public sealed class RateLimitRule
{
    public int PerSecond { get; set; }

    public int PerMinute { get; set; }

    /// <summary>The windows this rule counts in, under <paramref name="key"/>.</summary>
    internal IEnumerable<RateLimitWindow> Windows(string key)
    {
        if (PerSecond > 0)
        {
            yield return new RateLimitWindow($"{key}:s", PerSecond, TimeSpan.FromSeconds(1));
        }

        if (PerMinute > 0)
        {
            yield return new RateLimitWindow($"{key}:m", PerMinute, TimeSpan.FromMinutes(1));
        }
    }
}
