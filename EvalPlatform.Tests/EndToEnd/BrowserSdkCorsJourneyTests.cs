using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Our JS SDK in Chromium on someone else's page (<see cref="SdkPageSite"/>, another origin than the app's) sends a trace with
/// an <c>ingest</c> key: the browser's preflight and request pass only when the key's team allows the page's origin (ADR 14).
/// </summary>
public sealed class BrowserSdkCorsJourneyTests(KestrelAppFactory app, BrowserFixture browser, SdkPageSite site)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>, IClassFixture<SdkPageSite>
{
    /// <summary>
    /// Runs in the page: one trace through the SDK as an application would send it, flushed; what the client saw.
    /// No retries, so a refusal is final at once; warnings are collected instead of printed.
    /// </summary>
    private const string SendTrace = """
        async ({ endpoint, apiKey, question }) => {
          const warnings = [];
          const client = new window.EvalSdk.Client({
            endpoint, apiKey, maxRetries: 0, registerExitHandlers: false,
            logger: { warn: (m) => warnings.push(String(m)) },
          });
          const t = client.startTrace('browser-chat', { user_input: question, model: 'gpt-4o-mini', provider: 'openai', tags: ['browser'] });
          t.end({ response: 'Order A-1042 shipped yesterday.' });
          const flushed = await client.flush(10000);
          await client.shutdown(1000);
          return { flushed, stats: client.stats, id: t.id ?? null, status: t.outcome?.status ?? null, warnings };
        }
        """;

