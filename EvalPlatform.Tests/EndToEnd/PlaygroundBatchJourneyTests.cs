using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// A member runs a playground prompt over a review queue against the fake OpenAI server (the real batch-run job), watches its
/// progress and reads the comparison table (original answer beside the new one), also at 390 px; then runs an evaluator on
/// the same queue from the evaluator's page.
/// </summary>
public sealed class PlaygroundBatchJourneyTests(PlaygroundKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<PlaygroundKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task APromptRunsOverAQueue_WithProgressAndAComparison_ThenAnEvaluatorRunsOnTheQueue()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        Guid evaluatorId;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            var providers = scope.ServiceProvider.GetRequiredService<ProviderService>();
            await providers.CreateAsync(new ProviderInput("openai", "OpenAI main", app.OpenAi.BaseUrl, FakeOpenAiServer.Key));
            await scope.ServiceProvider.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Support answers", new TraceFilter(Tag: "support")));
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var connection = await db.ProviderConnections.Select(c => c.Id).FirstAsync();
            var now = TimeProvider.System.GetUtcNow();
            evaluatorId = Uuid7.Create(now);
            db.Evaluators.Add(new Evaluator
            {
                Id = evaluatorId, TeamId = team.Id, Name = "politeness", ConnectionId = connection, Model = "gpt-4o-mini",
                Prompt = "Question: {{input}}\nAnswer: {{output}}\nIs the answer polite?", CreatedAt = now, UpdatedAt = now, Watermark = now,
            });
            await db.SaveChangesAsync();
        }

        using (var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest))
        {
            await api.PostTraceAsync(new { user_input = "Where is my order?", response = "It ships tomorrow.", model = "gpt-4o", tags = new[] { "support" }, metadata = new { customer = "Ada" } });
            await api.PostTraceAsync(new { user_input = "Can I get a refund?", response = "No.", model = "gpt-4o", tags = new[] { "support" }, metadata = new { customer = "Grace" } });
        }

        app.OpenAi.DefaultReply = new FakeReply(Text: "Thank you for asking! Here is a kinder, more helpful answer.", Delay: TimeSpan.FromMilliseconds(300));
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/playground");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=playground]").WaitForAsync();
        await page.FillAsync("textarea[data-testid=playground-system]", "You rewrite support answers to be kind. The customer is {{customer}}.");
        await page.FillAsync("textarea[data-testid=playground-content]", "Question: {{input}}\nOld answer: {{output}}");
        await page.Locator("input[data-testid=playground-model]").Nth(0).FillAsync("gpt-4o-mini");
        await page.Locator("[data-testid=batch-panel]").ScrollIntoViewIfNeededAsync();
        await page.ClickAsync("[data-testid=batch-start]");

        await page.Locator("[data-testid=batch-run-progress]").WaitForAsync();
        await page.Locator("[data-testid=batch-run-progress][data-status=completed]").WaitForAsync(new() { Timeout = 60_000 });
        await page.Locator("[data-testid=batch-run-counts]").GetByText("2 done · 0 failed · of 2").WaitForAsync();
        await page.Locator("[data-testid=batch-table-rows] tbody tr").Nth(1).WaitForAsync(new() { Timeout = 20_000 });
        await page.Locator("[data-testid=batch-original-answer]").GetByText("It ships tomorrow.").WaitForAsync();
        Assert.Equal(2, await page.Locator("[data-testid=batch-result]", new() { HasTextString = "kinder, more helpful" }).CountAsync());
        Assert.Contains(app.OpenAi.Requests, r => r.Body.Contains("The customer is Grace.", StringComparison.Ordinal) && r.Body.Contains("Old answer: No.", StringComparison.Ordinal));
        await page.AssertAccessibleAsync("playground batch with its comparison");
        await page.Locator("[data-testid=batch-current]").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync("260-playground-batch-comparison-light-1440");
        await page.SetViewportSizeAsync(390, 844);
        await page.Locator("[data-testid=batch-current]").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync("261-playground-batch-comparison-light-390");

        await page.SetViewportSizeAsync(1440, 900);
        app.OpenAi.DefaultReply = new FakeReply(Text: """{"reasoning": "Courteous.", "verdict": "pass"}""");
        await page.GotoAsync($"/evaluators/{evaluatorId}");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=evaluator-run-on-queue]").WaitForAsync();
        await page.ClickAsync("[data-testid=evaluator-run-on-queue]");
        await page.Locator("[data-testid=batch-run-progress][data-status=completed]").WaitForAsync(new() { Timeout = 60_000 });
        await page.Locator("[data-testid=batch-run-counts]").GetByText("2 done · 0 failed · of 2").WaitForAsync();
        await page.AssertAccessibleAsync("evaluator run on a queue");
        await page.ScreenshotAsync("262-evaluator-run-on-queue-light-1440");
        app.OpenAi.DefaultReply = new FakeReply();
    }
}
