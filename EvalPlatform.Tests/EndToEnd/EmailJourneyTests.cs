using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Email;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>The app on a real port with its jobs on and SMTP pointed at the local fake SMTP server.</summary>
public sealed class EmailKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    public FakeSmtpServer Smtp { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        Smtp = FakeSmtpServer.Start();
        await base.InitializeAsync();
        Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() => Smtp.DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("App:PublicBaseUrl", "https://eval.example.test");
        Smtp.ConfigureApp(builder, "EvalPlatform <eval@example.test>", login: false);
    }
}

/// <summary>
/// A reviewer turns on e-mail for rejected traces on /notifications (keyboard), sends themselves a test e-mail, a trace
/// is rejected and the e-mail reaches the fake SMTP server; their e-mail log shows it delivered. Light and dark, 1440
/// and 390, axe clean.
/// </summary>
public sealed class EmailJourneyTests(EmailKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<EmailKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task MemberChoosesEmail_SendsATest_AndARejectionArrivesByEmail()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (_, email) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(email);

        await page.GotoAsync("/notifications");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=emails-empty]").WaitForAsync();

        // Keyboard: focus the e-mail checkbox for rejected traces and tick it with Space, then save.
        var checkbox = page.Locator("input[data-testid='email-pref-trace.reviewed']");
        await checkbox.FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await page.Locator("input[data-testid='email-pref-trace.reviewed']:checked").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("[data-testid=save-preferences]");
        await page.Locator(".mud-snackbar", new() { HasText = "Saved" }).WaitForAsync();

        await page.ClickAsync("[data-testid=send-test-email]");
        await page.Locator("[data-testid=test-email-result]", new() { HasText = "Sent" }).WaitForAsync();
        Assert.Equal("Test e-mail from EvalPlatform", Assert.Single(app.Smtp.To(email)).Message.Subject);
        await page.Mouse.MoveAsync(1, 1);
        await page.AssertAccessibleAsync("notifications page with e-mail choices, light 1440");
        await page.ScreenshotAsync("70-notifications-email-light-1440");

        using var reviewer = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        var traceId = await reviewer.PostTraceAsync(new { name = "<b>refund</b> status", user_input = "Where is my refund?", response = "It left yesterday." });
        var review = await reviewer.PostJsonAsync($"/api/v1/traces/{traceId}/review", new { action = "reject", reason = "hallucination" });
        Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());

        // The nudge delivers at once; the log shows it after a reload.
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=email-row][data-status=delivered]").WaitForAsync(new() { Timeout = 15_000 });
        var mail = app.Smtp.To(email).Single(m => m.Message.Subject?.Contains("Trace rejected", StringComparison.Ordinal) == true);
        Assert.Contains("&lt;b&gt;refund&lt;/b&gt; status", mail.Message.HtmlBody, StringComparison.Ordinal);
        Assert.Contains($"https://eval.example.test/traces/{traceId}", mail.Message.HtmlBody, StringComparison.Ordinal);

        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("notifications page with the e-mail log, dark 1440");
        await page.ScreenshotAsync("71-notifications-email-log-dark-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.WaitForAnimationsAsync();
        await page.AssertAccessibleAsync("notifications page with the e-mail log, dark 390");
        await page.ScreenshotAsync("72-notifications-email-log-dark-390");
        // What sticks out, named, when the page is wider than the window.
        var wide = await page.EvaluateAsync<string>("""
            () => document.documentElement.scrollWidth <= window.innerWidth + 1 ? "" :
              [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(-5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(' | ')
            """);
        Assert.True(wide.Length == 0, $"The page scrolls sideways at 390 px: {wide}");
        Assert.Empty(errors);
    }
}