    [Fact]
    public async Task JsSdkInChromium_OnAnOriginTheTeamAddedInSettings_SendsATrace_ThatIsStoredAndAppearsLive()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var ingest = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest, "browser key");

        // The owner adds the shop's origin under Settings → Ingestion, as a user would.
        await using var owner = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await owner.NewPageAsync();
        var consoleErrors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);
        await page.GetByRole(AriaRole.Link, new() { Name = "Ingestion", Exact = true }).ClickAsync();
        await page.WaitForURLAsync("**/settings/ingestion");
        await page.WaitUntilInteractiveAsync();
        var section = page.Locator("[data-testid=ingestion-origins]");
        await section.Locator("[data-testid=origins-empty]").WaitForAsync();
        await section.Locator("input[data-testid=origin-input], [data-testid=origin-input] input").FillAsync(site.FirstOrigin + "/");
        await section.Locator("[data-testid=origin-add]").ClickAsync();
        await section.Locator("[data-testid=origin-value]", new() { HasText = site.FirstOrigin }).WaitForAsync();
        Assert.Equal([site.FirstOrigin], (await section.Locator("[data-testid=origin-value]").AllTextContentsAsync()).ToArray());
        await page.Locator(".mud-snackbar").WaitForAsync();
        await page.AssertAccessibleAsync("origins, light 1440");
        await page.ScreenshotAsync("80-ingestion-origins-light-1440");

        // A phone opens the page afresh (the drawer's layout is chosen on load).
        await page.SetViewportSizeAsync(390, 844);
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await section.Locator("[data-testid=origin-value]", new() { HasText = site.FirstOrigin }).WaitForAsync();
        await page.AssertAccessibleAsync("origins, light 390");
        await page.ScreenshotAsync("81-ingestion-origins-light-390");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "The page scrolls sideways at 390 px.");
        await page.SetViewportSizeAsync(1440, 900);

        // The traces list open, to see the trace arrive.
        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();

        await using var shop = await browser.Browser.NewContextAsync();
        var shopPage = await shop.NewPageAsync();
        await shopPage.GotoAsync(site.FirstOrigin + "/");
        await shopPage.Locator("body[data-sdk=ready]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        var question = $"Where is my order? ({TestData.Unique("q")})";

        var sent = await shopPage.EvaluateAsync<JsonElement>(SendTrace, new { endpoint = app.ServerAddress.ToString(), apiKey = ingest.Key, question });

        Assert.True(sent.GetProperty("flushed").GetBoolean(), sent.ToString());
        Assert.Equal(1, sent.GetProperty("stats").GetProperty("sent").GetInt32());
        Assert.Equal(0, sent.GetProperty("stats").GetProperty("failed").GetInt32());
        Assert.Equal("created", sent.GetProperty("status").GetString());
        Assert.Empty(sent.GetProperty("warnings").EnumerateArray());
        var id = Guid.Parse(sent.GetProperty("id").GetString()!);

        await page.Locator("[data-testid=traces-table]").GetByText(question).WaitForAsync(new() { Timeout = 10_000 });
        await page.ScreenshotAsync("82-browser-sdk-trace-live-light-1440");

        using var reader = await ReaderAsync(team.Id);
        var trace = await reader.GetFromJsonAsync<JsonElement>($"/api/v1/traces/{id}");
        Assert.Equal("browser-chat", trace.GetProperty("name").GetString());
        Assert.Equal("gpt-4o-mini", trace.GetProperty("model").GetString());
        Assert.Equal(["browser"], trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString() ?? "").ToArray());
        Assert.Contains(question, trace.GetProperty("spans").ToString(), StringComparison.Ordinal);
        Assert.Contains("Order A-1042 shipped yesterday.", trace.GetProperty("spans").ToString(), StringComparison.Ordinal);
        Assert.Empty(consoleErrors);
    }

    [Fact]
    public async Task JsSdkInChromium_OnAnOriginTheKeysTeamDoesNotAllow_IsBlockedByCors_AndNothingIsStored()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var ingest = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest, "browser key");
        await using var shop = await browser.Browser.NewContextAsync();
        var shopPage = await shop.NewPageAsync();
        await shopPage.GotoAsync(site.SecondOrigin + "/");
        await shopPage.Locator("body[data-sdk=ready]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        // No team allows the origin: the preflight gets no CORS headers, so the browser never sends the trace.
        var (refused, message) = await SendRefusedAsync(shopPage, ingest.Key);
        Assert.Contains("Response to preflight request doesn't pass access control check", message, StringComparison.Ordinal);
        AssertFailedInTheBrowser(refused);

        // Another team allows it (through the API): the preflight passes, but the request carries this team's key and is
        // answered 403 without CORS headers; the browser hides the answer, the app stores nothing and logs why.
        var other = await TestData.CreateTeamAsync(app.Services);
        var otherIngest = await TestData.CreateKeyAsync(app.Services, other.Id, ApiKeyScopes.Ingest, "other team's browser key");
        using (var admin = await ClientAsync(other.Id, ApiKeyScopes.Admin))
        {
            using var put = await admin.PutAsync("/api/v1/ingestion/origins", new StringContent(JsonSerializer.Serialize(new { origins = new[] { site.SecondOrigin } }), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        (refused, message) = await SendRefusedAsync(shopPage, ingest.Key);
        Assert.Contains("No 'Access-Control-Allow-Origin' header is present", message, StringComparison.Ordinal);
        Assert.DoesNotContain("preflight", message, StringComparison.Ordinal);
        AssertFailedInTheBrowser(refused);

        using var reader = await ReaderAsync(team.Id);
        Assert.Empty((await reader.GetFromJsonAsync<JsonElement>("/api/v1/traces")).GetProperty("items").EnumerateArray());
        var issue = Assert.Single((await reader.GetFromJsonAsync<JsonElement>("/api/v1/ingestion/issues")).GetProperty("items").EnumerateArray());
        Assert.Equal("batch", issue.GetProperty("door").GetString());
        Assert.Equal("Origin", issue.GetProperty("field").GetString());
        Assert.Contains(site.SecondOrigin, issue.ToString(), StringComparison.Ordinal);

        // The same page with the other team's key: allowed, stored in that team.
        var sent = await shopPage.EvaluateAsync<JsonElement>(SendTrace, new { endpoint = app.ServerAddress.ToString(), apiKey = otherIngest.Key, question = "From the other team's key" });
        Assert.Equal(1, sent.GetProperty("stats").GetProperty("sent").GetInt32());
        Assert.Equal("created", sent.GetProperty("status").GetString());
        using var otherReader = await ReaderAsync(other.Id);
        Assert.Single((await otherReader.GetFromJsonAsync<JsonElement>("/api/v1/traces")).GetProperty("items").EnumerateArray());
        Assert.Empty((await reader.GetFromJsonAsync<JsonElement>("/api/v1/traces")).GetProperty("items").EnumerateArray());
    }

    /// <summary>Sends from the page and waits for Chromium's own report that CORS blocked the fetch; both results.</summary>
    private async Task<(JsonElement Result, string CorsMessage)> SendRefusedAsync(IPage page, string key)
    {
        JsonElement result = default;
        var console = await page.RunAndWaitForConsoleMessageAsync(
            async () => result = await page.EvaluateAsync<JsonElement>(SendTrace, new { endpoint = app.ServerAddress.ToString(), apiKey = key, question = "Blocked?" }),
            new() { Predicate = m => m.Text.Contains("blocked by CORS policy", StringComparison.Ordinal), Timeout = 10_000 });
        Assert.Contains($"from origin '{SiteOriginOf(page)}'", console.Text, StringComparison.Ordinal);
        return (result, console.Text);
    }

    private static string SiteOriginOf(IPage page) => new Uri(page.Url).GetLeftPart(UriPartial.Authority);

    /// <summary>To the page's code a CORS refusal is a network error: the SDK gives the trace up (no retries here) and warns.</summary>
    private static void AssertFailedInTheBrowser(JsonElement result)
    {
        Assert.True(result.GetProperty("flushed").GetBoolean(), result.ToString());
        Assert.Equal(0, result.GetProperty("stats").GetProperty("sent").GetInt32());
        Assert.Equal(1, result.GetProperty("stats").GetProperty("failed").GetInt32());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("id").ValueKind);
        Assert.Contains(result.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("Failed to fetch", StringComparison.Ordinal));
    }

    private Task<HttpClient> ReaderAsync(Guid teamId) => ClientAsync(teamId, ApiKeyScopes.Read);

    private async Task<HttpClient> ClientAsync(Guid teamId, ApiKeyScopes scopes)
    {
        var key = await TestData.CreateKeyAsync(app.Services, teamId, scopes);
        var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        return http;
    }
}
