using EvalPlatform.Core.Retention;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// An Owner opens Settings → Team from the menu, is told on the field that 0 days is not a retention, keeps traces for 30
/// days with the keyboard, and sees when the next purge runs. Light and dark, 1440 and 390, axe clean.
/// </summary>
public sealed class RetentionJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    private const string Days = "input[data-testid=retention-days], [data-testid=retention-days] input";

    [Fact]
    public async Task OwnerKeepsTracesFor30Days_IsToldAbout0_AndSeesTheNextPurge()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail);
        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Team", Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/settings/team");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=retention-next]", new() { HasText = "Traces are kept forever" }).WaitForAsync();

        // The keyboard alone: the field, then Tab to Save (past the field's clear button) and Enter.
        await page.Locator(Days).FocusAsync();
        await page.Keyboard.TypeAsync("0");
        await page.Locator("[data-testid=retention-save]").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.GetByText("Keep traces from 1 to 3650 days").WaitForAsync();
        Assert.Equal("true", await page.Locator(Days).GetAttributeAsync("aria-invalid"));
        await page.AssertAccessibleAsync("trace retention with 0 days, light 1440");
        await page.ScreenshotAsync("210-retention-invalid-light-1440");

        await page.Locator(Days).FocusAsync();
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("30");
        await page.Locator("[data-testid=retention-save]").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("[data-testid=retention-next]", new() { HasText = "Next purge:" }).WaitForAsync();
        await page.GetByText("Traces are kept for 30 days").WaitForAsync();
        Assert.Contains("02:45 UTC", await page.Locator("[data-testid=retention-next]").InnerTextAsync(), StringComparison.Ordinal);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            Assert.Equal(30, (await scope.ServiceProvider.GetRequiredService<RetentionService>().GetAsync()).KeepDays);
        }

        await page.WaitForAnimationsAsync();
        await page.AssertAccessibleAsync("trace retention saved, light 1440");
        await page.ScreenshotAsync("211-retention-saved-light-1440");

        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("trace retention, dark 1440");
        await page.ScreenshotAsync("212-retention-dark-1440");

        await page.SetViewportSizeAsync(390, 844);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "Settings → Team scrolls sideways at 390 px.");
        await page.AssertAccessibleAsync("trace retention, dark 390");
        await page.ScreenshotAsync("213-retention-dark-390");
        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("trace retention, light 390");
        await page.ScreenshotAsync("214-retention-light-390");

        Assert.Empty(errors);
    }
}
