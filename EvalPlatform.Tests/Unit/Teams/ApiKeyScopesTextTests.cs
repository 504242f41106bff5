using EvalPlatform.Core.Teams;

namespace EvalPlatform.Tests.Unit.Teams;

public sealed class ApiKeyScopesTextTests
{
    [Theory]
    [InlineData("ingest", ApiKeyScopes.Ingest)]
    [InlineData("ingest,read", ApiKeyScopes.Ingest | ApiKeyScopes.Read)]
    [InlineData(" READ , admin ", ApiKeyScopes.Read | ApiKeyScopes.Admin)]
    [InlineData("read,review", ApiKeyScopes.Read | ApiKeyScopes.Review)]
    public void TryParse_ReadsTheWords(string text, ApiKeyScopes expected)
    {
        Assert.True(ApiKeyScopesText.TryParse(text, out var scopes, out _));
        Assert.Equal(expected, scopes);
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("read,write", "write")]
    public void TryParse_RefusesEmptyAndUnknown(string text, string? unknown)
    {
        Assert.False(ApiKeyScopesText.TryParse(text, out _, out var bad));
        Assert.Equal(unknown, bad);
    }

    [Fact]
    public void Format_RoundTrips()
    {
        const ApiKeyScopes all = ApiKeyScopesText.All;
        Assert.Equal("ingest,read,admin,review", ApiKeyScopesText.Format(all));
        Assert.True(ApiKeyScopesText.TryParse(ApiKeyScopesText.Format(all), out var back, out _));
        Assert.Equal(all, back);
    }
}
