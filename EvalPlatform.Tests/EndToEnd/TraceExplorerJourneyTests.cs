using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>A reviewer with the trace list open: traces arrive live, open one, move through tabs and neighbours.</summary>
public sealed class TraceExplorerJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task TraceSentThroughTheApi_AppearsInTheOpenList_ThenPreviousNextKeepTheTab()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        await SendAsync(http, "First question about invoices", "The first answer.");

        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var consoleErrors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);
        await page.Locator("[data-testid=traces-table]").GetByText("First question about invoices").WaitForAsync();

        // Live: no reload; the wait is bounded, the latency itself is measured in bench/.
        await SendAsync(http, "Second question, with a <script>window.pwned=1</script> payload", "Answer with `code` and <img src=x onerror=\"window.pwned=1\">.");
        try
        {
            await page.Locator("[data-testid=traces-table]").GetByText("Second question").WaitForAsync(new() { Timeout = 5000 });
        }
        catch (TimeoutException)
        {
            await page.ScreenshotAsync("failed-live-insertion");
            Assert.Fail("The new trace did not appear. Console errors: " + string.Join(" | ", consoleErrors));
        }
        await page.ScreenshotAsync("20-list-live-light-1440");

        // Open the newest, look at each tab; nothing from the trace ran.
        await page.Locator("[data-testid=traces-table]").GetByText("Second question").ClickAsync();
        try
        {
            await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/traces/[0-9a-f-]{36}"));
        }
        catch (TimeoutException)
        {
            await page.ScreenshotAsync("failed-open-trace");
            Assert.Fail("Opening the trace failed. Console errors: " + string.Join(" | ", consoleErrors));
        }
        await page.WaitUntilInteractiveAsync();
        await page.Locator(".chat-response code").WaitForAsync();
        Assert.Null(await page.EvaluateAsync<object?>("() => window.pwned ?? null"));
        Assert.Equal(0, await page.Locator(".chat img, .chat script").CountAsync());
        await page.ScreenshotAsync("21-trace-chat-light-1440");
        await Assertions.Expect(page.Locator("[data-testid=previous-trace]")).ToBeDisabledAsync();

        await page.GetByRole(AriaRole.Tab, new() { Name = "Metadata" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("tab=metadata"));
        await page.ClickAsync("[data-testid=next-trace]");
        await page.Locator("[data-testid=metadata]").WaitForAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("tab=metadata"));
        await Assertions.Expect(page.Locator("[data-testid=next-trace]")).ToBeDisabledAsync();
        await Assertions.Expect(page.Locator("[data-testid=previous-trace]")).Not.ToBeDisabledAsync();

        // Dark mode and a phone, on both pages.
        await page.ToggleThemeAsync();
        await page.ScreenshotAsync("22-trace-metadata-dark-1440");
        await page.SetViewportSizeAsync(390, 844);
        await page.Locator("[data-testid=metadata]").WaitForAsync();
        await page.ScreenshotAsync("23-trace-metadata-dark-390");
        // A phone scrolls the tab bar; a deep link is how a phone reader switches reliably here.
        await page.GotoAsync(page.Url.Replace("tab=metadata", "tab=chat", StringComparison.Ordinal));
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=chat]").WaitForAsync();
        await page.ScreenshotAsync("24-trace-chat-dark-390");
        await page.GotoAsync("/traces?search=question");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=traces-table]").GetByText("First question about invoices").WaitForAsync();
        await page.ScreenshotAsync("25-list-filtered-light-390");
    }

    private static async Task SendAsync(HttpClient http, string input, string response)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { name = "billing-bot", user_input = input, response, model = "gpt-4o", latency_ms = 420 });
        var result = await http.PostAsync("/api/v1/traces", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, result.StatusCode);
    }
}
