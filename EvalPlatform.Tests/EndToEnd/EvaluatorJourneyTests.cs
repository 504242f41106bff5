using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// An Owner creates an LLM judge against the fake OpenAI, runs it on two traces, watches the batch run's progress to the
/// end, and finds the judge's score and reasoning in the trace's Metadata tab. The app's jobs run the batch (Quartz on PostgreSQL).
/// </summary>
public sealed class EvaluatorJourneyTests(ProviderKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<ProviderKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task OwnerCreatesAJudge_RunsItOnTraces_SeesProgressAndTheScores()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            db.AllowCrossTeamWrites();
            var now = TimeProvider.System.GetUtcNow();
            db.ProviderConnections.Add(new ProviderConnection
            {
                Id = Uuid7.Create(now), TeamId = team.Id, Kind = ProviderKind.OpenAi, Name = "Fake OpenAI", BaseUrl = app.OpenAi.BaseUrl,
                ProtectedApiKey = scope.ServiceProvider.GetRequiredService<IProviderKeyProtector>().Protect(team.Id, FakeOpenAiServer.Key), KeyHint = "0001", CreatedAt = now,
            });
            await db.SaveChangesAsync();
        }

        using var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        var first = await api.PostTraceAsync(new { user_input = "What is 2+2?", response = "4", model = "gpt-4o" });
        var second = await api.PostTraceAsync(new { user_input = "Capital of France?", response = "Paris", model = "gpt-4o" });
        app.OpenAi.DefaultReply = new FakeReply(Text: """{"reasoning": "The answer is correct and complete.", "verdict": "pass"}""");

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/evaluators");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=evaluators-empty]").WaitForAsync();
        await page.ClickAsync("[data-testid=evaluator-new]");
        await page.GetByLabel("Name (the score's name)").FillAsync("correctness");
        await page.GetByLabel("Model").FillAsync("gpt-4o-mini");
        await page.AssertAccessibleAsync("evaluator editor");
        await page.ScreenshotAsync("230-evaluator-editor-light-1440");
        await page.ClickAsync("[data-testid=evaluator-save]");

        await page.Locator("[data-testid=evaluator-title]").GetByText("correctness").WaitForAsync();
        await page.WaitUntilInteractiveAsync();
        await page.GetByLabel("Trace ids to judge (one per line or comma separated)").FillAsync($"{first}\n{second}");
        await page.ClickAsync("[data-testid=evaluator-run]");
        await page.Locator("[data-testid=batch-run-progress][data-status=completed]").WaitForAsync(new() { Timeout = 30_000 });
        await page.Locator("[data-testid=batch-run-counts]").GetByText("2 done · 0 failed · of 2").WaitForAsync();
        await page.AssertAccessibleAsync("evaluator page with a finished run");
        await page.ScreenshotAsync("231-evaluator-run-completed-light-1440");

        await page.GotoAsync($"/traces/{first}?tab=metadata");
        await page.WaitUntilInteractiveAsync();
        await page.GetByText("Judge's reasoning (correctness)").WaitForAsync();
        await page.GetByText("The answer is correct and complete.").WaitForAsync();
        await page.ScreenshotAsync("232-trace-judge-score-light-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync("/evaluators");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=evaluators-table]").GetByText("correctness").WaitForAsync();
        await page.ScreenshotAsync("233-evaluators-light-390");
    }
}
