using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.RateLimits;

/// <summary>The anonymous routes counted per client address, each with its own rule.</summary>
public enum AddressLimit
{
    SignIn,
    Setup,
    Invitation,
    Webhooks,
}

/// <summary>A request over a rate limit: answered 429 with Retry-After and problem details.</summary>
public sealed class RateLimitExceededException(string message, TimeSpan retryAfter) : Exception(message)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Applies the configured limits through the shared counter (Redis when configured, else this node's). When Redis is
/// down, API and ingestion requests FAIL OPEN: they are let through uncounted, with a warning (at most one a minute)
/// and the <c>evalplatform.rate_limits.unavailable</c> counter; the anonymous routes fall back to this node's own
/// counters instead, so a sign-in flood is still slowed while Redis is away (ADR 36).
/// </summary>
public sealed class RateLimitService
{
    public const string MeterName = "EvalPlatform.RateLimits";
    private static readonly TimeSpan WarnEvery = TimeSpan.FromMinutes(1);

    private readonly IRateLimitCounter _counter;
    private readonly InProcessRateLimitCounter _local;
    private readonly IOptionsMonitor<RateLimitOptions> _options;
    private readonly ILogger<RateLimitService> _logger;
    private readonly TimeProvider _clock;
    private readonly Counter<long> _unavailable;
    private readonly Counter<long> _refused;
    private long _failedOpen;
    private long _lastWarning = long.MinValue;

    public RateLimitService(
        IRateLimitCounter counter, InProcessRateLimitCounter local, IOptionsMonitor<RateLimitOptions> options,
        ILogger<RateLimitService> logger, TimeProvider clock, IMeterFactory meters)
    {
        _counter = counter;
        _local = local;
        _options = options;
        _logger = logger;
        _clock = clock;
        var meter = meters.Create(MeterName);
        _unavailable = meter.CreateCounter<long>("evalplatform.rate_limits.unavailable", description: "Requests let through uncounted (or counted on this node only) because Redis did not answer.");
        _refused = meter.CreateCounter<long>("evalplatform.rate_limits.refused", description: "Requests answered 429.");
    }

    /// <summary>Requests let through uncounted since start because Redis did not answer.</summary>
    public long FailedOpen => Interlocked.Read(ref _failedOpen);

    /// <summary>Counts a request made with an API key against the key's and its team's limits.</summary>
    /// <exception cref="RateLimitExceededException">Either is used up.</exception>
    public Task CheckKeyAsync(Guid keyId, Guid teamId, CancellationToken ct = default)
    {
        var o = _options.CurrentValue;
        return CheckAsync([.. o.PerKey.Windows($"key:{keyId:N}"), .. o.PerTeam.Windows($"team:{teamId:N}")], failOpen: true, "api", ct);
    }

    /// <summary>Counts a request for a team without a key (a signed webhook delivery) against the team's limits.</summary>
    /// <exception cref="RateLimitExceededException">They are used up.</exception>
    public Task CheckTeamAsync(Guid teamId, CancellationToken ct = default) =>
        CheckAsync([.. _options.CurrentValue.PerTeam.Windows($"team:{teamId:N}")], failOpen: true, "team", ct);

    /// <summary>Counts an anonymous request against its client address's limit for the route.</summary>
    /// <exception cref="RateLimitExceededException">It is used up.</exception>
    public Task CheckAddressAsync(AddressLimit route, string address, CancellationToken ct = default)
    {
        var o = _options.CurrentValue;
        var rule = route switch
        {
            AddressLimit.SignIn => o.SignIn,
            AddressLimit.Setup => o.Setup,
            AddressLimit.Invitation => o.Invitation,
            _ => o.Webhooks,
        };
        var name = route.ToString().ToLowerInvariant();
        return CheckAsync([.. rule.Windows($"ip:{name}:{address}")], failOpen: false, name, ct);
    }

    private async Task CheckAsync(IReadOnlyList<RateLimitWindow> windows, bool failOpen, string what, CancellationToken ct)
    {
        if (!_options.CurrentValue.Enabled || windows.Count == 0)
        {
            return;
        }

        RateLimitDecision decision;
        try
        {
            decision = await _counter.TryAcquireAsync(windows, ct);
        }
        catch (RateLimitStoreUnavailableException e)
        {
            Interlocked.Increment(ref _failedOpen);
            _unavailable.Add(1, new KeyValuePair<string, object?>("limit", what));
            WarnNowAndThen(e, failOpen);
            if (failOpen)
            {
                return;
            }

            decision = await _local.TryAcquireAsync(windows, ct);
        }

        if (!decision.Allowed)
        {
            _refused.Add(1, new KeyValuePair<string, object?>("limit", what));
            throw new RateLimitExceededException(
                $"Too many requests; retry after {Seconds(decision.RetryAfter)} s.", decision.RetryAfter);
        }
    }

    /// <summary>Whole seconds for Retry-After, at least 1.</summary>
    public static long Seconds(TimeSpan retryAfter) => Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));

    private void WarnNowAndThen(Exception e, bool failOpen)
    {
        var now = _clock.GetTimestamp();
        var last = Interlocked.Read(ref _lastWarning);
        if (last != long.MinValue && _clock.GetElapsedTime(last, now) < WarnEvery)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _lastWarning, now, last) == last)
        {
            _logger.LogWarning(e, "Rate limits cannot reach Redis; {Behaviour} ({Count} requests so far). Check ConnectionStrings:Redis.",
                failOpen ? "API and ingestion requests are let through uncounted" : "anonymous routes are counted on this node only",
                FailedOpen);
        }
    }
}
