using EvalPlatform.Core.Common;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using Microsoft.Extensions.Logging.Abstractions;

namespace EvalPlatform.Tests.Unit.Teams;

public sealed class IngestionOriginTests
{
    [Theory]
    [InlineData("https://app.example.com", "https://app.example.com")]
    [InlineData("  HTTPS://App.Example.COM  ", "https://app.example.com")]
    [InlineData("https://app.example.com/", "https://app.example.com")]
    [InlineData("http://localhost:3000", "http://localhost:3000")]
    [InlineData("https://app.example.com:443", "https://app.example.com")]
    [InlineData("http://app.example.com:80/", "http://app.example.com")]
    [InlineData("https://app.example.com:8443", "https://app.example.com:8443")]
    [InlineData("http://127.0.0.1:5173", "http://127.0.0.1:5173")]
    [InlineData("http://[::1]:8080", "http://[::1]:8080")]
    [InlineData("https://bücher.example", "https://xn--bcher-kva.example")]
    public void TryNormalize_GivesTheFormBrowsersSend(string text, string expected)
    {
        Assert.True(IngestionOrigin.TryNormalize(text, out var origin, out var error), error);
        Assert.Equal(expected, origin);
    }

    [Theory]
    [InlineData("", "Enter an origin")]
    [InlineData("   ", "Enter an origin")]
    [InlineData(null, "Enter an origin")]
    [InlineData("*", "Wildcards are not allowed")]
    [InlineData("https://*.example.com", "Wildcards are not allowed")]
    [InlineData("null", "'null' origin")]
    [InlineData("ftp://files.example.com", "starts with http:// or https://")]
    [InlineData("app.example.com", "is not an origin")]
    [InlineData("https://", "is not an origin")]
    [InlineData("https://app.example.com/chat", "has no path")]
    [InlineData("https://app.example.com//", "has no path")]
    [InlineData("https://app.example.com/?x=1", "no query or fragment")]
    [InlineData("https://app.example.com#top", "no query or fragment")]
    [InlineData("https://user@app.example.com", "no user name")]
    [InlineData("https://app.example .com", "no spaces")]
    [InlineData("https://app.example.com:99999", "is not an origin")]
    public void TryNormalize_RefusesWithTextSayingWhatToFix(string? text, string expected)
    {
        Assert.False(IngestionOrigin.TryNormalize(text, out var origin, out var error));
        Assert.Equal("", origin);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryNormalize_RefusesOverLongText()
    {
        Assert.False(IngestionOrigin.TryNormalize("https://" + new string('a', IngestionOrigin.MaxLength) + ".example", out _, out var error));
        Assert.Contains($"at most {IngestionOrigin.MaxLength} characters", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_NamesTheField()
    {
        var e = Assert.Throws<DomainValidationException>(() => IngestionOrigin.Normalize("origin", "https://a.example/x"));
        Assert.Equal("origin", e.Field);
    }

    [Fact]
    public void Snapshot_KnowsWhichTeamListsWhichOrigin_InNormalForm()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var snapshot = IngestionOriginSnapshot.Build(
            [(a, ["https://a.example", "https://shared.example"]), (b, ["HTTPS://Shared.Example/", "not an origin"])], DateTimeOffset.UnixEpoch);

        Assert.Equal(2, snapshot.Count);
        Assert.True(snapshot.AllowsAnyTeam("https://a.example"));
        Assert.True(snapshot.Allows("https://a.example", a));
        Assert.False(snapshot.Allows("https://a.example", b));
        Assert.True(snapshot.Allows("https://shared.example", a));
        Assert.True(snapshot.Allows("https://shared.example", b));
        Assert.False(snapshot.AllowsAnyTeam("https://other.example"));
    }

    [Fact]
    public void Cache_ExpiresAfterItsLifetime_AndALiveEventEvictsIt()
    {
        var dispatcher = new LiveDispatcher(NullLogger<LiveDispatcher>.Instance);
        var cache = new IngestionOriginCache(dispatcher);
        var now = DateTimeOffset.UnixEpoch;
        Assert.False(cache.TryGet(now, out _));

        cache.Set(IngestionOriginSnapshot.Build([], now), cache.Generation);
        Assert.True(cache.TryGet(now + IngestionOriginCache.Lifetime - TimeSpan.FromSeconds(1), out _));
        Assert.False(cache.TryGet(now + IngestionOriginCache.Lifetime, out _));

        // Another node changed a team's origins: the copy goes at once.
        dispatcher.Deliver(new IngestionOriginsChanged(Guid.NewGuid()));
        Assert.False(cache.TryGet(now, out _));
    }

    [Fact]
    public void Cache_DoesNotKeepALoadThatBeganBeforeAChange()
    {
        var cache = new IngestionOriginCache(new LiveDispatcher(NullLogger<LiveDispatcher>.Instance));
        var now = DateTimeOffset.UnixEpoch;
        var generation = cache.Generation;

        cache.Invalidate();
        cache.Set(IngestionOriginSnapshot.Build([], now), generation);

        Assert.False(cache.TryGet(now, out _));
    }
}
