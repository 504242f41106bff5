using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// The app on a real port with a fake LangSmith beside it (private targets allowed for it), its jobs off: the journey runs
/// the sync itself, so it can stop one in the middle of the backfill; pages of 10 runs, so the backfill has several. Its
/// clock runs with the real one, and the journey moves it on as LangSmith answers (a backfill's pace in minutes).
/// </summary>
public sealed class LangSmithKestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true)
{
    public FakeLangSmithServer LangSmith { get; private set; } = default!;

    public AdvancingClock Clock { get; } = new();

    public override async Task InitializeAsync()
    {
        LangSmith = await FakeLangSmithServer.StartNewAsync();
        await base.InitializeAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Jobs:Enabled", "false");
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
        builder.UseSetting("LangSmithImport:PageSize", "10");
        builder.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(Clock));
    }
}

/// <summary>
/// An Owner connects LangSmith, watches the backfill's progress (with its rate and time left, light and dark, 1440 and 390)
/// stop halfway and finish, tests the connection, and pauses it.
/// </summary>
public sealed class LangSmithJourneyTests(LangSmithKestrelAppFactory app, BrowserFixture browser)
    : IClassFixture<LangSmithKestrelAppFactory>, IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task OwnerConnectsLangSmith_SeesTheBackfillsProgress_AndItInSync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var project = app.LangSmith.AddProject("support-bot", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        app.LangSmith.AddRuns(project, Enumerable.Range(0, 20).SelectMany(i => FakeLangSmithServer.Trace(new DateTimeOffset(2026, 3, 1, 9, i, 0, TimeSpan.Zero), i)));
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        await page.GotoAsync("/settings/integrations/langsmith");
        await page.WaitUntilInteractiveAsync();
        await page.Locator("[data-testid=langsmith-empty]").WaitForAsync();
        await page.GetByLabel("API URL").FillAsync(app.LangSmith.ApiUrl);
        await page.GetByLabel("API key").FillAsync(FakeLangSmithServer.Key);
        await page.GetByLabel("Projects").FillAsync("support-bot");
        await page.ClickAsync("[data-testid=langsmith-add]");
        await page.Locator("[data-testid=langsmith-projects-table]").GetByText("support-bot").WaitForAsync();
        Assert.DoesNotContain(FakeLangSmithServer.Key, await page.ContentAsync(), StringComparison.Ordinal);

        // The sync stopped while asking for its third page (a restart): two pages of 10 runs are in, of about 60. Each page
        // took LangSmith 30 s: 20 runs a minute, 40 runs (2 minutes) left.
        var connection = await ConnectionAsync(team);
        using (var stop = new CancellationTokenSource())
        {
            var before = app.LangSmith.QueryCount;
            app.LangSmith.QueryReceived = n =>
            {
                app.Clock.Advance(TimeSpan.FromSeconds(30));
                if (n == before + 3)
                {
                    stop.Cancel();
                }
            };
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SyncAsync(team, connection, stop.Token));
            app.LangSmith.QueryReceived = null;
        }

        await page.ClickAsync("[data-testid=langsmith-refresh]");
        await page.Locator("[data-testid=langsmith-progress]").GetByText("20 of about 60 runs read").WaitForAsync();
        await page.Locator("[data-testid=langsmith-status]").GetByText("Importing").WaitForAsync();
        var pace = page.Locator("[data-testid=langsmith-pace]");
        await pace.WaitForAsync();
        Assert.Matches(@"^(19\.\d|20) runs/min · about 2 min left$", (await pace.InnerTextAsync()).Trim());
        Assert.Equal("20", (await page.Locator("[data-testid=langsmith-project-today]").InnerTextAsync()).Trim());
        Assert.Equal("20 runs today", (await page.Locator("[data-testid=langsmith-today]").InnerTextAsync()).Trim());
        Assert.Equal("next sync due now", (await page.Locator("[data-testid=langsmith-next]").InnerTextAsync()).Trim()); // the stopped sync is taken up again
        await page.AssertAccessibleAsync("LangSmith page during a backfill");
        await page.ScreenshotAsync("240-langsmith-backfill-progress-light-1440");
        await page.Locator("[data-testid=langsmith-projects-table]").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync("310-langsmith-backfill-rate-light-1440");

        await page.ToggleThemeAsync();
        await page.SetViewportSizeAsync(390, 844);
        await pace.ScrollIntoViewIfNeededAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "The LangSmith page scrolls sideways at 390 px.");
        await page.AssertAccessibleAsync("LangSmith page during a backfill, dark 390");
        await page.ScreenshotAsync("311-langsmith-backfill-rate-dark-390");
        await page.ToggleThemeAsync();
        await page.SetViewportSizeAsync(1440, 900);

        // Resumed: the rest is read from the saved cursor and the project is in sync.
        await SyncAsync(team, connection, CancellationToken.None);
        await page.ClickAsync("[data-testid=langsmith-refresh]");
        await page.Locator("[data-testid=langsmith-status]").GetByText("In sync").WaitForAsync();
        await page.Locator("[data-testid=langsmith-summary]").GetByText("60 runs and 20 traces imported", new() { Exact = false }).WaitForAsync();
        Assert.Equal(0, await page.Locator("[data-testid=langsmith-pace]").CountAsync());
        await page.ClickAsync("[data-testid=langsmith-test]");
        await page.Locator("[data-testid=langsmith-test-result]").GetByText("Connected: LangSmith 0.11.4", new() { Exact = false }).WaitForAsync();
        await page.ScreenshotAsync("241-langsmith-in-sync-light-1440");

        await page.ClickAsync("[data-testid=langsmith-pause]");
        await page.Locator("[data-testid=langsmith-status]").GetByText("Paused").WaitForAsync();
        await page.SetViewportSizeAsync(390, 844);
        await page.ScreenshotAsync("242-langsmith-paused-light-390");
    }

    private async Task<Guid> ConnectionAsync(TestTeam team)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<EvalPlatform.Core.Tenancy.TeamContext>().SetMember(team.Id, team.OwnerId, EvalPlatform.Core.Teams.TeamRole.Owner);
        return (await scope.ServiceProvider.GetRequiredService<LangSmithConnections>().ListAsync()).Single().Id;
    }

    private async Task SyncAsync(TestTeam team, Guid connection, CancellationToken ct)
    {
        await using var scope = app.Services.CreateAsyncScope();
        Assert.NotNull(await scope.ServiceProvider.GetRequiredService<LangSmithSync>().SyncOneAsync(team.Id, connection, ct));
    }
}
