using EvalPlatform.Web.RateLimits;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Unit.RateLimits;

public sealed class InProcessRateLimitCounterTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task TryAcquire_TakesUpToTheLimit_ThenRefusesUntilTheWindowEnds()
    {
        var counter = new InProcessRateLimitCounter(_clock);
        RateLimitWindow[] windows = [new("k:m", 2, TimeSpan.FromMinutes(1))];

        Assert.True((await counter.TryAcquireAsync(windows)).Allowed);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True((await counter.TryAcquireAsync(windows)).Allowed);
        var refused = await counter.TryAcquireAsync(windows);

        Assert.False(refused.Allowed);
        // The window started at the first count: 50 s of it are left.
        Assert.Equal(TimeSpan.FromSeconds(50), refused.RetryAfter);
        _clock.Advance(TimeSpan.FromSeconds(50));
        Assert.True((await counter.TryAcquireAsync(windows)).Allowed);
    }

    [Fact]
    public async Task TryAcquire_CountsInAllWindowsOrNone()
    {
        var counter = new InProcessRateLimitCounter(_clock);
        RateLimitWindow key = new("key:s", 1, TimeSpan.FromSeconds(1)), team = new("team:m", 3, TimeSpan.FromMinutes(1));

        Assert.True((await counter.TryAcquireAsync([key, team])).Allowed);
        // Refused by the key's second: the team's minute is not charged for it.
        Assert.False((await counter.TryAcquireAsync([key, team])).Allowed);
        Assert.False((await counter.TryAcquireAsync([key, team])).Allowed);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True((await counter.TryAcquireAsync([key, team])).Allowed);
        Assert.True((await counter.TryAcquireAsync([team])).Allowed);
        // 3 counted in the team's minute now.
        Assert.False((await counter.TryAcquireAsync([team])).Allowed);
    }

    [Fact]
    public async Task TryAcquire_KeepsKeysApart()
    {
        var counter = new InProcessRateLimitCounter(_clock);

        Assert.True((await counter.TryAcquireAsync([new("a", 1, TimeSpan.FromMinutes(1))])).Allowed);
        Assert.False((await counter.TryAcquireAsync([new("a", 1, TimeSpan.FromMinutes(1))])).Allowed);
        Assert.True((await counter.TryAcquireAsync([new("b", 1, TimeSpan.FromMinutes(1))])).Allowed);
    }
}
