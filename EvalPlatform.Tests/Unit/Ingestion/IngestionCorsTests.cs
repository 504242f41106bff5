using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Unit.Ingestion;

public sealed class IngestionCorsTests
{
    private static readonly Guid TeamA = Guid.NewGuid();
    private static readonly Guid TeamB = Guid.NewGuid();

    private static readonly IngestionOriginSnapshot Teams = IngestionOriginSnapshot.Build(
        [(TeamA, ["https://a.example"]), (TeamB, ["https://b.example"])], DateTimeOffset.UnixEpoch);

    private static IngestionCorsSettings Settings(params string[] origins) =>
        new(Options.Create(new IngestionCorsOptions { AllowedOrigins = [.. origins] }));

    [Fact]
    public void Judge_APreflight_PassesAnOriginOfAnyTeam_OrOfTheConfiguration()
    {
        var settings = Settings("https://configured.example");

        Assert.Equal(OriginVerdict.Allowed, IngestionCors.Judge("https://a.example", settings, Teams, keyTeam: null));
        Assert.Equal(OriginVerdict.Allowed, IngestionCors.Judge("https://b.example", settings, Teams, keyTeam: null));
        Assert.Equal(OriginVerdict.Allowed, IngestionCors.Judge("https://configured.example", settings, Teams, keyTeam: null));
        Assert.Equal(OriginVerdict.Refused, IngestionCors.Judge("https://evil.example", settings, Teams, keyTeam: null));
    }

    [Fact]
    public void Judge_ARequestWithAKey_NeedsAnOriginOfItsOwnTeam_OrOfTheConfiguration()
    {
        var settings = Settings("https://configured.example");

        Assert.Equal(OriginVerdict.Allowed, IngestionCors.Judge("https://a.example", settings, Teams, TeamA));
        Assert.Equal(OriginVerdict.Refused, IngestionCors.Judge("https://a.example", settings, Teams, TeamB));
        Assert.Equal(OriginVerdict.Allowed, IngestionCors.Judge("https://configured.example", settings, Teams, TeamB));
        Assert.Equal(OriginVerdict.Refused, IngestionCors.Judge("https://a.example", settings, Teams, Guid.NewGuid()));
    }

    [Fact]
    public void Judge_AWildcardInTheConfiguration_AllowsEveryOrigin_ForEveryTeam()
    {
        var settings = Settings("*");

        Assert.True(settings.AllowsAny);
        Assert.Equal(OriginVerdict.Allowed, IngestionCors.Judge("https://anything.example", settings, IngestionOriginSnapshot.Empty, TeamB));
    }

    [Fact]
    public void Settings_CompareConfiguredOriginsInNormalForm()
    {
        var settings = Settings("HTTPS://Configured.Example:443/");

        Assert.True(settings.AllowsForEveryTeam("https://configured.example"));
        Assert.False(settings.AllowsAny);
    }

    [Theory]
    [InlineData(null, OriginVerdict.NotCrossOrigin)]
    [InlineData("http://app.internal:8080", OriginVerdict.NotCrossOrigin)]
    [InlineData("HTTP://APP.INTERNAL:8080", OriginVerdict.NotCrossOrigin)]
    [InlineData("null", OriginVerdict.Refused)]
    [InlineData("https://a.example/path", OriginVerdict.Refused)]
    [InlineData("https://a.example", null)]
    [InlineData("http://app.internal:8081", null)]
    public void ReadOrigin_SetsAsideRequestsWithoutOne_OrFromTheAppItself(string? header, OriginVerdict? expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("app.internal:8080");
        if (header is not null)
        {
            context.Request.Headers.Origin = header;
        }

        Assert.Equal(expected, IngestionCors.ReadOrigin(context.Request, out var origin));
        if (expected is null)
        {
            Assert.Equal(header!.ToLowerInvariant(), origin);
        }
    }

    [Fact]
    public void OptionsValidator_NamesEachBadEntry_AndAcceptsAWildcard()
    {
        var validator = new IngestionCorsOptionsValidator();

        Assert.True(validator.Validate(null, new IngestionCorsOptions { AllowedOrigins = ["*", "https://ok.example", "http://localhost:3000/"] }).Succeeded);
        var result = validator.Validate(null, new IngestionCorsOptions { AllowedOrigins = ["https://ok.example", "https://bad.example/path"] });
        Assert.True(result.Failed);
        Assert.Contains("Ingestion:Cors:AllowedOrigins:1", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("has no path", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Policies_NeverAllowCredentials_AndEchoTheOrigin()
    {
        var allowing = IngestionCors.PolicyFor(OriginVerdict.Allowed);
        var refusing = IngestionCors.PolicyFor(OriginVerdict.Refused);

        Assert.False(allowing.SupportsCredentials);
        Assert.False(allowing.AllowAnyOrigin);
        Assert.True(allowing.IsOriginAllowed("https://a.example"));
        Assert.False(refusing.IsOriginAllowed("https://a.example"));
        Assert.Equal(["GET", "POST", "PATCH"], allowing.Methods);
        Assert.Contains("x-api-key", allowing.Headers);
        Assert.Equal(TimeSpan.FromMinutes(10), allowing.PreflightMaxAge);
    }
}
