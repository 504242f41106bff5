using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>The app on a real port with a fake OpenAI beside it (private targets allowed for it).</summary>
public sealed class ProviderKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    public FakeOpenAiServer OpenAi { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        OpenAi = await FakeOpenAiServer.StartNewAsync();
        await base.InitializeAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
    }
}

/// <summary>An Owner connects an OpenAI-compatible server (the fake), tests the connection, and sees its models and usage.</summary>
public sealed class ProvidersJourneyTests(ProviderKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<ProviderKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task OwnerAddsAConnection_TestsIt_AndSeesItsModelsAndUsage()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/settings/providers");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=providers-empty]").WaitForAsync();
        await page.GetByLabel("Name").FillAsync("Local gateway");
        await page.GetByLabel("Base URL").FillAsync(app.OpenAi.BaseUrl);
        await page.GetByLabel("API key").FillAsync(FakeOpenAiServer.Key);
        await page.ClickAsync("[data-testid=provider-add]");
        await page.Locator("[data-testid=providers-table]").GetByText("Local gateway").WaitForAsync();
        Assert.DoesNotContain(FakeOpenAiServer.Key, await page.ContentAsync(), StringComparison.Ordinal);

        await page.ClickAsync("[data-testid=provider-test]");
        await page.Locator("[data-testid=provider-test-result]").GetByText("connected (3 models").WaitForAsync();
        Assert.Contains(app.OpenAi.Requests, r => r.Path == "/v1/models" && r.Headers["Authorization"] == $"Bearer {FakeOpenAiServer.Key}");

        await page.ClickAsync("[data-testid=provider-details]");
        await page.Locator("[data-testid=usage-figures]").WaitForAsync();
        await page.ClickAsync("[data-testid=provider-models-load]");
        await page.Locator("[data-testid=provider-models]").GetByText("gpt-4o-mini").WaitForAsync();
        await page.ScreenshotAsync("90-providers-connected-light-1440");

        // A team budget of 100 requests a day: saved, it shows the day's spending so far (the connection test counted).
        await page.ClickAsync("[data-testid=budget-add]");
        await page.Locator("[data-testid=budget-row]").GetByLabel("Limit").FillAsync("100");
        await page.ClickAsync("[data-testid=budgets-save]");
        await page.Locator("[data-testid=budget-spent]").GetByText("1 of 100 requests spent").WaitForAsync();
        await page.Locator("[data-testid=provider-budgets]").ScrollIntoViewIfNeededAsync();
        await page.AssertAccessibleAsync("providers page with a budget");
        await page.ScreenshotAsync("204-providers-budget-light-1440");

        await page.SetViewportSizeAsync(390, 844);
        await page.ScreenshotAsync("91-providers-connected-light-390");
    }
}
