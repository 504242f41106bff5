using System.Net;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Notifications;
using EvalPlatform.Web.Notifications;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Integration.Email;

/// <summary>Without <c>Smtp:Host</c> e-mail is off: nothing is queued for e-mail, and the test e-mail says why.</summary>
public sealed class EmailOffTests(NotificationSqliteAppFactory app) : IClassFixture<NotificationSqliteAppFactory>
{
    [Fact]
    public async Task WithoutSmtp_NothingIsQueuedForEmail_ButInAppStillIs()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        using var _ = api;
        var member = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await AsMember.ChooseEmailAsync(app.Services, team.Id, member.UserId, NotificationEventTypes.TraceReviewed);
        var id = await api.PostTraceAsync(new { name = "no mail", user_input = "q", response = "a" });
        var response = await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "reject", reason = "hallucination" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        Assert.Equal(0, await db.NotificationDeliveries.IgnoreQueryFilters().CountAsync(d => d.TeamId == team.Id));
        Assert.Equal(1, await db.InAppNotifications.IgnoreQueryFilters().CountAsync(n => n.TeamId == team.Id && n.UserId == member.UserId));

        var email = await AsMember.EmailAsync(app.Services, team.Id, member.UserId, e => Task.FromResult(e.IsConfigured));
        Assert.False(email);
        var test = await AsMember.EmailAsync(app.Services, team.Id, member.UserId, e => e.SendTestAsync());
        Assert.False(test.Delivered);
        Assert.Contains("not configured", test.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "Smtp:Host is set but Smtp:From is empty")]
    [InlineData("not an address", "Smtp:From \"not an address\" is not an e-mail address")]
    public void HalfConfiguredSmtp_IsRefusedAtStart_WithOneLineNamingTheSetting(string? from, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Smtp:Host"] = "smtp.example.test", ["Smtp:From"] = from })
            .Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddEvalEmail();
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SmtpOptions>>().Value);
        var line = Assert.Single(e.Failures);
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void NoHost_IsEmailOff_AndValid()
    {
        var options = new SmtpOptions { From = "" };
        Assert.False(options.IsConfigured);
        Assert.Null(options.Problem());
        Assert.Equal("Smtp:UserName and Smtp:Password go together: set both (the server wants a login) or neither.",
            new SmtpOptions { Host = "h", From = "a@b.test", UserName = "u" }.Problem());
    }
}
