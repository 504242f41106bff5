using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Notifications;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>The app on a real port with its jobs on, Slack pointing at the local fake, private targets allowed for it.</summary>
public sealed class NotificationsKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    public FakeReceiver Receiver { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        Receiver = await FakeReceiver.StartAsync();
        await base.InitializeAsync();
        Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() => Receiver.DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
        builder.UseSetting("Slack:ApiBaseUrl", Receiver.SlackApiBase);
        builder.UseSetting("App:PublicBaseUrl", "https://eval.example.test");
    }
}

/// <summary>
/// An Owner adds a Slack channel (the fake's incoming webhook) in Settings → Notifications, sends a test message, a trace is
/// rejected, and the rejection reaches the fake Slack and the Owner's bell live; the notifications page lists it and marks
/// it read; the channel's delivery log shows it delivered. Light and dark, 1440 and 390, axe clean.
/// </summary>
public sealed class NotificationsJourneyTests(NotificationsKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<NotificationsKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task OwnerAddsSlack_ARejectionArrivesInSlackAndInTheBell_AndIsReadOnTheNotificationsPage()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/settings/notifications");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=channels-empty]").WaitForAsync();
        await AxeAsync(page, "notifications settings, empty, light 1440");
        await page.ScreenshotAsync("60-notifications-settings-empty-light-1440");

        await page.ClickAsync("[data-testid=add-channel]");
        var dialog = page.Locator("[data-testid=channel-dialog]");
        await dialog.WaitForAsync();
        await page.Locator("input[data-testid=channel-name], [data-testid=channel-name] input").FillAsync("#quality on Slack");
        await page.Locator("input[data-testid=channel-url], [data-testid=channel-url] input").FillAsync(app.Receiver.SlackWebhookUrl);
        await AxeAsync(page, "add channel dialog, light 1440");
        await page.ScreenshotAsync("61-notifications-add-channel-light-1440");
        await page.ClickAsync("[data-testid=channel-save]");
        await page.Locator("[data-testid=channel-row-name]", new() { HasText = "#quality on Slack" }).WaitForAsync();

        var webhookPath = new Uri(app.Receiver.SlackWebhookUrl).AbsolutePath;
        await page.ClickAsync("[data-testid=test-channel]");
        var test = await app.Receiver.WaitForAsync(webhookPath, 1);
        Assert.Contains("Test message from EvalPlatform", test[0].Body, StringComparison.Ordinal);

        // A reviewer's rejection, through the API: the outbox row commits with it and leaves at once (the nudge).
        using var reviewer = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        var traceId = await reviewer.PostTraceAsync(new { name = "refund status", user_input = "Where is my refund?", response = "It left yesterday.", model = "gpt-4o" });
        var review = await reviewer.PostJsonAsync($"/api/v1/traces/{traceId}/review", new { action = "reject", reason = "hallucination", detail = "Invents a date." });
        Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());

        var slack = await app.Receiver.WaitForAsync(webhookPath, 2);
        var message = JsonDocument.Parse(slack[1].Body).RootElement;
        Assert.Contains("Hallucination", message.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Contains($"https://eval.example.test/traces/{traceId}", slack[1].Body, StringComparison.Ordinal);

        // The bell counts it without a reload.
        await page.Locator("[data-testid=bell][data-unread='1']").WaitForAsync();
        await page.ClickAsync("[data-testid=show-deliveries]");
        await page.Locator("[data-testid=delivery-row][data-status=delivered]").WaitForAsync();
        await AxeAsync(page, "notifications settings with a channel and its log, light 1440");
        await page.ScreenshotAsync("62-notifications-settings-delivered-light-1440");

        await page.ClickAsync("[data-testid=bell]");
        await page.WaitForURLAsync("**/notifications");
        await page.WaitUntilInteractiveAsync();
        var item = page.Locator("[data-testid=notification][data-read=false]");
        await item.WaitForAsync();
        Assert.Contains("Trace rejected: Hallucination", await item.InnerTextAsync(), StringComparison.Ordinal);
        // The settings page's snackbars ("Channel added", "Test message sent") follow to this page and fade out there; axe
        // measured one mid-fade (its text at 3.85:1). Judge the page once they are gone.
        await Assertions.Expect(page.Locator(".mud-snackbar")).ToHaveCountAsync(0, new() { Timeout = 15_000 });
        await AxeAsync(page, "notifications page, light 1440");
        await page.ScreenshotAsync("63-notifications-page-unread-light-1440");

        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=notification][data-read=false]").WaitForAsync();
        await AxeAsync(page, "notifications page, dark 1440");
        await page.ScreenshotAsync("64-notifications-page-unread-dark-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=notification][data-read=false]").WaitForAsync();
        await AxeAsync(page, "notifications page, dark 390");
        await page.ScreenshotAsync("65-notifications-page-unread-dark-390");

        await page.ClickAsync("[data-testid=mark-all-read]");
        await page.Locator("[data-testid=notification][data-read=true]").WaitForAsync();
        await page.Locator("[data-testid=bell][data-unread='0']").WaitForAsync();

        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await page.GotoAsync("/settings/notifications");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=channel-row-name]").WaitForAsync();
        await AxeAsync(page, "notifications settings, light 390");
        await page.ScreenshotAsync("66-notifications-settings-light-390");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.SetViewportSizeAsync(1440, 900);
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=channel-row-name]").WaitForAsync();
        await AxeAsync(page, "notifications settings, dark 1440");
        await page.ScreenshotAsync("67-notifications-settings-dark-1440");

        Assert.Empty(errors);
    }

    /// <summary>
    /// axe as <see cref="PageExtensions.AssertAccessibleAsync"/> runs it, once no finite animation is still playing: the
    /// dialog's and the snackbar's animations keep <c>fill: forwards</c>, so they never leave <c>getAnimations()</c>.
    /// </summary>
    private static async Task AxeAsync(IPage page, string where)
    {
        await page.WaitForFunctionAsync(
            "() => document.getAnimations().every(a => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)", null, new() { Timeout = 5_000 });
        var results = await page.RunAxe();
        var blocking = results.Violations.Where(v => v.Impact is "critical" or "serious")
            .Select(v => $"{v.Impact} {v.Id} ({v.Help}): {string.Join(" | ", v.Nodes.Select(n => $"{n.Target} {n.Html} {string.Join(" ", n.Any.Select(c => c.Message))}"))}")
            .ToList();
        Assert.True(blocking.Count == 0, $"axe, {where}:\n{string.Join("\n", blocking)}");
    }
}
