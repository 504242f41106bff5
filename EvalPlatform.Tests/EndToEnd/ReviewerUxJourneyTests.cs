using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Issue 13's defects that need a browser: Markdown list markers inside the card, an errored trace's
/// Chat, unknown addresses in the app's frame, the API key dialog opened directly without a premature
/// "Required", and "Create a queue" on /review opening its dialog with a live Preview switch.
/// </summary>
public sealed class ReviewerUxJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task ListsErrorsNotFoundAndDialogs_AsAReviewerMeetsThem()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var listsId = await SendAsync(http, new
        {
            name = "steps", user_input = "How do I return shoes?",
            response = "Like this:\n\n1. Open **Orders**\n2. Pick the shoes\n3. Print the label\n\nYou need:\n\n- the box\n- the receipt",
        });
        var erroredId = await SendAsync(http, new { name = "refund", user_input = "Refund my order", error = "upstream timeout after 30 s" });

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        // An unknown page address: "not found" inside the app (navigation and all), with a way back; the API keeps problem details.
        var missing = await page.GotoAsync("/no-such-page");
        Assert.Equal((int)HttpStatusCode.NotFound, missing!.Status);
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=not-found]").WaitForAsync();
        Assert.True(await page.Locator(".mud-drawer nav, nav").First.IsVisibleAsync(), "The not-found page has no app frame.");
        await page.AssertAccessibleAsync("not found, light 1440");
        await page.ScreenshotAsync("250-not-found-light-1440");
        var api = await http.GetAsync("/api/v1/no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.Equal("application/problem+json", api.Content.Headers.ContentType?.MediaType);
        await page.ClickAsync("[data-testid=not-found-back]");
        await page.WaitForURLAsync("**/traces");

        // Markdown lists: the markers sit inside the card, clear of its left border.
        await page.GotoAsync($"/traces/{listsId}");
        await page.WaitUntilInteractiveAsync();
        await page.Locator(".chat-response ol li").First.WaitForAsync();
        var inset = await page.EvaluateAsync<double[]>(
            """() => [...document.querySelectorAll('.chat-response li')].map(li => li.getBoundingClientRect().left - li.closest('.chat-message').getBoundingClientRect().left)""");
        Assert.Equal(5, inset.Length);
        Assert.All(inset, x => Assert.True(x >= 28, $"a list item starts {x}px from the card's edge: its marker overlaps the border"));
        await page.ScreenshotAsync("251-trace-markdown-lists-light-1440");

        // An errored trace: the error where the answer would be, and badged.
        await page.GotoAsync($"/traces/{erroredId}");
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=chat-error]")).ToContainTextAsync("upstream timeout after 30 s");
        await page.Locator("[data-testid=error-badge]").First.WaitForAsync();
        await page.AssertAccessibleAsync("errored trace, light 1440");
        await page.ScreenshotAsync("252-trace-error-chat-light-1440");

        // "Create an API key" opens the dialog at once; the name says nothing red before anything is typed, even after leaving it.
        await page.GotoAsync("/settings/api-keys?create=true");
        await page.WaitUntilInteractiveAsync();
        var keyDialog = page.Locator("[data-testid=create-key-dialog]");
        await keyDialog.WaitForAsync();
        await page.ScreenshotAsync("253-create-key-dialog-light-1440");
        Assert.Equal(1, await keyDialog.CountAsync());
        await keyDialog.GetByText("read: read traces and reviews").ClickAsync(new() { Force = true });
        Assert.Equal(0, await keyDialog.Locator(".mud-input-error").CountAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await keyDialog.WaitForAsync(new() { State = WaitForSelectorState.Detached });

        // /review without queues: "Create a queue" opens the dialog here; Preview is enabled as the instructions are typed.
        await page.GotoAsync("/review");
        await page.WaitUntilInteractiveAsync();
        await page.ClickAsync("[data-testid=create-queue]");
        var queueDialog = page.Locator("[data-testid=queue-dialog]");
        await queueDialog.WaitForAsync();
        var preview = page.Locator("[data-testid=queue-preview] input, input[data-testid=queue-preview]").First;
        await Assertions.Expect(preview).ToBeDisabledAsync();
        // Fill, not key by key: the dialog's focus trap moves the focus to its first field from script after render, and
        // under load that came in the middle of typing and took the instructions' keys elsewhere.
        var instructions = page.Locator("[data-testid=queue-instructions-input] textarea, textarea[data-testid=queue-instructions-input]").First;
        await instructions.FillAsync("Accept polite answers");
        await Assertions.Expect(instructions).ToHaveValueAsync("Accept polite answers");
        await Assertions.Expect(preview).ToBeEnabledAsync();
        await page.ScreenshotAsync("254-review-create-queue-dialog-light-1440");
    }

    private static async Task<Guid> SendAsync(HttpClient http, object trace)
    {
        var response = await http.PostAsync("/api/v1/traces", new StringContent(System.Text.Json.JsonSerializer.Serialize(trace), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetGuid();
    }
}
