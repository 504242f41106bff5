using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Members;

/// <summary>The acceptance page, the account page's session controls and the members API, over HTTP against PostgreSQL.</summary>
public sealed class MemberPagesAndApiTests(PostgresAppFactory app) : IClassFixture<PostgresAppFactory>
{
    private static readonly Uri AppBase = new("http://localhost/");

    [Fact]
    public async Task AcceptPage_SignsUpANewAccount_JoinsWithTheRole_AndTheLinkIsThenUsed()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var email = $"{TestData.Unique("join")}@example.test";
        var token = await InviteAsync(team, email, TeamRole.Reviewer);
        using var browser = Browser();

        var page = await (await browser.GetAsync($"/invite/{token}")).Content.ReadAsStringAsync();
        Assert.Contains($"Join {team.Name}", page, StringComparison.Ordinal);
        Assert.Contains("Create account and join", page, StringComparison.Ordinal);

        var mismatch = await FormPoster.SubmitAsync(browser, $"/invite/{token}", "accept-invitation",
            new Dictionary<string, string> { ["Input.Password"] = TestData.Password, ["Input.ConfirmPassword"] = "something else entirely" });
        Assert.Contains("do not match", await mismatch.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var joined = await FormPoster.SubmitAsync(browser, $"/invite/{token}", "accept-invitation",
            new Dictionary<string, string> { ["Input.Password"] = TestData.Password, ["Input.ConfirmPassword"] = TestData.Password });
        Assert.Equal(HttpStatusCode.Redirect, joined.StatusCode);
        Assert.EndsWith("/traces", joined.Headers.Location?.OriginalString, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/traces")).StatusCode);

        var members = await MembersAsync(team);
        var member = Assert.Single(members, m => m.Email == email);
        Assert.Equal(TeamRole.Reviewer, member.Role);
        Assert.NotNull(member.LastSignInAt);

        using var other = Browser();
        var used = await (await other.GetAsync($"/invite/{token}")).Content.ReadAsStringAsync();
        Assert.Contains("already been used", used, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcceptPage_ForAnExistingAccount_AsksForItsPassword()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var user = await TestData.CreateUserAsync(app.Services);
        var token = await InviteAsync(team, user.Email!, TeamRole.Viewer);
        using var browser = Browser();

        var wrong = await FormPoster.SubmitAsync(browser, $"/invite/{token}", "accept-invitation",
            new Dictionary<string, string> { ["Input.Password"] = "not the password at all" });
        Assert.Contains("Wrong password", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(await MembersAsync(team), m => m.UserId == user.Id);

        var joined = await FormPoster.SubmitAsync(browser, $"/invite/{token}", "accept-invitation",
            new Dictionary<string, string> { ["Input.Password"] = TestData.Password });
        Assert.Equal(HttpStatusCode.Redirect, joined.StatusCode);
        Assert.Equal(TeamRole.Viewer, Assert.Single(await MembersAsync(team), m => m.UserId == user.Id).Role);
    }

    [Fact]
    public async Task AcceptPage_ForRevokedOrUnknownLinks_SaysWhy()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var token = await InviteAsync(team, $"{TestData.Unique("gone")}@example.test", TeamRole.Viewer);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            var invitations = scope.ServiceProvider.GetRequiredService<InvitationService>();
            await invitations.RevokeAsync((await invitations.ListPendingAsync()).Single().Id);
        }

        using var browser = Browser();
        Assert.Contains("was withdrawn", await (await browser.GetAsync($"/invite/{token}")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("not valid", await (await browser.GetAsync("/invite/inv_nothing-here")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignOutEverywhere_EndsTheOtherBrowsersSession()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var first = Browser();
        using var second = Browser();
        await SignInAsync(first, team);
        await SignInAsync(second, team);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/traces")).StatusCode);

        var signedOut = await FormPoster.SubmitAsync(first, "/account", "sign-out-everywhere", new Dictionary<string, string>());

        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        var after = await second.GetAsync("/traces");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.Contains("/account/login", after.Headers.Location?.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChangePassword_KeepsThisSession_EndsTheOthers()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var first = Browser();
        using var second = Browser();
        await SignInAsync(first, team);
        await SignInAsync(second, team);

        var short_ = await FormPoster.SubmitAsync(first, "/account", "change-password",
            new Dictionary<string, string> { ["Password.Current"] = TestData.Password, ["Password.New"] = "short", ["Password.Confirm"] = "short" });
        Assert.Contains("at least 12", await short_.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var changed = await FormPoster.SubmitAsync(first, "/account", "change-password",
            new Dictionary<string, string> { ["Password.Current"] = TestData.Password, ["Password.New"] = "another good passphrase", ["Password.Confirm"] = "another good passphrase" });
        Assert.Contains("Password changed", await changed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/traces")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await second.GetAsync("/traces")).StatusCode);
    }

    [Fact]
    public async Task Api_ListsMembers_AndInvites_WithAnAdminKeyOnly()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read | ApiKeyScopes.Ingest);

        var members = await admin.GetJsonAsync("/api/v1/members");
        var owner = Assert.Single(members.EnumerateArray());
        Assert.Equal("owner", owner.GetProperty("role").GetString());
        Assert.Equal(team.OwnerEmail, owner.GetProperty("email").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.Http.GetAsync("/api/v1/members")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostJsonAsync("/api/v1/invitations", new { email = "a@example.test", role = "viewer" })).StatusCode);

        var created = await admin.PostJsonAsync("/api/v1/invitations", new { email = "ana@example.test", role = "reviewer" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("reviewer", body.GetProperty("role").GetString());
        Assert.Equal("pending", body.GetProperty("status").GetString());
        Assert.StartsWith("http://localhost/invite/inv_", body.GetProperty("link").GetString(), StringComparison.Ordinal);
        Assert.False(body.GetProperty("mailed").GetBoolean());

        var listed = await admin.GetJsonAsync("/api/v1/invitations");
        Assert.Equal("ana@example.test", Assert.Single(listed.EnumerateArray()).GetProperty("email").GetString());
        Assert.False(Assert.Single(listed.EnumerateArray()).TryGetProperty("link", out _));

        await AssertFieldAsync(await admin.PostJsonAsync("/api/v1/invitations", new { email = "b@example.test", role = "owner" }), "role");
        await AssertFieldAsync(await admin.PostJsonAsync("/api/v1/invitations", new { email = "nope", role = "viewer" }), "email");
        await AssertFieldAsync(await admin.PostJsonAsync("/api/v1/invitations", new { email = 42, role = "viewer" }), "email");
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostJsonAsync("/api/v1/invitations", new { email = "ana@example.test", role = "viewer" })).StatusCode);

        var (otherAdmin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        var id = body.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await otherAdmin.Http.DeleteAsync($"/api/v1/invitations/{id}")).StatusCode);
        Assert.Empty((await otherAdmin.GetJsonAsync("/api/v1/invitations")).EnumerateArray());
        var revoked = await admin.Http.DeleteAsync($"/api/v1/invitations/{id}");
        Assert.Equal("revoked", JsonDocument.Parse(await revoked.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
    }

    private static async Task AssertFieldAsync(HttpResponseMessage response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    private HttpClient Browser() => app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    private static async Task SignInAsync(HttpClient browser, TestTeam team)
    {
        var signIn = await FormPoster.SubmitAsync(browser, "/account/login", "login",
            new Dictionary<string, string> { ["Input.Email"] = team.OwnerEmail, ["Input.Password"] = team.OwnerPassword });
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
    }

    private async Task<string> InviteAsync(TestTeam team, string email, TeamRole role)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var issued = await scope.ServiceProvider.GetRequiredService<InvitationService>().InviteAsync(email, role, AppBase);
        return issued.Link[(issued.Link.LastIndexOf('/') + 1)..];
    }

    private async Task<IReadOnlyList<MemberRow>> MembersAsync(TestTeam team)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return await scope.ServiceProvider.GetRequiredService<MemberService>().ListAsync();
    }
}
