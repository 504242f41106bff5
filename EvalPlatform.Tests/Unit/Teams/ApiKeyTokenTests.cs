using EvalPlatform.Core.Teams;

namespace EvalPlatform.Tests.Unit.Teams;

public sealed class ApiKeyTokenTests
{
    [Fact]
    public void Generate_MakesAKeyThatCarriesItsPrefixAndMatchesItsHash()
    {
        var (key, prefix, hash) = ApiKeyToken.Generate();

        Assert.Matches("^ep_[0-9a-f]{12}$", prefix);
        Assert.StartsWith(prefix + "_", key, StringComparison.Ordinal);
        Assert.True(ApiKeyToken.TryGetPrefix(key, out var read));
        Assert.Equal(prefix, read);
        Assert.True(ApiKeyToken.Matches(key, hash));
        Assert.False(ApiKeyToken.Matches(key + "x", hash));
    }

    [Fact]
    public void Generate_NeverRepeats()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => ApiKeyToken.Generate().Key).ToHashSet();
        Assert.Equal(1000, keys.Count);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sk-abc")]
    [InlineData("ep_")]
    [InlineData("ep_0123456789ab")]
    [InlineData("ep_0123456789ab_")]
    [InlineData("ep_short_secret")]
    public void TryGetPrefix_RejectsWhatIsNotShapedLikeAKey(string? presented)
    {
        Assert.False(ApiKeyToken.TryGetPrefix(presented, out _));
    }

    [Fact]
    public void TryGetPrefix_RejectsOverlongInput()
    {
        Assert.False(ApiKeyToken.TryGetPrefix("ep_0123456789ab_" + new string('a', 200), out _));
    }
}
