using System.Net;
using EvalPlatform.Data.Identity;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Setup;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Setup;

/// <summary>
/// The first-run page, then sign-in with its hardening, over HTTP with real forms. One fixture per
/// class: the first-run state is the database's, so these tests run in order on one fresh database.
/// </summary>
[TestCaseOrderer("EvalPlatform.Tests.Infrastructure.DeclarationOrderer", "EvalPlatform.Tests")]
public sealed class FirstRunAndSignInTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    private const string AdminEmail = "owner@example.test";
    private const string AdminPassword = "a long enough passphrase";

    private HttpClient Browser() => app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    [Fact, Order(1)]
    public async Task BeforeSetup_EveryPageRedirectsToTheFirstRunPage_ButTheApiAndHealthDoNot()
    {
        using var client = Browser();

        foreach (var page in new[] { "/", "/traces", "/account/login", "/settings/api-keys" })
        {
            var response = await client.GetAsync(page);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.Equal("/setup", RedirectTarget(response));
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/whoami")).StatusCode);
    }

    [Fact, Order(2)]
    public async Task Setup_WithAShortPassword_ShowsTheRuleAndCreatesNothing()
    {
        using var client = Browser();
        var response = await FormPoster.SubmitAsync(client, "/setup", "setup", Fields("short"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("at least 12 characters", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(await app.Services.GetRequiredService<SetupState>().IsCompleteAsync());
    }

    [Fact, Order(2)]
    public async Task Setup_WithAPasswordOfOneRepeatedCharacter_ShowsIdentitysRuleAndCreatesNothing()
    {
        using var client = Browser();
        var response = await FormPoster.SubmitAsync(client, "/setup", "setup", Fields(new string('a', 14)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("different characters", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(await app.Services.GetRequiredService<SetupState>().IsCompleteAsync());
    }

    [Fact, Order(2)]
    public async Task Setup_WithoutTheSetUpTokenFromTheLog_IsRefusedAndCreatesNothing()
    {
        using var client = Browser();
        var response = await FormPoster.SubmitAsync(client, "/setup", "setup", Fields(AdminPassword, token: "a guess"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("This is not the set-up token", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(await app.Services.GetRequiredService<SetupState>().IsCompleteAsync());
    }

    [Fact, Order(3)]
    public async Task Setup_CreatesTheOwnerAndTeam_ThenDisappears()
    {
        using var client = Browser();
        var response = await FormPoster.SubmitAsync(client, "/setup", "setup", Fields(AdminPassword));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        // Signed in at once (issue 13): the owner lands on the traces with their cookie.
        Assert.Equal("/traces", RedirectTarget(response));
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.Contains("evalplatform.auth=", StringComparison.Ordinal));
        var again = await client.GetAsync("/setup");
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        Assert.Equal("/account/login", RedirectTarget(again));

        await using var scope = app.Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByEmailAsync(AdminEmail);
        Assert.NotNull(user);
        var memberships = await scope.ServiceProvider.GetRequiredService<EvalPlatform.Core.Teams.TeamService>().GetMembershipsAsync(user.Id);
        var membership = Assert.Single(memberships);
        Assert.Equal("First team", membership.TeamName);
        Assert.Equal(EvalPlatform.Core.Teams.TeamRole.Owner, membership.Role);
    }

    [Fact, Order(4)]
    public async Task Pages_RequireSignIn()
    {
        using var client = Browser();
        var response = await client.GetAsync("/traces");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("/account/login", response.Headers.Location?.ToString(), StringComparison.Ordinal);
    }

    [Fact, Order(5)]
    public async Task SignIn_WithTheRightPassword_SetsASecureHttpOnlyCookie_AndOpensTheTracesPage()
    {
        using var client = Browser();
        var response = await FormPoster.SubmitAsync(client, "/account/login?returnUrl=%2Ftraces", "login",
            new Dictionary<string, string> { ["Input.Email"] = AdminEmail, ["Input.Password"] = AdminPassword });

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/traces", RedirectTarget(response));
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("evalplatform.auth=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);

        var traces = await client.GetAsync("/traces");
        Assert.Equal(HttpStatusCode.OK, traces.StatusCode);
        Assert.Contains("No traces yet", await traces.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact, Order(6)]
    public async Task SignIn_IgnoresAnOffSiteReturnUrl()
    {
        using var client = Browser();
        var response = await FormPoster.SubmitAsync(client, "/account/login?returnUrl=%2F%2Fevil.example%2F", "login",
            new Dictionary<string, string> { ["Input.Email"] = AdminEmail, ["Input.Password"] = AdminPassword });

        Assert.Equal("/traces", RedirectTarget(response));
    }

    [Fact, Order(7)]
    public async Task SignIn_WithoutTheAntiforgeryToken_IsRefused()
    {
        using var client = Browser();
        using var content = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "login", ["Input.Email"] = AdminEmail, ["Input.Password"] = AdminPassword,
        });
        var response = await client.PostAsync("/account/login", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact, Order(8)]
    public async Task RepeatedWrongPasswords_LockTheAccount_EvenForTheRightPassword_SayingNothingAnUnknownAddressWouldNot()
    {
        var email = await TestData.CreateUserInTeamAsync(app.Services, await FirstTeamIdAsync(), EvalPlatform.Core.Teams.TeamRole.Reviewer);
        var failed = EvalPlatform.Web.Components.Pages.Account.Login.FailedMessage(15);
        using var client = Browser();
        for (var attempt = 1; attempt <= 6; attempt++)
        {
            foreach (var address in new[] { email, "nobody.here@example.test" })
            {
                var wrong = await FormPoster.SubmitAsync(client, "/account/login", "login",
                    new Dictionary<string, string> { ["Input.Email"] = address, ["Input.Password"] = "wrong password " + attempt });
                var html = await wrong.Content.ReadAsStringAsync();
                Assert.Contains(failed, html, StringComparison.Ordinal);
                Assert.DoesNotContain("locked", html, StringComparison.OrdinalIgnoreCase);
            }
        }

        // Locked: the right password does not sign in, and the answer is the one an unknown address gets.
        var right = await FormPoster.SubmitAsync(client, "/account/login", "login",
            new Dictionary<string, string> { ["Input.Email"] = email, ["Input.Password"] = TestData.Password });
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Contains(failed, await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/traces")).StatusCode);
    }

    [Fact, Order(9)]
    public async Task SignOut_EndsTheSession()
    {
        using var client = Browser();
        await FormPoster.SubmitAsync(client, "/account/login", "login",
            new Dictionary<string, string> { ["Input.Email"] = AdminEmail, ["Input.Password"] = AdminPassword });
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/traces")).StatusCode);

        // The sign-out form sits in the app bar's menu; any page of the signed-in user carries a token for it.
        var traces = await (await client.GetAsync("/account/login")).Content.ReadAsStringAsync();
        using var content = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = FormPoster.ReadToken(traces), ["returnUrl"] = "",
        });
        var signOut = await client.PostAsync("/account/logout", content);

        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/traces")).StatusCode);
    }

    private async Task<Guid> FirstTeamIdAsync()
    {
        await using var scope = app.Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByEmailAsync(AdminEmail);
        var memberships = await scope.ServiceProvider.GetRequiredService<EvalPlatform.Core.Teams.TeamService>().GetMembershipsAsync(user!.Id);
        return memberships[0].TeamId;
    }

    /// <summary>Where a redirect points, as a site-relative path (the app may answer with an absolute URL).</summary>
    private static string? RedirectTarget(HttpResponseMessage response) =>
        response.Headers.Location is not { } location ? null
        : location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;

    private static Dictionary<string, string> Fields(string password, string token = TestEnvironment.SetupToken) => new()
    {
        ["Input.Token"] = token,
        ["Input.TeamName"] = "First team",
        ["Input.DisplayName"] = "Olive Owner",
        ["Input.Email"] = AdminEmail,
        ["Input.Password"] = password,
        ["Input.ConfirmPassword"] = password,
    };
}
