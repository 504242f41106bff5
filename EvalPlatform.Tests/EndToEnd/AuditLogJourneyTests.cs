using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// An Owner signs in, creates an API key in the UI, opens Settings → Audit log from the navigation and finds both there
/// (their sign-in and the key), narrows the log to API keys; light and dark at 1440 and 390 px, axe on each. A Reviewer has no link
/// and is refused.
/// </summary>
public sealed class AuditLogJourneyTests(AuditLogJourneyTests.Factory app, BrowserFixture browser)
    : IClassFixture<AuditLogJourneyTests.Factory>, IClassFixture<BrowserFixture>
{
    public sealed class Factory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true);

    [Fact]
    public async Task AnOwner_FindsTheirSignInAndTheKeyTheyCreated_AReviewerIsRefused()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("support-bot prod", ApiKeyScopes.Ingest);
        }

        await page.GetByRole(AriaRole.Link, new() { Name = "Audit log" }).ClickAsync();
        await page.WaitForURLAsync("**/settings/audit-log");
        await page.WaitUntilInteractiveAsync();
        var rows = page.Locator("[data-testid=audit-table] tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        Assert.Equal("api_key.created", await rows.Nth(0).Locator("code").InnerTextAsync());
        Assert.Contains("support-bot prod", await rows.Nth(0).InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal("auth.signed_in", await rows.Nth(1).Locator("code").InnerTextAsync());
        Assert.Contains(team.OwnerEmail, await rows.Nth(1).InnerTextAsync(), StringComparison.Ordinal);
        await page.AssertAccessibleAsync("audit log, light 1440");
        await page.ScreenshotAsync("199-audit-log-light-1440");

        await page.Locator("[data-testid=audit-action]").ClickAsync();
        await page.GetByRole(AriaRole.Option, new() { Name = "API keys" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        Assert.Equal("api_key.created", await rows.Nth(0).Locator("code").InnerTextAsync());

        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("audit log filtered, dark 1440");
        await page.ScreenshotAsync("199b-audit-log-dark-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        // The theme is the circuit's: the reload comes back light.
        await page.AssertAccessibleAsync("audit log, light 390");
        await page.ScreenshotAsync("200-audit-log-light-390");
        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("audit log, dark 390");
        await page.ScreenshotAsync("200b-audit-log-dark-390");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways at 390 px");
        Assert.Empty(errors);

        var (_, reviewerEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await using var reviewerContext = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var reviewer = await reviewerContext.NewPageAsync();
        await reviewer.SignInAsync(reviewerEmail);
        Assert.Equal(0, await reviewer.Locator("a[href='/settings/audit-log']").CountAsync());
        await reviewer.GotoAsync("/settings/audit-log");
        await reviewer.WaitUntilInteractiveAsync();
        await reviewer.GetByText("The audit log is for Admins and Owners").WaitForAsync();
        Assert.Equal(0, await reviewer.Locator("[data-testid=audit-table]").CountAsync());
    }
}
