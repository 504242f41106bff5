using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Issue 13's trace list in a browser: at 1440 px the table fits its container with status in view; search applies as you
/// type; the "N new traces" chip floats in the viewport of a reader who scrolled and brings them up; at 390 px rows are
/// compact cards and the first one is on the first screen, filters open in a sheet, and the trace view's tabs fit.
/// </summary>
public sealed class TraceListJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task TheListFits_FiltersAsYouType_FloatsNewTraces_AndReadsOnAPhone()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        Guid last = default;
        for (var i = 0; i < 60; i++)
        {
            last = await SendAsync(http, new
            {
                name = $"support-agent-conversation-with-a-rather-long-name-{i:00}",
                user_input = i % 3 == 0 ? $"**Refund** request {i}: the customer writes a long message about an order that never arrived and wants money back"
                                        : $"Shipping question {i}: where is my parcel, it has been two weeks and the tracking page says nothing",
                response = "## Answer\n\n- We are sorry\n- The parcel is on its way and arrives within five working days",
                model = i % 2 == 0 ? "gpt-4o" : "claude-3-5-sonnet-20241022", cost = 0.0123 + i, latency_ms = 1234 + i,
                tags = new[] { "support", "billing-and-refunds", "priority-customer" }, environment = "production",
            });
        }

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);
        await page.Locator("tr.trace-row").First.WaitForAsync();

        // 1440 px: the table is no wider than its container, and the status column is on screen.
        var fit = await page.EvaluateAsync<double[]>(
            "() => { const t = document.querySelector('[data-testid=traces-table]'); const c = t.closest('.trace-table-scroll'); " +
            "const s = document.querySelector('th[data-column=status]').getBoundingClientRect(); " +
            "return [t.getBoundingClientRect().width, c.clientWidth, s.right, window.innerWidth]; }");
        Assert.True(fit[0] <= fit[1] + 1, $"the table is {fit[0]} px wide in a {fit[1]} px container");
        Assert.True(fit[2] <= fit[3], $"the status column ends at {fit[2]} px, off a {fit[3]} px screen");
        Assert.Equal(0, await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth"));
        await page.AssertAccessibleAsync("trace list, light 1440");
        await page.ScreenshotAsync("280-trace-list-light-1440");

        // Search as you type: no Enter, no blur.
        await page.Locator("input[data-testid=filter-search]").PressSequentiallyAsync("refund");
        await page.WaitForURLAsync("**/traces?search=refund");
        await Assertions.Expect(page.Locator("[data-testid=filter-chip][data-filter=search]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("tr.trace-row").Filter(new() { HasNotText = "Refund" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("tr.trace-row").First).ToContainTextAsync("Refund");
        await page.ScreenshotAsync("281-trace-list-searched-chips-light-1440");

        // A reader who scrolled: the new trace waits behind a chip that floats in their viewport.
        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("tr.trace-row").First.WaitForAsync();
        await page.EvaluateAsync("() => window.scrollTo(0, 1500)");
        await page.WaitForFunctionAsync("() => window.scrollY >= 1000");
        var fresh = await SendAsync(http, new { name = "the-newest-trace", user_input = "A brand new question", model = "gpt-4o" });
        var chip = page.Locator("[data-testid=new-traces]");
        await chip.WaitForAsync();
        var box = await chip.BoundingBoxAsync();
        Assert.NotNull(box);
        Assert.True(box.Y >= 0 && box.Y + box.Height <= 900, $"the chip is at y={box.Y}, outside the 900 px viewport");
        await page.ScreenshotAsync("282-new-traces-chip-scrolled-light-1440");
        await chip.ClickAsync();
        await page.WaitForFunctionAsync("() => window.scrollY < 80");
        await Assertions.Expect(page.Locator($"tr[data-trace-id='{fresh}']")).ToBeInViewportAsync();

        // 390 px: compact cards, the first row on the first screen, filters in a sheet.
        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();
        var first = await page.Locator("tr.trace-row").First.BoundingBoxAsync();
        Assert.NotNull(first);
        Assert.True(first.Y < 844, $"the first row starts at {first.Y} px, below the first screen");
        Assert.True(first.Height < 120, $"a row is {first.Height} px tall on a phone");
        Assert.DoesNotContain("**", await page.Locator("tr.trace-row").First.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth"));
        await page.AssertAccessibleAsync("trace list, light 390");
        await page.ScreenshotAsync("283-trace-list-cards-light-390");
        await page.Locator("[data-testid=open-filter-sheet]").ClickAsync(new() { Timeout = 10_000 });
        await page.Locator("[data-testid=filter-sheet]").WaitForAsync(new() { Timeout = 10_000 });

        // The sheet covers the screen: the visible screen is the picture, its opening animation stopped (a full-page
        // capture of the open sheet timed out).
        await page.ScreenshotAsync(new()
        {
            Path = Path.Combine(BrowserFixture.ScreenshotFolder, "284-trace-list-filter-sheet-light-390.png"),
            Animations = ScreenshotAnimations.Disabled,
            Timeout = 15_000,
        });
        await page.Locator("[data-testid=close-filter-sheet]").ClickAsync(new() { Timeout = 10_000 });

        // The trace view's tabs fit a phone: no label clipped ("FUNCTIC").
        await page.GotoAsync($"/traces/{last}");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=chat]").WaitForAsync();
        var clipped = await page.EvaluateAsync<string[]>(
            "() => [...document.querySelectorAll('.mud-tab')].filter(t => { const r = t.getBoundingClientRect(); " +
            "return r.right > window.innerWidth || r.left < 0 || t.scrollWidth > t.clientWidth + 1; }).map(t => { const r = t.getBoundingClientRect(); " +
            "return `${t.textContent} (left ${Math.round(r.left)}, right ${Math.round(r.right)} of ${window.innerWidth}; text ${t.scrollWidth} in ${t.clientWidth})`; })");
        Assert.True(clipped.Length == 0, "tabs off screen or clipped on a phone: " + string.Join(", ", clipped));
        await page.ScreenshotAsync("285-trace-view-tabs-light-390");
    }

    private static async Task<Guid> SendAsync(HttpClient http, object trace)
    {
        var response = await http.PostAsync("/api/v1/traces", new StringContent(System.Text.Json.JsonSerializer.Serialize(trace), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetGuid();
    }
}
