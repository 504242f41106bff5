using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Two people of one team in two browsers: a reviewer works by keyboard in the trace view, an owner
/// watches the list and the same trace, and sees each change without reloading.
/// </summary>
public sealed class ReviewJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task AReviewerRejectsByKeyboard_AndTheOtherUserSeesItLive()
    {
        // Two browsers and a server on two shared cores: conditions get more time than the 5 s default.
        Assertions.SetDefaultExpectTimeout(15_000);
        var team = await TestData.CreateTeamAsync(app.Services);
        var (_, reviewerEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var older = await SendAsync(http, "What is your refund policy?", "Refunds are possible within **30 days** of delivery.");
        var newest = await SendAsync(http, "Where is my order 1234?", "Order 1234 was delivered to the moon on Tuesday.");

        await using var reviewerContext = await NewContextAsync();
        await using var ownerContext = await NewContextAsync();
        var reviewer = await reviewerContext.NewPageAsync();
        var owner = await ownerContext.NewPageAsync();
        var reviewerErrors = reviewer.CollectConsoleErrors();
        var ownerErrors = owner.CollectConsoleErrors();
        await reviewer.SignInAsync(reviewerEmail);
        await owner.SignInAsync(team.OwnerEmail);

        var ownerBadge = owner.Locator($"tr[data-trace-id='{newest}'] [data-testid=status-badge]");
        await Assertions.Expect(ownerBadge).ToHaveAttributeAsync("data-status", "Pending");

        // The reviewer opens the newest trace from the list and rejects it: R, then 1 (the first reason).
        await reviewer.Locator("[data-testid=traces-table]").GetByText("Where is my order 1234?").ClickAsync();
        await Assertions.Expect(reviewer).ToHaveURLAsync(new Regex($"/traces/{newest}"));
        await reviewer.WaitUntilInteractiveAsync();
        await KeysReadyAsync(reviewer);
        await reviewer.Keyboard.PressAsync("r");
        await Assertions.Expect(reviewer.Locator("[data-testid=reject-dialog]")).ToBeVisibleAsync();
        await reviewer.Keyboard.PressAsync("Escape");
        await Assertions.Expect(reviewer.Locator("[data-testid=reject-dialog]")).ToHaveCountAsync(0);
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "pending");
        await reviewer.Keyboard.PressAsync("r");
        await Assertions.Expect(reviewer.Locator("[data-testid=reject-dialog]")).ToBeVisibleAsync();
        await reviewer.ScreenshotAsync("30-review-reject-dialog-light-1440");
        await reviewer.Keyboard.PressAsync("1");
        await Assertions.Expect(reviewer.Locator("[data-testid=reject-dialog]")).ToHaveCountAsync(0);
        await Assertions.Expect(reviewer.Locator(".mud-snackbar")).ToContainTextAsync("Rejected · Hallucination");
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "rejected");
        await Assertions.Expect(reviewer.Locator("[data-testid=review-reason]")).ToHaveAttributeAsync("data-key", "hallucination");

        // The owner's list changes without a reload.
        await ExpectLiveAsync(owner, ownerBadge, "Rejected", "list badge after the rejection", ownerErrors);

        // Keys typed into the note are text, not shortcuts; Ctrl+Enter saves it.
        await reviewer.Keyboard.PressAsync("n");
        var note = reviewer.Locator("textarea[data-testid=review-note], [data-testid=review-note] textarea");
        await Assertions.Expect(note).ToBeFocusedAsync();
        const string typed = "Says delivered to the moon: a made-up status. Reject as a hallucination.";
        await reviewer.Keyboard.TypeAsync(typed);
        await reviewer.Keyboard.PressAsync("Control+Enter");
        await Assertions.Expect(reviewer.Locator(".mud-snackbar").Filter(new() { HasText = "Note saved" })).ToBeVisibleAsync();
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "rejected");
        await Assertions.Expect(reviewer.Locator("[data-testid=history-item]")).ToHaveCountAsync(2);
        await reviewer.Keyboard.PressAsync("Escape");
        await Assertions.Expect(note).Not.ToBeFocusedAsync();
        await Assertions.Expect(reviewer.Locator(".mud-snackbar")).ToHaveCountAsync(0, new() { Timeout = 15_000 });
        await reviewer.ScreenshotAsync("31-review-panel-rejected-light-1440");

        // The owner opens the same trace; the reviewer undoes the note and the owner sees it go.
        await owner.GotoAsync($"/traces/{newest}");
        await owner.WaitUntilInteractiveAsync();
        // Every keystroke arrived, whatever the round trips did meanwhile.
        await Assertions.Expect(owner.Locator("textarea[data-testid=review-note], [data-testid=review-note] textarea")).ToHaveValueAsync(typed);
        await reviewer.Keyboard.PressAsync("u");
        await ExpectLiveAsync(owner, owner.Locator("[data-testid=history-item]").First, "undo", "history in the other trace view", ownerErrors, "data-action");
        await Assertions.Expect(owner.Locator("textarea[data-testid=review-note], [data-testid=review-note] textarea")).ToHaveValueAsync("");

        // J moves to the next (older) trace; A accepts it; ? lists the shortcuts.
        await reviewer.Keyboard.PressAsync("j");
        await Assertions.Expect(reviewer).ToHaveURLAsync(new Regex($"/traces/{older}"));
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "pending");
        await KeysReadyAsync(reviewer);
        await reviewer.Keyboard.PressAsync("a");
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "accepted");
        await reviewer.Keyboard.PressAsync("k");
        await Assertions.Expect(reviewer).ToHaveURLAsync(new Regex($"/traces/{newest}"));
        // Keys count once the trace is shown (while the next one loads they are dropped, never applied to the previous one).
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "rejected");
        await KeysReadyAsync(reviewer);
        await reviewer.Keyboard.PressAsync("?");
        await Assertions.Expect(reviewer.Locator("[data-testid=shortcuts-dialog]")).ToContainTextAsync("Reject, then pick the reason");
        await reviewer.Keyboard.PressAsync("Escape");
        await Assertions.Expect(reviewer.Locator("[data-testid=shortcuts-dialog]")).ToHaveCountAsync(0);

        await reviewer.ToggleThemeAsync();
        await reviewer.ScreenshotAsync("32-review-panel-dark-1440");
        await reviewer.SetViewportSizeAsync(390, 844);
        await reviewer.ReloadAsync();
        await reviewer.WaitUntilInteractiveAsync();
        await Assertions.Expect(reviewer.Locator("[data-testid=review-status]")).ToHaveAttributeAsync("data-status", "rejected");
        Assert.Equal(390, await reviewer.EvaluateAsync<int>("() => document.documentElement.scrollWidth"));
        await reviewer.ScreenshotAsync("33-review-panel-light-390");
        Assert.Empty(reviewerErrors);
        Assert.Empty(ownerErrors);
    }

    /// <summary>The shortcut listener of the trace shown is attached (keys pressed before that are dropped).</summary>
    private static Task KeysReadyAsync(IPage page) =>
        Assertions.Expect(page.Locator("[data-testid=review-panel] [data-testid=shortcuts]")).ToHaveAttributeAsync("data-attached", "true");

    private Task<IBrowserContext> NewContextAsync() =>
        browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });

    private static async Task ExpectLiveAsync(IPage page, ILocator locator, string value, string what, List<string> errors, string attribute = "data-status")
    {
        try
        {
            await Assertions.Expect(locator).ToHaveAttributeAsync(attribute, value, new() { Timeout = 10_000 });
        }
        catch (PlaywrightException)
        {
            await page.ScreenshotAsync("failed-review-live");
            Assert.Fail($"The {what} did not change live. Console errors: " + string.Join(" | ", errors));
        }
    }

    private static async Task<Guid> SendAsync(HttpClient http, string input, string response)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { name = "support-bot", user_input = input, response, model = "gpt-4o-mini", latency_ms = 640 });
        var result = await http.PostAsync("/api/v1/traces", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, result.StatusCode);
        using var json = System.Text.Json.JsonDocument.Parse(await result.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("id").GetGuid();
    }
}
