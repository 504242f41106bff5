using Bunit;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Teams;

public sealed class AuditLogPageTests : BunitTestBase
{
    [Theory]
    [InlineData(TeamRole.Viewer, false)]
    [InlineData(TeamRole.Reviewer, false)]
    [InlineData(TeamRole.Admin, true)]
    [InlineData(TeamRole.Owner, true)]
    public void NavMenu_ShowsTheAuditLogOnlyToAdminsAndOwners(TeamRole role, bool shown)
    {
        var membership = new Membership(Guid.NewGuid(), "T", role, null);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam("user-1", "olive@example.test", membership, [membership])).AddChildContent<NavMenu>());

        Assert.Equal(shown, cut.Markup.Contains("/settings/audit-log", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Page_ForAReviewer_ExplainsAndShowsNoEntries()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (reviewerId, email) = await TestData.CreateMemberAsync(Services, owner.Id, TeamRole.Reviewer);
        var membership = new Membership(owner.Id, owner.Name, TeamRole.Reviewer, null);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, reviewerId, TeamRole.Reviewer);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam(reviewerId, email, membership, [membership])).AddChildContent<AuditLogPage>());

        Assert.Contains("for Admins and Owners", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=audit-table]"));
    }

    [Fact]
    public async Task Page_ShowsTheTeamsEntries_NewestFirst_AndFiltersByAction()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var membership = new Membership(owner.Id, owner.Name, TeamRole.Owner, null);
        var context = Services.GetRequiredService<TeamContext>();
        context.SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);

        var keys = Services.GetRequiredService<ApiKeyService>();
        var created = await keys.CreateAsync("support-bot prod", ApiKeyScopes.Ingest);
        await keys.RevokeAsync(created.Info.Id);
        await Services.GetRequiredService<Core.Webhooks.WebhookSecretService>().CreateAsync();

        var page = Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam(owner.OwnerId, owner.OwnerEmail, membership, [membership])).AddChildContent<AuditLogPage>());
        page.WaitForAssertion(() => Assert.Equal(3, page.FindAll("[data-testid=audit-table] tbody tr").Count));
        var actions = page.FindAll("[data-testid=audit-table] tbody tr code").Select(c => c.TextContent).ToArray();
        Assert.Equal(["webhook_secret.created", "api_key.revoked", "api_key.created"], actions);
        Assert.Contains(owner.OwnerEmail, page.Markup, StringComparison.Ordinal);
        Assert.Contains("ingest", page.Find("[data-testid=audit-table] tbody tr:last-child").TextContent, StringComparison.Ordinal);

        await page.Find("input[data-testid=audit-target], [data-testid=audit-target] input").ChangeAsync(new() { Value = "support-bot" });
        await page.Find("input[data-testid=audit-target], [data-testid=audit-target] input").KeyUpAsync(new KeyboardEventArgs { Key = "Enter" });
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=audit-table] tbody tr").Count));

        await page.Find("input[data-testid=audit-target], [data-testid=audit-target] input").ChangeAsync(new() { Value = "nothing like it" });
        await page.Find("input[data-testid=audit-target], [data-testid=audit-target] input").KeyUpAsync(new KeyboardEventArgs { Key = "Enter" });
        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("[data-testid=audit-empty]")));
        Assert.Contains("No entries match", page.Markup, StringComparison.Ordinal);
    }
}
