using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>An Admin creates a review queue in the settings; a reviewer walks it with the keyboard; an Admin reads agreement and disagreements.</summary>
public sealed class ReviewQueueJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task AdminCreatesAQueue_AReviewerWalksTwoTracesWithCtrlEnter_ProgressShowsTwoDone()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (_, reviewerEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        await SendAsync(http, "Where is my order #1042?", "It shipped yesterday with **DHL**; tracking `JD0142`.", "gpt-4o");
        await SendAsync(http, "Can I return shoes after 40 days?", "Returns are accepted within 30 days of delivery.", "gpt-4o");
        await SendAsync(http, "Translate 'hello' to French", "Bonjour", "claude-sonnet-4");

        // The Admin (here the Owner) creates the queue: production of one model, not yet reviewed, with a rubric.
        await using var adminContext = await NewContextAsync();
        var admin = await adminContext.NewPageAsync();
        var adminErrors = admin.CollectConsoleErrors();
        await admin.SignInAsync(team.OwnerEmail);
        await admin.GotoAsync("/settings/queues");
        await admin.WaitUntilInteractiveAsync();
        await admin.Locator("[data-testid=queue-settings-empty]").WaitForAsync();
        await admin.ClickAsync("[data-testid=create-queue]");
        var dialog = admin.Locator("[data-testid=queue-dialog]");
        await dialog.WaitForAsync();
        await admin.FillAsync("[data-testid=queue-name] input, input[data-testid=queue-name]", "Support answers, gpt-4o");
        await admin.FillAsync("[data-testid=queue-filter-model] input, input[data-testid=queue-filter-model]", "gpt-4o");
        await admin.FillAsync("[data-testid=queue-instructions-input] textarea, textarea[data-testid=queue-instructions-input]",
            "**Accept** when the answer is correct and polite.\n\n- Reject made-up order numbers as *Hallucination*\n- Reject policy mistakes as *Incorrect tool call*");
        await admin.ScreenshotAsync("40-queue-dialog-light-1440");
        await admin.ClickAsync("[data-testid=save-queue]");
        try
        {
            await admin.Locator("[data-testid=queues-table]").GetByText("Support answers, gpt-4o").WaitForAsync();
        }
        catch (TimeoutException)
        {
            await admin.ScreenshotAsync("failed-create-queue");
            Assert.Fail("The queue did not appear. Console errors: " + string.Join(" | ", adminErrors));
        }

        await Assertions.Expect(admin.Locator("[data-testid=queues-table]")).ToContainTextAsync("2 remaining");
        await admin.ScreenshotAsync("41-queue-settings-light-1440");

        // The reviewer opens Review, starts the queue and walks it with the keyboard only.
        await using var reviewerContext = await NewContextAsync();
        var page = await reviewerContext.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(reviewerEmail);
        await page.GetByRole(AriaRole.Link, new() { Name = "Review", Exact = true }).ClickAsync();
        await page.Locator("[data-testid=queue-card]").WaitForAsync();
        await Assertions.Expect(page.Locator("[data-testid=start-review]")).ToContainTextAsync("2 for you");
        await page.ScreenshotAsync("42-review-queues-light-1440");
        await page.ClickAsync("[data-testid=start-review]");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/review/[0-9a-f-]{36}$"));
        var work = page.Locator("[data-testid=queue-work]");
        await work.WaitForAsync();
        await Assertions.Expect(work).ToBeFocusedAsync();
        await Assertions.Expect(page.Locator("[data-testid=queue-instructions] strong")).ToHaveTextAsync("Accept");
        await Assertions.Expect(page.Locator("[data-testid=queue-done]")).ToHaveTextAsync("0");
        var first = await work.GetAttributeAsync("data-trace-id");

        await page.Keyboard.PressAsync("a");
        await Assertions.Expect(page.Locator("[data-testid=verdict-accept]")).ToHaveAttributeAsync("aria-pressed", "true");
        // The filled button fades in: wait until it is opaque, so the picture shows the chosen state.
        await Assertions.Expect(page.Locator("[data-testid=verdict-accept]")).ToHaveCSSAsync("background-color", new Regex(@"^rgb\("));
        await page.ScreenshotAsync("43-review-item-light-1440");
        await page.Keyboard.PressAsync("Control+Enter");
        try
        {
            await Assertions.Expect(work).Not.ToHaveAttributeAsync("data-trace-id", first!);
        }
        catch (PlaywrightException)
        {
            await page.ScreenshotAsync("failed-queue-next");
            Assert.Fail("Ctrl+Enter did not open the next trace. Console errors: " + string.Join(" | ", errors));
        }

        await Assertions.Expect(page.Locator("[data-testid=queue-done]")).ToHaveTextAsync("1");
        await Assertions.Expect(work).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("r");
        await page.Keyboard.PressAsync("2");
        await Assertions.Expect(page.Locator("[data-testid=verdict-reason]")).ToContainTextAsync("Incorrect tool call");
        await page.Keyboard.PressAsync("Control+Enter");

        await page.Locator("[data-testid=queue-empty]").WaitForAsync();
        await Assertions.Expect(page.Locator("[data-testid=queue-done]")).ToHaveTextAsync("2");
        await Assertions.Expect(page.Locator("[data-testid=queue-remaining]")).ToHaveTextAsync("0");
        await page.ScreenshotAsync("44-review-queue-done-light-1440");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Progress" }).ClickAsync();
        var mine = page.Locator("[data-testid=reviewer-progress] tr", new() { HasText = reviewerEmail });
        await Assertions.Expect(mine.Locator("[data-testid=done-today]")).ToHaveTextAsync("2");
        await Assertions.Expect(mine.Locator("[data-testid=done-total]")).ToHaveTextAsync("2");
        await page.ScreenshotAsync("45-review-progress-light-1440");

        // The verdicts reached the traces: the list shows them reviewed.
        await page.GotoAsync("/traces?status=accepted");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=traces-table]").GetByText(new Regex("order #1042|return shoes")).First.WaitForAsync();
        Assert.Empty(errors);
        Assert.Empty(adminErrors);
    }

    [Fact]
    public async Task AnAdmin_SeesAgreementAndSettlesADisagreement()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var a = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var b = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var questions = new[] { "Where is my order #88?", "Do you ship to Norway?", "Reset my password", "Cancel my subscription" };
        foreach (var q in questions)
        {
            await SendAsync(http, q, "Here is what I found.", "gpt-4o-mini");
        }

        var queueId = (await AsAsync(team.Id, team.OwnerId, TeamRole.Owner, s => s.CreateAsync(new QueueDefinition(
            "Second opinion", new TraceFilter(), RequiredReviews: 2, AssigneeIds: [a.UserId, b.UserId], Instructions: "Two reviewers, blind.")))).Id;
        // A accepts everything; B rejects the second trace it gets.
        foreach (var (who, reject) in new[] { (a.UserId, -1), (b.UserId, 1) })
        {
            for (var i = 0; await AsAsync(team.Id, who, TeamRole.Reviewer, s => s.NextAsync(queueId)) is { } work; i++)
            {
                var verdict = i == reject ? QueueVerdictInput.Reject("hallucination", "Order #88 does not exist.") : QueueVerdictInput.Accept();
                await AsAsync(team.Id, who, TeamRole.Reviewer, s => s.CompleteAsync(work.ItemId, verdict));
            }
        }

        await using var context = await NewContextAsync();
        var page = await context.NewPageAsync();
        var errors = page.CollectConsoleErrors();
        await page.SignInAsync(team.OwnerEmail);
        await page.GotoAsync($"/review/{queueId}");
        await page.WaitUntilInteractiveAsync();
        await page.GetByRole(AriaRole.Tab, new() { Name = "Progress" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=agreement]")).ToContainTextAsync("75%");
        await page.ScreenshotAsync("46-queue-agreement-light-1440");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Disagreements (1)" }).ClickAsync();
        var item = page.Locator("[data-testid=disagreement]");
        await Assertions.Expect(item).ToContainTextAsync("reject · Hallucination");
        await item.Locator("[data-testid=settle-choice]").ClickAsync();
        await page.GetByRole(AriaRole.Option, new() { Name = "Reject · Hallucination" }).ClickAsync();
        await Assertions.Expect(item.Locator("[data-testid=settle]")).ToBeEnabledAsync();
        await Assertions.Expect(item.Locator("[data-testid=settle]")).ToHaveCSSAsync("background-color", new Regex(@"^rgb\("));
        await page.ScreenshotAsync("47-queue-disagreement-light-1440");
        await item.Locator("[data-testid=settle]").ClickAsync();

        await page.Locator("[data-testid=disagreements-empty]").WaitForAsync();
        await Assertions.Expect(page.Locator("[data-testid=queue-done]")).ToHaveTextAsync("4");
        await page.Locator(".mud-snackbar").GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator(".mud-snackbar")).ToHaveCountAsync(0);
        await page.ToggleThemeAsync();
        await page.GetByRole(AriaRole.Tab, new() { Name = "Progress" }).ClickAsync();
        await page.Locator("[data-testid=agreement]").WaitForAsync();
        await page.ScreenshotAsync("48-queue-progress-dark-1440");

        // The other pages this work touched, in dark mode too (a reload follows the system scheme).
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        foreach (var (path, ready, name) in new[]
        {
            ("/review", "[data-testid=queue-card]", "49-review-queues-dark-1440"),
            ("/settings/queues", "[data-testid=queues-table]", "50-queue-settings-dark-1440"),
            ("/settings/review", "[data-testid=reason-row-label]", "51-review-settings-dark-1440"),
            ("/traces", "[data-testid=export-menu]", "52-traces-export-dark-1440"),
        })
        {
            await page.GotoAsync(path);
            await page.WaitUntilInteractiveAsync();
            await page.Locator(ready).First.WaitForAsync();
            if (path == "/traces")
            {
                await page.Locator("[data-testid=export-menu] button").ClickAsync();
                await page.Locator("[data-testid=export-csv]").WaitForAsync();
                // The menu fades in: wait until it is opaque, not half-way.
                await Assertions.Expect(page.Locator(".mud-popover-open")).ToHaveCSSAsync("opacity", "1");
            }

            await page.ScreenshotAsync(name);
        }

        Assert.Empty(errors);
    }

    private async Task<T> AsAsync<T>(Guid teamId, string userId, TeamRole role, Func<QueueService, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return await act(scope.ServiceProvider.GetRequiredService<QueueService>());
    }

    private Task<IBrowserContext> NewContextAsync() =>
        browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light });

    private static async Task SendAsync(HttpClient http, string input, string response, string model)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { name = "support-bot", user_input = input, response, model, environment = "production", latency_ms = 640 });
        var result = await http.PostAsync("/api/v1/traces", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, result.StatusCode);
    }
}
