using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Issue 12: the Content-Security-Policy is one Blazor Server and MudBlazor work under. An Owner signs in and opens the
/// main pages in a real browser; the browser reports no policy violation, and each page's circuit comes up.
/// </summary>
public sealed class SecurityHeadersJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    private static readonly string[] Pages =
    [
        "/traces", "/review", "/analytics", "/experiments", "/settings/api-keys", "/settings/webhooks", "/settings/notifications",
        "/settings/ingestion", "/settings/alerts", "/settings/review", "/settings/queues", "/settings/jobs",
    ];

    [Fact]
    public async Task TheMainPages_RunUnderTheContentSecurityPolicy_WithoutAViolation()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        // Init scripts run outside the page's policy: they only listen for the browser's reports.
        await context.AddInitScriptAsync("""
            window.__cspViolations = [];
            document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
            """);
        var page = await context.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, message) =>
        {
            lock (console)
            {
                console.Add(message.Text);
            }
        };

        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);
        foreach (var path in Pages)
        {
            await page.GotoAsync(path);
            await page.WaitUntilInteractiveAsync();
            var violations = await page.EvaluateAsync<string[]>("() => window.__cspViolations");
            Assert.True(violations.Length == 0, $"{path}: {string.Join(" | ", violations)}");
        }

        await page.ScreenshotAsync("60-csp-jobs");
        lock (console)
        {
            Assert.DoesNotContain(console, m => m.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
        }
    }
}
