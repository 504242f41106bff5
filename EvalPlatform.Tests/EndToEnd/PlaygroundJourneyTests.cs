using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>The app on a real port with a fake OpenAI and a fake Anthropic beside it (private targets allowed for them).</summary>
public sealed class PlaygroundKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    public FakeOpenAiServer OpenAi { get; private set; } = default!;

    public FakeAnthropicServer Anthropic { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        OpenAi = await FakeOpenAiServer.StartNewAsync();
        Anthropic = await FakeAnthropicServer.StartNewAsync();
        await base.InitializeAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
    }
}

/// <summary>
/// A member writes a prompt with a variable, runs two configurations (OpenAI and Anthropic) side by side with Ctrl+Enter and
/// watches both stream, saves the results as traces and finds them in the trace list under the playground tag.
/// </summary>
public sealed class PlaygroundJourneyTests(PlaygroundKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<PlaygroundKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task TwoConfigurationsStreamSideBySide_AreSavedAsTraces_AndShowInTheTraceList()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            var providers = scope.ServiceProvider.GetRequiredService<ProviderService>();
            await providers.CreateAsync(new ProviderInput("openai", "OpenAI main", app.OpenAi.BaseUrl, FakeOpenAiServer.Key));
            await providers.CreateAsync(new ProviderInput("anthropic", "Claude", app.Anthropic.BaseUrl, FakeAnthropicServer.Key));
        }

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/playground");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=playground]").WaitForAsync();
        await page.FillAsync("textarea[data-testid=playground-system]", "You write short poems.");
        await page.FillAsync("textarea[data-testid=playground-content]", "Write a haiku about {{topic}}.");
        await page.Locator("[data-testid=playground-variable]").WaitForAsync();
        await page.Locator("[data-testid=playground-variable]").FillAsync("tests that pass");
        await page.ClickAsync("[data-testid=playground-add-config]");
        await page.Locator("input[data-testid=playground-model]").Nth(1).WaitForAsync();
        await page.Locator("input[data-testid=playground-model]").Nth(0).FillAsync("gpt-4o-mini");
        await page.Locator("input[data-testid=playground-model]").Nth(1).FillAsync("claude-sonnet-4-20250514");
        app.OpenAi.Next(new FakeReply(Text: "Green bars at dawn, the suite hums without a flake, merge before the coffee.", ChunkDelay: TimeSpan.FromMilliseconds(120)));
        app.Anthropic.Next(new FakeReply(Text: "Red turns into green, assertions hold their quiet breath, the build sleeps soundly.", ChunkDelay: TimeSpan.FromMilliseconds(120)));

        // Ctrl+Enter from the prompt runs both; text shows in both columns while they are still streaming.
        await page.Locator("textarea[data-testid=playground-content]").PressAsync("Control+Enter");
        await page.Locator("[data-testid=playground-column][aria-busy=true] [data-testid=playground-output]", new() { HasTextString = "Green bars" }).WaitForAsync();
        await page.Locator("[data-testid=playground-column][aria-busy=true] [data-testid=playground-output]", new() { HasTextString = "Red turns" }).WaitForAsync();
        await page.Locator("[data-testid=playground-figures]").Nth(1).WaitForAsync(new() { Timeout = 20_000 });
        Assert.Equal(2, await page.Locator("[data-testid=playground-figures]").CountAsync());
        Assert.Contains("Write a haiku about tests that pass.", app.OpenAi.Requests[^1].Body, StringComparison.Ordinal);
        await page.AssertAccessibleAsync("playground with two results");
        await page.ScreenshotAsync("220-playground-two-configurations-light-1440");

        await page.ClickAsync("[data-testid=playground-save]");
        await page.Locator("[data-testid=playground-saved-link]").Nth(1).WaitForAsync();
        await page.SetViewportSizeAsync(390, 844);
        await page.ScreenshotAsync("221-playground-saved-light-390");

        await page.SetViewportSizeAsync(1440, 900);
        await page.GotoAsync("/traces?tag=playground");
        await page.WaitUntilInteractiveAsync();
        await page.GetByText("Green bars at dawn").First.WaitForAsync();
        await page.GetByText("Red turns into green").First.WaitForAsync();
        await page.ScreenshotAsync("222-playground-traces-in-list-light-1440");
    }
}
