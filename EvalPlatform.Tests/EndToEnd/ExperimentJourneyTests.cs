using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>The app on a real port with its scheduled jobs off (nothing else analyses while the journey reads).</summary>
public sealed class ExperimentKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Jobs:Enabled", "false");
    }
}

/// <summary>
/// An Owner creates an experiment in the UI and starts it; units are assigned through the API, traces arrive carrying
/// their variants, some are reviewed; the experiment's page shows each variant's acceptance with its interval, the lift,
/// the SRM check and the method; it is stopped with a decision. Light and dark, 1440 and 390 px, axe clean.
/// </summary>
public sealed class ExperimentJourneyTests(ExperimentKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<ExperimentKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task AnExperimentIsCreated_UnitsAssigned_TracesReviewed_AndItsResultRead()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Admin);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);

        await using var context = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var consoleErrors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail, team.OwnerPassword);

        await page.GetByRole(AriaRole.Link, new() { Name = "Experiments" }).ClickAsync();
        await page.WaitForURLAsync("**/experiments");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=experiments-empty]").WaitForAsync();
        await page.AssertAccessibleAsync("experiments empty light 1440");
        await page.ScreenshotAsync("190-experiments-empty-light-1440");

        await page.ClickAsync("[data-testid=new-experiment]");
        await page.WaitForURLAsync("**/experiments/new");
        await page.WaitUntilInteractiveAsync();
        await page.FillAsync("input[data-testid=experiment-name]", "Shorter prompt");
        await page.FillAsync("input[data-testid=experiment-key]", "short-prompt");
        await page.FillAsync("textarea[data-testid=experiment-hypothesis] >> nth=0", "A shorter system prompt is accepted more often.");
        // A large planned effect (50 %): the sequential test's mixture is tuned to it, so a few hundred reviews can decide.
        await page.FillAsync("input[data-testid=experiment-mde]", "0.5");
        await page.Locator("textarea[data-testid=variant-config]").Nth(1).FillAsync("""{"model": "gpt-4o-mini", "system_prompt": "Be brief."}""");
        await Assertions.Expect(page.Locator("[data-testid=weights-message]")).ToHaveTextAsync("The weights add up to 1.");
        await page.AssertAccessibleAsync("experiment form light 1440");
        await page.ScreenshotAsync("191-experiment-form-light-1440");
        await page.ClickAsync("[data-testid=save-experiment]");
        await page.WaitForURLAsync("**/experiments/short-prompt");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=results-empty]").WaitForAsync();
        await page.ClickAsync("[data-testid=start-experiment]");
        await Assertions.Expect(page.Locator("[data-testid=experiment-status]")).ToHaveTextAsync("running");

        // 300 users assigned through the API; each sends a trace with its variant; some of each variant are reviewed.
        var users = Enumerable.Range(0, 300).Select(i => $"user-{i}").ToArray();
        using var assigned = await http.PostAsJsonAsync("/api/v1/experiments/short-prompt/assign", new { unit_ids = users });
        Assert.True(assigned.IsSuccessStatusCode, await assigned.Content.ReadAsStringAsync());
        var variants = (await assigned.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("assignments").EnumerateArray()
            .Select(a => (User: a.GetProperty("unit_id").GetString()!, Variant: a.GetProperty("variant").GetString()!)).ToList();
        Assert.Equal(2, variants.Select(v => v.Variant).Distinct().Count());
        var items = variants.Select(v => $$"""{"user_input":"Where is my order?","response":"On its way.","model":"gpt-4o","user_id":"{{v.User}}","experiment":"short-prompt","variant":"{{v.Variant}}"}""");
        using var sent = await http.PostAsync("/api/v1/traces/batch", new StringContent($"{{\"traces\":[{string.Join(",", items)}]}}", Encoding.UTF8, "application/json"));
        Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
        var ids = (await sent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()).ToList();
        // The same number of reviews in each variant, a multiple of 30 so the rates are exact: control 1 in 3, treatment 9 in 10.
        var byVariant = variants.Select((v, i) => (v.Variant, Id: ids[i])).GroupBy(x => x.Variant).ToList();
        var reviewedPerVariant = byVariant.Min(g => g.Count()) / 30 * 30;
        Assert.True(reviewedPerVariant >= 120, $"{reviewedPerVariant} reviews per variant");
        foreach (var group in byVariant)
        {
            var n = 0;
            foreach (var (variant, id) in group.Take(reviewedPerVariant))
            {
                var accept = variant == "control" ? n % 3 == 0 : n % 10 != 0;
                n++;
                using var reviewed = await http.PostAsJsonAsync($"/api/v1/traces/{id}/review", accept ? (object)new { action = "accept" } : new { action = "reject", reason = "hallucination" });
                Assert.True(reviewed.IsSuccessStatusCode, await reviewed.Content.ReadAsStringAsync());
            }
        }

        await page.ReloadAsync();
        await page.WaitUntilInteractiveAsync();
        var rows = page.Locator("[data-testid=results-primary] [data-testid=result-row]");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await Assertions.Expect(rows.Nth(0).Locator("[data-testid=result-value]")).ToContainTextAsync("33.3 % [");
        await Assertions.Expect(rows.Nth(1).Locator("[data-testid=result-value]")).ToContainTextAsync("90.0 % [");
        await Assertions.Expect(rows.Nth(1).Locator("[data-testid=result-lift]")).ToContainTextAsync("+170.0 % [");
        await Assertions.Expect(rows.Nth(1).Locator("[data-testid=result-significant]")).ToHaveTextAsync("yes, better");
        await Assertions.Expect(page.Locator("[data-testid=srm-ok]")).ToContainTextAsync("Sample ratio check: p = ");
        await Assertions.Expect(page.Locator("[data-testid=results-primary] [data-testid=results-method]")).ToContainTextAsync("Method: ");
        await page.Locator("[data-testid=lift-chart]").WaitForAsync();
        await page.AssertAccessibleAsync("experiment results light 1440");
        await page.ScreenshotAsync("192-experiment-results-light-1440");

        await page.ToggleThemeAsync();
        await page.AssertAccessibleAsync("experiment results dark 1440");
        await page.ScreenshotAsync("193-experiment-results-dark-1440");
        await page.SetViewportSizeAsync(390, 844);
        await page.AssertAccessibleAsync("experiment results dark 390");
        await page.ScreenshotAsync("194-experiment-results-dark-390");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "The experiment's page scrolls sideways at 390 px.");
        await page.ToggleThemeAsync();
        await page.SetViewportSizeAsync(1440, 900);

        await page.ClickAsync("[data-testid=stop-experiment]");
        await page.Locator("[data-testid=confirm-stop]").WaitForAsync();
        await page.GetByText("Ship a variant").ClickAsync();
        await page.Locator(".mud-select:has([data-testid=stop-variant])").First.ClickAsync();
        await page.GetByRole(AriaRole.Option, new() { Name = "Treatment (treatment)" }).ClickAsync();
        await page.FillAsync("textarea[data-testid=stop-note]", "Shipped: accepted far more often.");
        await page.ScreenshotAsync("195-experiment-stop-dialog-light-1440");
        await page.ClickAsync("[data-testid=confirm-stop]");
        await Assertions.Expect(page.Locator("[data-testid=experiment-status]")).ToHaveTextAsync("stopped");
        await Assertions.Expect(page.Locator("[data-testid=experiment-decision]")).ToContainTextAsync("Shipped treatment: Shipped: accepted far more often.");
        await Assertions.Expect(page.Locator("[data-testid=history-entry]").First).ToContainTextAsync("stopped by");
        await page.ScreenshotAsync("196-experiment-stopped-light-1440");

        await page.GotoAsync("/experiments");
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=experiments-table] [data-testid=experiment-status]")).ToHaveTextAsync("stopped");
        await page.SetViewportSizeAsync(390, 844);
        await page.AssertAccessibleAsync("experiments list light 390");
        await page.ScreenshotAsync("197-experiments-list-light-390");
        await page.GotoAsync("/experiments/new");
        await page.WaitUntilInteractiveAsync();
        await page.AssertAccessibleAsync("experiment form light 390");
        await page.ScreenshotAsync("198-experiment-form-light-390");
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "The experiment form scrolls sideways at 390 px.");
        Assert.Empty(consoleErrors);
    }
}
