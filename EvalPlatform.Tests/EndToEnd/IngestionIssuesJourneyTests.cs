using System.Net;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// A team debugging a missing run: the LangSmith SDK sent a batch with one run ending 5 s before its start
/// (refused) and one ending 0.5 ms before (adjusted); Settings → Ingestion explains both, and filters by kind.
/// </summary>
public sealed class IngestionIssuesJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task ARefusedAndAnAdjustedRun_AreExplainedUnderSettingsIngestion_AndFilterByKind()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Add("x-api-key", key.Key);
        var t0 = TimeProvider.System.GetUtcNow().AddMinutes(-1);
        var (rootId, badId, adjustedId, goodId) = (Id(t0, 0), Id(t0, 1), Id(t0, 2), Id(t0, 3));
        var root = LangSmithWire.Run(rootId, "support-agent", "chain", t0, null, new JsonObject { ["question"] = "Where is order A-1042?" });
        root["end_time"] = LangSmithWire.IsoTime(t0.AddSeconds(2));
        var rootRef = (rootId, root["dotted_order"]!.GetValue<string>(), rootId);
        var bad = LangSmithWire.Run(badId, "lookup_order", "tool", t0.AddMilliseconds(10), rootRef, new JsonObject { ["order_id"] = "A-1042" });
        bad["end_time"] = LangSmithWire.IsoTime(t0.AddMilliseconds(10).AddSeconds(-5));
        var adjusted = LangSmithWire.Run(adjustedId, "lookup_carrier", "tool", t0.AddMilliseconds(20.5), rootRef, new JsonObject { ["order_id"] = "A-1042" });
        adjusted["end_time"] = LangSmithWire.IsoTime(t0.AddMilliseconds(20));
        var good = LangSmithWire.Run(goodId, "ChatOpenAI", "llm", t0.AddMilliseconds(30), rootRef, new JsonObject { ["q"] = "hi" });
        good["end_time"] = LangSmithWire.IsoTime(t0.AddMilliseconds(900));
        using (var body = new LangSmithWire().AddRun("post", root).AddRun("post", bad).AddRun("post", adjusted).AddRun("post", good).ToContent())
        {
            var sent = await http.PostAsync("/api/langsmith/runs/multipart", body);
            Assert.True(sent.StatusCode == HttpStatusCode.Accepted, $"{(int)sent.StatusCode}: {await sent.Content.ReadAsStringAsync()}");
        }

        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);

        await page.GotoAsync("/settings/ingestion");
        await page.WaitUntilInteractiveAsync();
        var table = page.Locator("[data-testid=issues-table]");
        var rows = table.Locator("tbody tr");
        var refusedRow = rows.Filter(new() { HasText = badId });
        var adjustedRow = rows.Filter(new() { HasText = adjustedId });
        await refusedRow.WaitForAsync(new() { Timeout = 10_000 });
        await adjustedRow.WaitForAsync();
        Assert.Equal(2, await rows.CountAsync());
        Assert.Contains("5 s before start_time", await refusedRow.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("refused", await refusedRow.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("500 µs before start_time", await adjustedRow.InnerTextAsync(), StringComparison.Ordinal);
        // The trace was stored (without the refused run): its id links to it.
        Assert.Equal(2, await table.Locator("[data-testid=issue-trace-link]").CountAsync());
        // Each state is scanned with axe first: the scan waits for transitions to end, so the picture after it is settled.
        await page.AssertAccessibleAsync("light 1440");
        await page.ScreenshotAsync("70-ingestion-issues-light-1440");

        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await refusedRow.WaitForAsync();
        await DarkThemeSettledAsync(page);
        await page.AssertAccessibleAsync("dark 1440");
        await page.ScreenshotAsync("71-ingestion-issues-dark-1440");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        // The totals and rows load after the first paint (together) and move the filters down: pick a filter once they are in.
        await refusedRow.WaitForAsync();

        await page.Locator("[data-testid=filter-kind]").ClickAsync();
        // The list fades in: click an item once it is opaque, not half-way.
        await Assertions.Expect(page.Locator(".mud-popover-open")).ToHaveCSSAsync("opacity", "1");
        await page.Locator(".mud-popover-open .mud-list-item").Filter(new() { HasText = "Refused" }).ClickAsync();
        await page.WaitForURLAsync("**/settings/ingestion?kind=refused");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await refusedRow.WaitForAsync();
        Assert.Equal(0, await adjustedRow.CountAsync());
        await page.ScreenshotAsync("72-ingestion-issues-refused-light-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await refusedRow.WaitForAsync();
        await page.AssertAccessibleAsync("light 390");
        await page.ScreenshotAsync("73-ingestion-issues-refused-light-390");
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        await refusedRow.WaitForAsync();
        await DarkThemeSettledAsync(page);
        await page.AssertAccessibleAsync("dark 390");
        await page.ScreenshotAsync("74-ingestion-issues-refused-dark-390");
        // Nothing wider than the phone: the page does not scroll sideways.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways at 390 px");
        Assert.Empty(errors);
    }

    /// <summary>The filters' labels are legible on the dark background (light text) once the theme has settled after a reload.</summary>
    private static async Task DarkThemeSettledAsync(IPage page) =>
        await page.WaitForFunctionAsync(
            """
            () => [...document.querySelectorAll('[data-testid=ingestion-issues] .mud-input-label')].every(l => {
                const [r, g, b] = getComputedStyle(l).color.match(/\d+/g).map(Number);
                return (r + g + b) / 3 > 128;
            })
            """, null, new() { Timeout = 5_000 });

    private static string Id(DateTimeOffset t0, int offsetMs) => Uuid7.Create(t0.AddMilliseconds(offsetMs)).ToString();
}
