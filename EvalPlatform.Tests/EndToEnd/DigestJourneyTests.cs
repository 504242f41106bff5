using System.Globalization;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// An Owner turns the daily digest on in Settings → Notifications with the keyboard (a time zone, a local time), is told
/// on the field when the zone is unknown, and previews yesterday's digest in the page. Light and dark, 1440 and 390, axe
/// clean.
/// </summary>
public sealed class DigestJourneyTests(NotificationsKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<NotificationsKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    private const string Zone = "input[data-testid=digest-zone], [data-testid=digest-zone] input";
    private const string Time = "input[data-testid=digest-time], [data-testid=digest-time] input";

    [Fact]
    public async Task OwnerTurnsTheDigestOn_IsToldAboutAnUnknownZone_AndPreviewsYesterday()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        var berlin = LocalDays.FindZone("Europe/Berlin");
        var yesterday = LocalDays.DateAt(TimeProvider.System.GetUtcNow(), berlin).AddDays(-1);
        var noon = LocalDays.Instant(yesterday, new TimeOnly(12, 0), berlin);
        for (var i = 0; i < 4; i++)
        {
            var id = await api.PostTraceAsync(new
            {
                user_input = "Where is my refund?", response = "It left yesterday.", model = "gpt-4o", error = i == 0 ? "timeout" : null,
                start_time = noon.AddMinutes(i).ToString("O", CultureInfo.InvariantCulture),
            });
            var review = await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = i < 2 ? "reject" : "accept", reason = i < 2 ? "hallucination" : null });
            Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());
        }

        // Yesterday's traces arrive today: the digest counts them from the metric rollups, so it waits for the rollup job
        // (every few seconds, later when the machine is busy) to have taken them in, not for a fixed time.
        var (from, to) = LocalDays.Bounds(yesterday, berlin);
        await Wait.UntilAsync(async () =>
        {
            await using var scope = app.Services.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            return (await scope.ServiceProvider.GetRequiredService<AnalyticsService>().SummaryAsync(new AnalyticsFilter(from, to))).Traces == 4;
        }, "yesterday's traces to be rolled up", TimeSpan.FromSeconds(90));

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail);
        await page.GotoAsync("/settings/notifications");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=digest-next]", new() { HasText = "The digest is off." }).WaitForAsync();

        // The keyboard alone: the switch, the zone, the time, Save.
        await page.Locator("input[data-testid=digest-enabled], [data-testid=digest-enabled] input").FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("digest-zone", await page.EvaluateAsync<string>("() => document.activeElement.closest('[data-testid]').getAttribute('data-testid')"));
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("Mars/Olympus_Mons");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("digest-time", await page.EvaluateAsync<string>("() => document.activeElement.closest('[data-testid]').getAttribute('data-testid')"));
        await page.ClickAsync("[data-testid=digest-save]");
        await page.GetByText("Unknown time zone 'Mars/Olympus_Mons'").WaitForAsync();
        Assert.Equal("true", await page.Locator(Zone).GetAttributeAsync("aria-invalid"));
        await page.AssertAccessibleAsync("digest settings with an unknown zone, light 1440");
        await page.ScreenshotAsync("70-digest-unknown-zone-light-1440");

        await page.Locator(Zone).FillAsync("Europe/Berlin");
        await page.Locator(Time).FillAsync("08:30");
        await page.Locator("[data-testid=digest-save]").PressAsync("Enter");
        try
        {
            await page.Locator("[data-testid=digest-next]", new() { HasText = "08:30 (Europe/Berlin)" }).WaitForAsync();
        }
        catch (TimeoutException e)
        {
            await page.ScreenshotAsync("70-digest-save-failed");
            throw new TimeoutException($"Not saved; the time input's value was '{await page.Locator(Time).InputValueAsync()}'.", e);
        }

        await page.ClickAsync("[data-testid=digest-preview]");
        var figures = page.Locator("[data-testid=digest-preview-figures]");
        await figures.WaitForAsync();
        Assert.Equal($"Daily digest for {DigestNotification.Day(yesterday)}", await page.Locator("[data-testid=digest-preview-title]").InnerTextAsync());
        var shown = await figures.InnerTextAsync();
        Assert.Contains("25 %", shown, StringComparison.Ordinal);
        Assert.Contains("50 %", shown, StringComparison.Ordinal);
        Assert.Contains("Hallucination: 2", await page.Locator("[data-testid=digest-preview-reasons]").InnerTextAsync(), StringComparison.Ordinal);
        await page.Locator("[data-testid=digest-preview-panel]").ScrollIntoViewIfNeededAsync();
        await page.AssertAccessibleAsync("digest preview, light 1440");
        await page.ScreenshotAsync("71-digest-preview-light-1440");

        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("digest preview, dark 1440");
        await page.ScreenshotAsync("72-digest-preview-dark-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.Locator("[data-testid=digest-preview-panel]").ScrollIntoViewIfNeededAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "The notifications settings scroll sideways at 390 px.");
        await page.AssertAccessibleAsync("digest preview, dark 390");
        await page.ScreenshotAsync("73-digest-preview-dark-390");
        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("digest preview, light 390");
        await page.ScreenshotAsync("74-digest-preview-light-390");

        Assert.Empty(errors);
    }
}
