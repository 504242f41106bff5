using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// The app on a real port with its minute job off (the test runs the evaluation itself, so "a minute later" is a call, not a
/// wait) and a recording outbox in place of the real one.
/// </summary>
public sealed class AlertKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    public NotificationRecorder Notifications { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Jobs:Enabled", "false");
        builder.ConfigureTestServices(s => RecordingOutbox.Register(s, Notifications));
    }
}

/// <summary>
/// An Admin creates an alert rule in Settings → Alerts, previews it, failing traces arrive, the rule fires for the user
/// whose traces fail and shows so on its page; it is acknowledged, then resolves once that user's traces are fine again.
/// Light and dark, 1440 and 390 px, axe clean.
/// </summary>
public sealed class AlertJourneyTests(AlertKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<AlertKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task ARuleIsCreated_FiresForTheFailingUser_IsAcknowledged_AndResolves()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);

        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var consoleErrors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);

        await page.GetByRole(AriaRole.Link, new() { Name = "Alerts" }).ClickAsync();
        await page.WaitForURLAsync("**/settings/alerts");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=rules-empty]").WaitForAsync();
        await page.AssertAccessibleAsync("alerts empty light 1440");
        await page.ScreenshotAsync("160-alerts-empty-light-1440");

        // The form: error rate above 20 % over 15 min, per user, sustained for 1, at least 5 traces.
        await page.ClickAsync("[data-testid=new-rule]");
        await page.WaitForURLAsync("**/settings/alerts/new");
        await page.WaitUntilInteractiveAsync();
        await page.FillAsync("input[data-testid=rule-name]", "Errors per user");
        await page.FillAsync("input[data-testid=rule-for]", "1");
        await page.FillAsync("input[data-testid=rule-min-samples]", "5");
        await page.FillAsync("input[data-testid=rule-cooldown]", "0");
        await page.Locator(".mud-select:has(input[data-testid=rule-group-by])").First.ClickAsync();
        await page.GetByRole(AriaRole.Option, new() { Name = "user", Exact = true }).ClickAsync();
        await page.ClickAsync("[data-testid=preview-rule]");
        await Assertions.Expect(page.Locator("[data-testid=preview-count]")).ToHaveTextAsync("It would not have fired.");
        await page.AssertAccessibleAsync("rule form light 1440");
        await page.ScreenshotAsync("161-alert-rule-form-preview-light-1440");
        await page.ClickAsync("[data-testid=save-rule]");
        await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex("/settings/alerts/[0-9a-f-]{36}$"));
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=rule-summary]")).ToContainTextAsync("Error rate above 20 % over 15 min, per user, min 5 traces");
        await page.Locator("[data-testid=no-alerts]").WaitForAsync();

        // User 123's traces fail, user 456's do not; the minute's evaluation fires for 123 only.
        await SendAsync(http, "123", count: 10, errors: 6);
        await SendAsync(http, "456", count: 10, errors: 0);
        await EvaluateAsync();
        await page.ClickAsync("[data-testid=refresh-rule]");
        var states = page.Locator("[data-testid=alert-states]");
        await Assertions.Expect(states).ToContainTextAsync("123");
        await Assertions.Expect(states.Locator("[data-testid=alert-status]")).ToHaveAttributeAsync("data-status", "firing");
        await Assertions.Expect(page.Locator("[data-testid=alert-history]")).ToContainTextAsync("Error rate for user 123 is 60 % (above 20 %) over the last 15 min, 10 traces.");
        var firing = Assert.Single(app.Notifications.Of(team.Id));
        Assert.Equal((NotificationEventTypes.AlertFiring, "Errors per user for user 123"), (firing.Type, firing.Title));
        await page.AssertAccessibleAsync("rule firing light 1440");
        await page.ScreenshotAsync("162-alert-rule-firing-light-1440");

        await page.ClickAsync("[data-testid=acknowledge]");
        await Assertions.Expect(page.Locator("[data-testid=acknowledged]")).ToContainTextAsync($"acknowledged by {team.OwnerEmail}");

        // Back in the list, the rule's badge says firing.
        await page.GotoAsync("/settings/alerts");
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=rules-table] [data-testid=alert-status]")).ToHaveAttributeAsync("data-status", "firing");
        await page.ScreenshotAsync("163-alerts-list-firing-light-1440");
        await page.GoBackAsync();
        await page.WaitUntilInteractiveAsync();

        // User 123's next traces are fine: 6 errors in 40 is 15 %, the alert resolves.
        await SendAsync(http, "123", count: 30, errors: 0);
        await EvaluateAsync();
        await page.ClickAsync("[data-testid=refresh-rule]");
        await Assertions.Expect(page.Locator("[data-testid=alert-states] [data-testid=alert-status]")).ToHaveAttributeAsync("data-status", "resolved");
        await Assertions.Expect(page.Locator("[data-testid=alert-history] [data-testid=history-event]").First).ToContainTextAsync("Error rate for user 123 is 15 %");
        Assert.Equal([NotificationEventTypes.AlertFiring, NotificationEventTypes.AlertResolved], app.Notifications.Of(team.Id).Select(n => n.Type));
        await Assertions.Expect(page.Locator("[data-testid=evaluations] [data-testid=evaluation-decision]").First).ToContainTextAsync("clear → Resolved");
        await page.ScreenshotAsync("164-alert-rule-resolved-light-1440");

        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("rule resolved dark 1440");
        await page.ScreenshotAsync("165-alert-rule-resolved-dark-1440");
        await page.SetViewportSizeAsync(390, 844);
        await page.AssertAccessibleAsync("rule resolved dark 390");
        await page.ScreenshotAsync("166-alert-rule-resolved-dark-390");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "The rule's page scrolls sideways at 390 px.");
        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("rule resolved light 390");
        await page.ScreenshotAsync("167-alert-rule-resolved-light-390");
        await page.GotoAsync("/settings/alerts/new");
        await page.WaitUntilInteractiveAsync();
        await page.AssertAccessibleAsync("rule form light 390");
        await page.ScreenshotAsync("168-alert-rule-form-light-390");
        Assert.Empty(consoleErrors);
    }

    private async Task EvaluateAsync()
    {
        var run = await app.Services.GetRequiredService<AlertRunner>().EvaluateAllAsync();
        Assert.Equal(0, run.Failed);
    }

    private static async Task SendAsync(HttpClient http, string user, int count, int errors)
    {
        var items = Enumerable.Range(0, count).Select(i => i < errors
            ? $$"""{"user_input":"q","response":"a","model":"gpt-4o","user_id":"{{user}}","error":"upstream timeout"}"""
            : $$"""{"user_input":"q","response":"a","model":"gpt-4o","user_id":"{{user}}"}""");
        using var response = await http.PostAsync("/api/v1/traces/batch", new StringContent($"{{\"traces\":[{string.Join(",", items)}]}}", Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
