using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// An owner invites a colleague as Reviewer; the colleague joins through the link in a second browser and reviews a
/// trace; the owner demotes them to Viewer and the colleague's open trace loses its review buttons without a reload.
/// </summary>
public sealed class MembersJourneyTests(KestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task AnInvitedReviewerJoins_Reviews_AndLosesTheButtonsWhenDemoted()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var trace = await SendAsync(http, "Where is my order 1234?", "Order 1234 left the warehouse yesterday.");
        var colleagueEmail = $"{TestData.Unique("colleague")}@example.test";

        await using var ownerContext = await NewContextAsync();
        await using var colleagueContext = await NewContextAsync();
        var owner = await ownerContext.NewPageAsync();
        var colleague = await colleagueContext.NewPageAsync();
        var ownerErrors = owner.CollectConsoleErrors();
        var colleagueErrors = colleague.CollectConsoleErrors();

        // The owner invites the colleague as Reviewer (the form's default role) and copies the link.
        await owner.SignInAsync(team.OwnerEmail);
        await owner.GotoAsync("/settings/members");
        await owner.WaitUntilInteractiveAsync();
        await Assertions.Expect(owner.GetByTestId("members-table")).ToContainTextAsync(team.OwnerEmail);
        await owner.GetByLabel("E-mail address").FillAsync(colleagueEmail);
        await owner.GetByTestId("invite-submit").ClickAsync();
        var linkText = owner.GetByTestId("invitation-link");
        await Assertions.Expect(linkText).ToContainTextAsync("/invite/inv_");
        await Assertions.Expect(owner.GetByTestId("invitations-table")).ToContainTextAsync(colleagueEmail);
        var link = (await linkText.TextContentAsync())!.Trim();
        await owner.ScreenshotAsync("200-members-invited-light-1440");

        // The colleague opens it in their own browser, chooses a password and lands in the team.
        await colleague.GotoAsync(link);
        await Assertions.Expect(colleague.GetByTestId("invitation-summary")).ToContainTextAsync("Reviewer");
        await colleague.ScreenshotAsync("201-invitation-accept-light-1440");
        await colleague.FillAsync("#password", TestData.Password);
        await colleague.FillAsync("#confirm", TestData.Password);
        await colleague.GetByTestId("accept-invitation").ClickAsync();
        await colleague.WaitForURLAsync("**/traces");
        await colleague.WaitUntilInteractiveAsync();

        // They review the trace.
        await colleague.GotoAsync($"/traces/{trace}");
        await colleague.WaitUntilInteractiveAsync();
        await colleague.GetByTestId("review-accept").ClickAsync();
        await Assertions.Expect(colleague.GetByTestId("review-status")).ToHaveAttributeAsync("data-status", "accepted");

        // The owner sees them as a member and demotes them to Viewer with the role menu.
        await owner.ReloadAsync();
        await owner.WaitUntilInteractiveAsync();
        var row = owner.GetByTestId("members-table").Locator("tr", new() { HasText = colleagueEmail });
        await Assertions.Expect(row).ToContainTextAsync("Reviewer");
        await row.Locator("div.mud-select").First.ClickAsync();
        await owner.Locator(".mud-popover-open").GetByText("Viewer", new() { Exact = true }).ClickAsync();
        await Assertions.Expect(owner.Locator(".mud-snackbar")).ToContainTextAsync($"{colleagueEmail} is now Viewer");

        // The colleague's open trace loses its review buttons, without a reload.
        await Assertions.Expect(colleague.GetByTestId("review-panel")).ToHaveAttributeAsync("data-can-review", "false", new() { Timeout = 10_000 });
        await Assertions.Expect(colleague.GetByTestId("review-accept")).ToHaveCountAsync(0);
        Assert.Matches(new Regex($"/traces/{trace}$"), colleague.Url);
        await colleague.ScreenshotAsync("202-demoted-viewer-no-review-buttons-light-1440");

        await owner.SetViewportSizeAsync(390, 844);
        await owner.ReloadAsync();
        await owner.WaitUntilInteractiveAsync();
        await Assertions.Expect(owner.GetByTestId("members-table")).ToContainTextAsync(colleagueEmail);
        Assert.Equal(390, await owner.EvaluateAsync<int>("() => document.documentElement.scrollWidth"));
        await owner.ScreenshotAsync("203-members-light-390");
        Assert.Empty(ownerErrors);
        Assert.Empty(colleagueErrors);
    }

    private Task<IBrowserContext> NewContextAsync() =>
        browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 } });

    private static async Task<Guid> SendAsync(HttpClient http, string input, string response)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { name = "support-bot", user_input = input, response });
        var result = await http.PostAsync("/api/v1/traces", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, result.StatusCode);
        using var json = System.Text.Json.JsonDocument.Parse(await result.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("id").GetGuid();
    }
}
