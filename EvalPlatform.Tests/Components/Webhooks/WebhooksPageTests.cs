using Bunit;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Webhooks;

public sealed class WebhooksPageTests : BunitTestBase
{
    private async Task<(IRenderedComponent<TestHost> Page, TestTeam Team)> RenderAsOwnerAsync()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var team = new CurrentTeam(owner.OwnerId, owner.OwnerEmail, new Membership(owner.Id, owner.Name, TeamRole.Owner, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
        return (Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<WebhooksPage>()), owner);
    }

    [Fact]
    public async Task Creating_ShowsTheSecretOnce_ThenListsOnlyItsLastCharacters()
    {
        var (cut, team) = await RenderAsOwnerAsync();
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=secrets-empty]")));
        Assert.Contains($"/api/v1/webhooks/my-system?team={team.Id}", cut.Find("[data-testid=webhook-url]").TextContent, StringComparison.Ordinal);

        await cut.Find("[data-testid=create-secret]").ClickAsync(new());

        string secret = "";
        cut.WaitForAssertion(() => secret = cut.Find("[data-testid=webhook-secret]").TextContent);
        Assert.Matches("^whsec_[A-Za-z0-9_-]{43}$", secret);
        Assert.NotEmpty(cut.FindAll("[data-testid=secret-current]"));
        Assert.Contains($"whsec_…{secret[^4..]}", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=create-secret]"));

        await cut.Find("[data-testid=secret-done]").ClickAsync(new());
        Assert.DoesNotContain(secret, cut.Markup, StringComparison.Ordinal);
        Assert.NotEmpty(cut.FindAll("[data-testid=secrets-table]"));
    }

    [Fact]
    public async Task Rotating_ShowsTheNewSecret_AndKeepsThePreviousOneListedAsValidForADay()
    {
        var (cut, _) = await RenderAsOwnerAsync();
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=create-secret]")));
        await cut.Find("[data-testid=create-secret]").ClickAsync(new());
        string first = "";
        cut.WaitForAssertion(() => first = cut.Find("[data-testid=webhook-secret]").TextContent);

        await cut.Find("[data-testid=rotate-secret]").ClickAsync(new());

        string second = "";
        cut.WaitForAssertion(() => second = cut.Find("[data-testid=webhook-secret]").TextContent);
        Assert.NotEqual(first, second);
        Assert.DoesNotContain(first, cut.Markup, StringComparison.Ordinal);
        Assert.Single(cut.FindAll("[data-testid=secret-current]"));
        Assert.Contains("previous, valid until", Assert.Single(cut.FindAll("[data-testid=secret-previous]")).TextContent, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    public async Task ANonAdmin_SeesNoControls_AndTheServiceRefusesThem(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = await TestData.CreateMemberAsync(Services, owner.Id, role);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<WebhooksPage>());

        Assert.NotEmpty(cut.FindAll("[data-testid=webhooks-not-allowed]"));
        Assert.Empty(cut.FindAll("[data-testid=create-secret]"));
        Assert.Empty(cut.FindAll("[data-testid=rotate-secret]"));
        Assert.Empty(cut.FindAll("[data-testid=webhook-url]"));
        await Assert.ThrowsAsync<EvalPlatform.Core.Common.PermissionDeniedException>(
            () => Services.GetRequiredService<EvalPlatform.Core.Webhooks.WebhookSecretService>().CreateAsync());
    }

    [Theory]
    [InlineData(TeamRole.Viewer, false)]
    [InlineData(TeamRole.Reviewer, false)]
    [InlineData(TeamRole.Admin, true)]
    [InlineData(TeamRole.Owner, true)]
    public void NavMenu_ShowsWebhooksOnlyToAdmins(TeamRole role, bool shown)
    {
        var membership = new Membership(Guid.NewGuid(), "T", role, null);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam("u", "u@example.test", membership, [membership])).AddChildContent<NavMenu>());

        Assert.Equal(shown, cut.Markup.Contains("/settings/webhooks", StringComparison.Ordinal));
    }
}
