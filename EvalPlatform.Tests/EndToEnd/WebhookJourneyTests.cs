using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>An Owner creates the team's webhook secret, a "sender" posts a signed trace to the URL the page shows, and it is listed.</summary>
public sealed class WebhookJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task OwnerCreatesASecret_ASignedWebhookToTheShownUrl_IsListedWithItsSourceTag()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/settings/webhooks");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=secrets-empty]").WaitForAsync();
        await page.ClickAsync("[data-testid=create-secret]");
        var secret = (await page.Locator("[data-testid=webhook-secret]").InnerTextAsync()).Trim();
        var url = (await page.Locator("[data-testid=webhook-url]").InnerTextAsync()).Trim();
        await page.ScreenshotAsync("50-webhooks-secret-shown-light-1440");
        await page.ClickAsync("[data-testid=secret-done]");
        await page.Locator("[data-testid=secret-current]").WaitForAsync();
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);

        // The sending system: the URL as shown (with its own label), the body signed with the secret as shown.
        var body = """{"external_id":"journey-1","user_input":"Order #88 arrived broken","response":"Sorry! A replacement is on its way.","model":"gpt-4o-mini"}""";
        var t = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var target = new Uri(url.Replace("/my-system?", "/helpdesk?", StringComparison.Ordinal));
        // Signed: the timestamp, the path and query as sent, the body (ADR 35).
        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{target.PathAndQuery}.{body}")));
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, target)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-EvalPlatform-Signature", $"t={t.ToString(CultureInfo.InvariantCulture)},v1={signature}");
        var sent = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, sent.StatusCode);

        await page.ClickAsync("[data-testid=rotate-secret]");
        await page.Locator("[data-testid=secret-previous]").WaitForAsync();
        await page.ScreenshotAsync("51-webhooks-rotated-light-1440");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=secret-previous]").WaitForAsync();
        await page.ScreenshotAsync("53-webhooks-rotated-dark-1440");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });

        await page.GotoAsync("/traces?tag=webhook:helpdesk");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=traces-table]").GetByText("Order #88 arrived broken").WaitForAsync();
    }
}
