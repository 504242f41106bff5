using Bunit;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Email;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Notifications;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Email;

/// <summary>The preferences section's e-mail half: off without SMTP, usable with it (saved per member), and the test e-mail.</summary>
public abstract class EmailPreferencesTestBase : BunitTestBase
{
    protected async Task<(CurrentTeam Team, string UserId)> MemberAsync()
    {
        var team = await TestData.CreateTeamAsync(Services);
        var (userId, email) = await TestData.CreateMemberAsync(Services, team.Id, TeamRole.Reviewer);
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, userId, TeamRole.Reviewer);
        return (new CurrentTeam(userId, email, new Membership(team.Id, team.Name, TeamRole.Reviewer, null), []), userId);
    }

    protected IRenderedComponent<TestHost> RenderSection(CurrentTeam team) =>
        Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<NotificationPreferencesSection>());
}

public sealed class EmailPreferencesWithoutSmtpTests : EmailPreferencesTestBase
{
    [Fact]
    public async Task WithoutSmtp_SaysEmailIsNotConfigured_AndOffersNoEmailChoices()
    {
        var (team, _) = await MemberAsync();
        var cut = RenderSection(team);

        cut.WaitForAssertion(() => Assert.Equal("E-mail is not configured on this server.", cut.Find("[data-testid=email-not-configured]").TextContent.Trim()));
        Assert.Empty(cut.FindAll("[data-testid=email-preferences]"));
        Assert.Empty(cut.FindAll("[data-testid=send-test-email]"));
        Assert.NotEmpty(cut.FindAll("input[type=checkbox][data-testid='pref-trace.reviewed']"));
    }
}

public sealed class EmailPreferencesWithSmtpTests : EmailPreferencesTestBase
{
    private readonly FakeSmtpServer _smtp = FakeSmtpServer.Start();

    public EmailPreferencesWithSmtpTests()
    {
        Services.Configure<SmtpOptions>(o =>
        {
            o.Host = "127.0.0.1";
            o.Port = _smtp.Port;
            o.Security = SmtpSecurity.None;
            o.From = "EvalPlatform <eval@example.test>";
            o.TimeoutSeconds = 5;
        });
    }

    protected override async Task CleanupAsync() => await _smtp.DisposeAsync();

    [Fact]
    public async Task WithSmtp_EmailChoicesAreLabelledCheckboxes_SavedForThisMember()
    {
        var (team, userId) = await MemberAsync();
        var cut = RenderSection(team);

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=email-preferences]")));
        Assert.Empty(cut.FindAll("[data-testid=email-not-configured]"));
        var group = cut.Find("[data-testid=email-preferences]");
        Assert.Equal("group", group.GetAttribute("role"));
        Assert.Equal("By e-mail", cut.Find($"#{group.GetAttribute("aria-labelledby")}").TextContent.Trim());
        var checkboxes = group.QuerySelectorAll("input[type=checkbox]");
        Assert.Equal(NotificationPreferences.InAppCapable.Count, checkboxes.Length);
        // Each checkbox sits in its label (the accessible name) and is a native input (keyboard reachable).
        Assert.All(checkboxes, c => Assert.NotNull(c.Closest("label")));
        Assert.All(checkboxes, c => Assert.False(c.HasAttribute("disabled")));
        Assert.All(checkboxes, c => Assert.NotEqual("-1", c.GetAttribute("tabindex")));
        Assert.Contains("Trace reviewed", cut.Find("input[data-testid='email-pref-trace.reviewed']").Closest("label")!.TextContent, StringComparison.Ordinal);

        await cut.Find("input[data-testid='email-pref-trace.reviewed']").ChangeAsync(new() { Value = true });
        await cut.Find("input[data-testid='email-pref-alert.firing']").ChangeAsync(new() { Value = true });
        await cut.Find("[data-testid=save-preferences]").ClickAsync(new());

        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Active.TeamId, userId, TeamRole.Reviewer);
        var saved = await scope.ServiceProvider.GetRequiredService<InAppNotificationService>().GetPreferencesAsync();
        Assert.Equal([NotificationEventTypes.AlertFiring, NotificationEventTypes.TraceReviewed], saved.Email);
        Assert.Equal(NotificationPreferences.DefaultInApp, saved.InApp);

        // The saved choices stay ticked; the member has no e-mails yet.
        Assert.True(cut.Find("input[data-testid='email-pref-trace.reviewed']").HasAttribute("checked"));
        Assert.False(cut.Find("input[data-testid='email-pref-queue.completed']").HasAttribute("checked"));
        Assert.NotEmpty(cut.FindAll("[data-testid=emails-empty]"));
    }

    [Fact]
    public async Task SendTestEmail_ShowsSent_AndTheMessageArrives()
    {
        var (team, _) = await MemberAsync();
        var cut = RenderSection(team);

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=send-test-email]")));
        await cut.Find("[data-testid=send-test-email]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("Sent", cut.Find("[data-testid=test-email-result]").TextContent, StringComparison.Ordinal));
        var mail = Assert.Single(_smtp.To(team.UserName));
        Assert.Equal("Test e-mail from EvalPlatform", mail.Message.Subject);

        _smtp.Script(SmtpStage.RcptTo, "550 5.1.1 Mailbox unavailable");
        await cut.Find("[data-testid=send-test-email]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("Not sent: 550 5.1.1 Mailbox unavailable", cut.Find("[data-testid=test-email-result]").TextContent, StringComparison.Ordinal));
    }
}
