using Bunit;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Teams;

public sealed class TeamComponentsTests : BunitTestBase
{
    private static CurrentTeam TeamOf(TeamRole role, params string[] names)
    {
        var memberships = names.Select(n => new Membership(Guid.NewGuid(), n, role, null)).ToList();
        return new CurrentTeam("user-1", "olive@example.test", memberships[0], memberships);
    }

    [Fact]
    public void TeamSwitcher_WithOneTeam_ShowsItsNameAndNoMenu()
    {
        var cut = Render<TestHost>(p => p.Add(h => h.Team, TeamOf(TeamRole.Owner, "Support bot")).AddChildContent<TeamSwitcher>());

        Assert.Equal("Support bot", cut.Find("[data-testid=team-name]").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid=team-switcher]"));
    }

    [Fact]
    public void TeamSwitcher_WithSeveralTeams_ShowsTheCurrentOneAsAMenu()
    {
        var cut = Render<TestHost>(p => p.Add(h => h.Team, TeamOf(TeamRole.Reviewer, "Search", "Support bot")).AddChildContent<TeamSwitcher>());

        Assert.Contains("Search", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=team-name]"));
        Assert.NotEmpty(cut.FindAll("button"));
        // On a phone the name gives way to a named icon, so the account button keeps its place in the app bar.
        Assert.Contains("d-sm-none", cut.Find("button[aria-label='Switch team (Search)']").ClassName, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TeamRole.Viewer, false)]
    [InlineData(TeamRole.Reviewer, false)]
    [InlineData(TeamRole.Admin, true)]
    [InlineData(TeamRole.Owner, true)]
    public void NavMenu_ShowsKeySettingsOnlyToAdmins(TeamRole role, bool shown)
    {
        var cut = Render<TestHost>(p => p.Add(h => h.Team, TeamOf(role, "T")).AddChildContent<NavMenu>());

        Assert.Equal(shown, cut.Markup.Contains("/settings/api-keys", StringComparison.Ordinal));
    }

    [Fact]
    public void ApiKeysPage_ForAViewer_ExplainsAndOffersNoCreateButton()
    {
        var team = TeamOf(TeamRole.Viewer, "T");
        Services.GetRequiredService<TeamContext>().SetMember(team.TeamId, team.UserId, TeamRole.Viewer);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<ApiKeysPage>());

        Assert.Contains("needs the Admin or Owner role", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=create-key]"));
    }

    [Fact]
    public async Task ApiKeysPage_CreatingAKey_ShowsItOnce_ThenListsOnlyItsPrefix()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var team = new CurrentTeam(owner.OwnerId, owner.OwnerEmail, new Membership(owner.Id, owner.Name, TeamRole.Owner, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<ApiKeysPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=keys-empty]")));

        // Not awaited: the page awaits the dialog's result, which comes only when the dialog closes.
        _ = cut.Find("[data-testid=create-key]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=confirm-create-key]")));
        await cut.Find(".mud-dialog input[type=text], .mud-dialog input:not([type])").ChangeAsync(new() { Value = "support-bot prod" });
        await cut.Find("[data-testid=confirm-create-key]").ClickAsync(new());

        string key = "";
        cut.WaitForAssertion(() => key = cut.Find("[data-testid=created-key]").TextContent);
        Assert.Matches("^ep_[0-9a-f]{12}_", key);

        await cut.Find("[data-testid=close-created-key]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=keys-table]")));
        Assert.Contains("support-bot prod", cut.Markup, StringComparison.Ordinal);
        Assert.Contains(key[..15], cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain(key, cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateKeyDialog_WithoutAName_SaysWhatIsMissing()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var team = new CurrentTeam(owner.OwnerId, owner.OwnerEmail, new Membership(owner.Id, owner.Name, TeamRole.Owner, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<ApiKeysPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=create-key]")));

        // Not awaited: the page awaits the dialog's result, which comes only when the dialog closes.
        _ = cut.Find("[data-testid=create-key]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=confirm-create-key]")));
        await cut.Find("[data-testid=confirm-create-key]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("'name' is required", cut.Markup, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=created-key]"));
    }
}
