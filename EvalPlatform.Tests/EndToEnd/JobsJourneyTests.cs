using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Jobs;
using EvalPlatform.Web.Jobs;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// An Owner opens Settings → Jobs from the navigation, runs the metrics rollup now, sees it fail (the rollup's store is down)
/// without reloading, reads the error; light and dark, 1440 and 390 px, axe on each. A Viewer has no link and is refused.
/// </summary>
public sealed class JobsJourneyTests(RollupKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<RollupKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task AnOwner_RunsTheRollupNow_AndReadsWhyItFailed_AViewerIsRefused()
    {
        app.Rollup.FailWith = "the metrics store is unreachable (connection refused)";
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);

        await page.GetByRole(AriaRole.Link, new() { Name = "Jobs" }).ClickAsync();
        await page.WaitForURLAsync("**/settings/jobs");
        await page.WaitUntilInteractiveAsync();
        var table = page.Locator("[data-testid=jobs-table]");
        await table.WaitForAsync();
        Assert.Equal(EvalJobs.All.Count, await table.Locator("tbody tr").CountAsync());
        var rollup = table.Locator("tbody tr").Filter(new() { Has = page.Locator($"[data-testid=job-{RollupJob.Key}]") });
        Assert.Contains("Every minute", await rollup.InnerTextAsync(), StringComparison.Ordinal);
        await page.AssertAccessibleAsync("light 1440");
        await page.ScreenshotAsync("90-jobs-light-1440");

        await rollup.Locator("[data-testid=job-run-now]").ClickAsync();
        await rollup.Locator("[data-testid=job-outcome]", new() { HasText = "Failed" }).WaitForAsync(new() { Timeout = 15_000 });
        await rollup.Locator("[data-testid=job-error-toggle]").ClickAsync();
        var error = rollup.Locator("[data-testid=job-error]");
        await Assertions.Expect(error).ToHaveTextAsync("InvalidOperationException: the metrics store is unreachable (connection refused)");
        await page.AssertAccessibleAsync("failed run, light 1440");
        await page.ScreenshotAsync("91-jobs-failed-light-1440");

        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await rollup.Locator("[data-testid=job-error-toggle]").ClickAsync();
        await error.WaitForAsync();
        await page.AssertAccessibleAsync("failed run, dark 1440");
        await page.ScreenshotAsync("92-jobs-failed-dark-1440");

        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await page.SetViewportSizeAsync(390, 844);
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await rollup.Locator("[data-testid=job-error-toggle]").ClickAsync();
        await error.WaitForAsync();
        await page.AssertAccessibleAsync("failed run, light 390");
        await page.ScreenshotAsync("93-jobs-failed-light-390");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways at 390 px");
        Assert.Empty(errors);

        var (_, viewerEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);
        await using var viewerContext = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 390, Height = 844 } });
        var viewer = await viewerContext.NewPageAsync();
        await viewer.SignInAsync(viewerEmail);
        Assert.Equal(0, await viewer.Locator("a[href='/settings/jobs']").CountAsync());
        await viewer.GotoAsync("/settings/jobs");
        await viewer.WaitUntilInteractiveAsync();
        await viewer.Locator("[data-testid=jobs-forbidden]").WaitForAsync();
        Assert.Equal(0, await viewer.Locator("[data-testid=jobs-table]").CountAsync());
        await viewer.AssertAccessibleAsync("forbidden, light 390");
        await viewer.ScreenshotAsync("94-jobs-forbidden-light-390");
    }
}
