using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Issue 16's journey, end to end with the real outbox: an Owner adds a Slack channel (the local fake's incoming webhook) in
/// Settings → Notifications, creates an alert rule for it in Settings → Alerts (error rate above 20 % over 5 min, at least 5
/// traces), failing traces arrive through the API, the <c>alerts</c> job runs by its own trigger (Run now, as Settings → Jobs
/// does), and the alert fires in the bell (live, no reload) and in Slack (Block Kit: title, value against threshold, link);
/// healthy traces follow and it resolves in both.
/// </summary>
public sealed class AlertNotificationJourneyTests(NotificationsKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<NotificationsKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task ARuleOnASlackChannel_FiresInTheBellAndInSlack_ThenResolvesInBoth()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var slackPath = new Uri(app.Receiver.SlackWebhookUrl).AbsolutePath;
        var slackBefore = app.Receiver.To(slackPath).Count;

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        var consoleErrors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);

        // The Slack channel, in Settings → Notifications.
        await page.GotoAsync("/settings/notifications");
        await page.WaitUntilInteractiveAsync();
        await page.ClickAsync("[data-testid=add-channel]");
        await page.Locator("[data-testid=channel-dialog]").WaitForAsync();
        await page.Locator("input[data-testid=channel-name], [data-testid=channel-name] input").FillAsync("#incidents on Slack");
        await page.Locator("input[data-testid=channel-url], [data-testid=channel-url] input").FillAsync(app.Receiver.SlackWebhookUrl);
        await page.ClickAsync("[data-testid=channel-save]");
        await page.Locator("[data-testid=channel-row-name]", new() { HasText = "#incidents on Slack" }).WaitForAsync();

        // The rule, in Settings → Alerts, sent to that channel, picked by its name.
        await page.GotoAsync("/settings/alerts/new");
        await page.WaitUntilInteractiveAsync();
        await page.FillAsync("input[data-testid=rule-name]", "Error spike");
        await page.FillAsync("input[data-testid=rule-window]", "5");
        await page.FillAsync("input[data-testid=rule-for]", "1");
        await page.FillAsync("input[data-testid=rule-min-samples]", "5");
        await page.FillAsync("input[data-testid=rule-cooldown]", "0");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "#incidents on Slack (Slack webhook)" }).CheckAsync();
        await page.AssertAccessibleAsync("rule form with a channel, light 1440");
        await page.ScreenshotAsync("170-alert-rule-form-channel-light-1440");
        await page.ClickAsync("[data-testid=save-rule]");
        await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex("/settings/alerts/[0-9a-f-]{36}$"));
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=rule-summary]")).ToContainTextAsync("Error rate above 20 % over 5 min, min 5 traces");
        var ruleUrl = page.Url;
        await Assertions.Expect(page.Locator("[data-testid=bell]")).ToHaveAttributeAsync("data-unread", "0");

        // 6 of 10 traces fail; the alerts job runs by its own trigger and the alert fires.
        await SendAsync(http, count: 10, errors: 6);
        await RunAlertsJobAsync();

        var fired = await app.Receiver.WaitForAsync(slackPath, slackBefore + 1);
        var firing = JsonDocument.Parse(fired[slackBefore].Body).RootElement;
        AssertBlockKit(firing, "Error spike", "60 %", "20 %");
        await page.Locator("[data-testid=bell][data-unread='1']").WaitForAsync();
        await page.ClickAsync("[data-testid=refresh-rule]");
        await Assertions.Expect(page.Locator("[data-testid=alert-states] [data-testid=alert-status]")).ToHaveAttributeAsync("data-status", "firing");
        await page.AssertAccessibleAsync("rule firing with its bell, light 1440");
        await page.ScreenshotAsync("171-alert-rule-firing-bell-light-1440");

        // 30 healthy traces: 6 errors in 40 is 15 %, and it resolves.
        await SendAsync(http, count: 30, errors: 0);
        await RunAlertsJobAsync();

        var resolved = await app.Receiver.WaitForAsync(slackPath, slackBefore + 2);
        var resolve = JsonDocument.Parse(resolved[slackBefore + 1].Body).RootElement;
        AssertBlockKit(resolve, "Resolved: Error spike", "15 %", "20 %");
        await page.Locator("[data-testid=bell][data-unread='2']").WaitForAsync();
        await page.ClickAsync("[data-testid=refresh-rule]");
        await Assertions.Expect(page.Locator("[data-testid=alert-states] [data-testid=alert-status]")).ToHaveAttributeAsync("data-status", "resolved");
        await page.ScreenshotAsync("172-alert-rule-resolved-bell-light-1440");

        // The bell's page lists both, newest first.
        await page.ClickAsync("[data-testid=bell]");
        await page.WaitForURLAsync("**/notifications");
        await page.WaitUntilInteractiveAsync();
        var items = page.Locator("[data-testid=notification][data-read=false]");
        await Assertions.Expect(items).ToHaveCountAsync(2);
        Assert.Contains("Resolved: Error spike", await items.First.InnerTextAsync(), StringComparison.Ordinal);
        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("notifications with the alert, dark 1440");
        await page.ScreenshotAsync("173-notifications-alert-dark-1440");
        await page.GotoAsync(ruleUrl);
        await page.WaitUntilInteractiveAsync();
        await page.SetViewportSizeAsync(390, 844);
        await page.AssertAccessibleAsync("rule resolved, 390");
        await page.ScreenshotAsync("174-alert-rule-resolved-390");
        Assert.Empty(consoleErrors);
    }

    /// <summary>Slack's Block Kit as <c>SlackMessages</c> writes it: a header with the title, the value against the threshold, a link back.</summary>
    private static void AssertBlockKit(JsonElement message, string title, string value, string threshold)
    {
        Assert.StartsWith(title, message.GetProperty("text").GetString(), StringComparison.Ordinal);
        var blocks = message.GetProperty("blocks").EnumerateArray().ToList();
        var header = blocks.Single(b => b.GetProperty("type").GetString() == "header");
        Assert.EndsWith(title, header.GetProperty("text").GetProperty("text").GetString(), StringComparison.Ordinal);
        var fields = blocks.Where(b => b.TryGetProperty("fields", out _)).SelectMany(b => b.GetProperty("fields").EnumerateArray())
            .Select(f => f.GetProperty("text").GetString()).ToList();
        Assert.Contains($"*Value*\n{value}", fields);
        Assert.Contains($"*Threshold*\n{threshold}", fields);
        var link = blocks.Single(b => b.GetProperty("type").GetString() == "context").GetProperty("elements")[0].GetProperty("text").GetString();
        Assert.StartsWith("<https://eval.example.test/traces?", link, StringComparison.Ordinal);
        Assert.Contains("|Open in EvalPlatform>", link, StringComparison.Ordinal);
    }

    private async Task RunAlertsJobAsync() => await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(AlertsJob.Key);

    private static async Task SendAsync(HttpClient http, int count, int errors)
    {
        var items = Enumerable.Range(0, count).Select(i => i < errors
            ? """{"user_input":"q","response":"a","model":"gpt-4o","error":"upstream timeout"}"""
            : """{"user_input":"q","response":"a","model":"gpt-4o"}""");
        using var response = await http.PostAsync("/api/v1/traces/batch", new StringContent($"{{\"traces\":[{string.Join(",", items)}]}}", Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
