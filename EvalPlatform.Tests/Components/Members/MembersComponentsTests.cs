using System.Security.Claims;
using Bunit;
using Bunit.TestDoubles;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Data.Identity;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Members;

public sealed class MembersComponentsTests : BunitTestBase
{
    private readonly BunitAuthorizationContext _auth;

    public MembersComponentsTests()
    {
        Services.AddSingleton<AccountSessions>();
        _auth = AddAuthorization();
    }

    [Fact]
    public async Task MembersPage_ForAViewer_ListsMembers_WithoutInviteRoleOrRemoveControls()
    {
        var team = await TestData.CreateTeamAsync(Services);
        var (viewerId, viewerEmail) = await TestData.CreateMemberAsync(Services, team.Id, TeamRole.Viewer);
        var current = As(team, viewerId, viewerEmail, TeamRole.Viewer);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<MembersPage>());

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=members-table]")));
        Assert.Contains(team.OwnerEmail, cut.Markup, StringComparison.Ordinal);
        Assert.Equal("Owner", cut.Find($"[data-testid='role-text-{team.OwnerEmail}']").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid=invite-email]"));
        Assert.Empty(cut.FindAll($"[data-testid='remove-{team.OwnerEmail}']"));
        Assert.Empty(cut.FindAll($"[data-testid='transfer-{team.OwnerEmail}']"));
        Assert.NotEmpty(cut.FindAll("[data-testid=leave-team]"));
    }

    [Fact]
    public async Task MembersPage_ForAnOwner_InvitesAndShowsTheLinkOnce_ThenListsThePendingInvitation()
    {
        var team = await TestData.CreateTeamAsync(Services);
        var (reviewerId, reviewerEmail) = await TestData.CreateMemberAsync(Services, team.Id, TeamRole.Reviewer);
        var current = As(team, team.OwnerId, team.OwnerEmail, TeamRole.Owner);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<MembersPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=members-table]")));
        Assert.NotEmpty(cut.FindAll($"[data-testid='remove-{reviewerEmail}']"));
        Assert.NotEmpty(cut.FindAll($"[data-testid='transfer-{reviewerEmail}']"));
        Assert.Empty(cut.FindAll($"[data-testid='remove-{team.OwnerEmail}']"));

        await cut.Find("form input").ChangeAsync(new() { Value = "not an address" });
        await cut.Find("form").SubmitAsync();
        cut.WaitForAssertion(() => Assert.Contains("Enter an e-mail address", cut.Markup, StringComparison.Ordinal));

        await cut.Find("form input").ChangeAsync(new() { Value = "colleague@example.test" });
        await cut.Find("form").SubmitAsync();

        string link = "";
        cut.WaitForAssertion(() => link = cut.Find("[data-testid=invitation-link]").TextContent.Trim());
        Assert.StartsWith("http://localhost/invite/inv_", link, StringComparison.Ordinal);
        Assert.Contains("E-mail is not configured", cut.Markup, StringComparison.Ordinal);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=invitations-table]")));
        Assert.Contains("colleague@example.test", cut.Find("[data-testid=invitations-table]").TextContent, StringComparison.Ordinal);
        Assert.Contains("Reviewer", cut.Find("[data-testid=invitations-table]").TextContent, StringComparison.Ordinal);
        Assert.NotEqual(reviewerId, link);
    }

    [Fact]
    public async Task TeamScope_ARoleChange_ReachesTheOpenPage_WithoutReload()
    {
        var team = await TestData.CreateTeamAsync(Services);
        var (adminId, adminEmail) = await TestData.CreateMemberAsync(Services, team.Id, TeamRole.Admin);
        string stamp;
        await using (var scope = Services.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            stamp = await users.GetSecurityStampAsync((await users.FindByIdAsync(adminId))!);
        }

        _auth.SetAuthorized(adminEmail);
        _auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, adminId), new Claim(new IdentityOptions().ClaimsIdentity.SecurityStampClaimType, stamp));
        Renderer.SetRendererInfo(new RendererInfo("Server", true));

        var cut = Render<TeamScopeHost>();
        cut.WaitForAssertion(() => Assert.Contains("/settings/api-keys", cut.Markup, StringComparison.Ordinal));

        await using (var scope = Services.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<MemberService>().ChangeRoleAsync(adminId, TeamRole.Viewer);
        }

        cut.WaitForAssertion(() => Assert.DoesNotContain("/settings/api-keys", cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Contains("/settings/members", cut.Markup, StringComparison.Ordinal);
        Assert.Equal(TeamRole.Viewer, Services.GetRequiredService<TeamContext>().Role);
    }

    private CurrentTeam As(TestTeam team, string userId, string email, TeamRole role)
    {
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, userId, role);
        var membership = new Membership(team.Id, team.Name, role, null);
        return new CurrentTeam(userId, email, membership, [membership]);
    }
}
