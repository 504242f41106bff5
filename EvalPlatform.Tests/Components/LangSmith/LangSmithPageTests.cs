using Bunit;
using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using EvalPlatform.Web.LangSmith;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Components.LangSmith;

/// <summary>Settings → Integrations → LangSmith against the real services and a fake LangSmith on loopback (private targets allowed for it).</summary>
public sealed class LangSmithPageTests : BunitTestBase
{
    private readonly FakeTimeProvider _clock = new(TimeProvider.System.GetUtcNow());
    private FakeLangSmithServer _langSmith = default!;

    public LangSmithPageTests()
    {
        Services.AddSingleton<TimeProvider>(_clock);
        Services.AddEvalLangSmithConnectorClients();
        Services.Configure<OutboundOptions>(o => o.AllowPrivateTargets = true);
        Services.Configure<LangSmithImportOptions>(o =>
        {
            o.BackoffSeconds = 0.05;
            o.PageSize = 10; // several pages, so a backfill can be stopped halfway
        });
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _langSmith = await FakeLangSmithServer.StartNewAsync();
    }

    protected override async Task CleanupAsync() => await _langSmith.DisposeAsync();

    private async Task<(IRenderedComponent<TestHost> Cut, TestTeam Team)> RenderAsync(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        return (Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<LangSmithPage>()), owner);
    }

    private static void Type(IRenderedComponent<TestHost> cut, string testId, string value) =>
        cut.FindAll($"input[data-testid={testId}], [data-testid={testId}] input")[0].Change(value);

    [Fact]
    public async Task Connecting_ShowsTheConnectionWithoutItsKey_ItsBackfillProgress_AndTheTestResult()
    {
        var project = _langSmith.AddProject("support-bot", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        _langSmith.AddRuns(project, Enumerable.Range(0, 4).SelectMany(i => FakeLangSmithServer.Trace(new DateTimeOffset(2026, 3, 1, 0, i, 0, TimeSpan.Zero), i)));
        var (cut, team) = await RenderAsync(TeamRole.Admin);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=langsmith-empty]")));

        Type(cut, "langsmith-api-url", _langSmith.ApiUrl);
        Type(cut, "langsmith-api-key", FakeLangSmithServer.Key);
        Type(cut, "langsmith-projects", "support-bot");
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-add]").ClickAsync(new()));

        cut.WaitForAssertion(() => Assert.Contains("support-bot", cut.Find("[data-testid=langsmith-projects-table]").TextContent, StringComparison.Ordinal));
        Assert.DoesNotContain(FakeLangSmithServer.Key, cut.Markup, StringComparison.Ordinal);
        Assert.Contains($"…{FakeLangSmithServer.Key[^4..]}", cut.Find("[data-testid=langsmith-summary]").TextContent, StringComparison.Ordinal);
        Assert.Equal("Waiting for the first sync", cut.Find("[data-testid=langsmith-status]").TextContent.Trim());
        Assert.Contains("0 of about 12 runs read", cut.Find("[data-testid=langsmith-progress]").TextContent, StringComparison.Ordinal);

        // The sync (as the job runs it) imports everything; the page shows it in sync with its counts.
        var connection = (await Services.GetRequiredService<LangSmithConnections>().ListAsync()).Single();
        var outcome = await Services.GetRequiredService<LangSmithSync>().SyncOneAsync(team.Id, connection.Id, CancellationToken.None);
        Assert.Equal(12, outcome!.RunsImported);
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-refresh]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Equal("In sync", cut.Find("[data-testid=langsmith-status]").TextContent.Trim()));
        Assert.Contains("12 runs and 4 traces imported", cut.Find("[data-testid=langsmith-summary]").TextContent, StringComparison.Ordinal);

        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-dry-run]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("A backfill would import 12 runs in 4 traces from 1 project(s), 2026-03-01 to 2026-03-01",
            Squash(cut.Find("[data-testid=langsmith-dry-run-result]").TextContent), StringComparison.Ordinal));
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-reconcile]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("Balanced", cut.Find("[data-testid=langsmith-reconciliation]").TextContent, StringComparison.Ordinal));

        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-test]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("Connected: LangSmith 0.11.4", cut.Find("[data-testid=langsmith-test-result]").TextContent, StringComparison.Ordinal));

        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-pause]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Equal("Paused", cut.Find("[data-testid=langsmith-status]").TextContent.Trim()));
    }

    [Fact]
    public async Task ABackfillStoppedHalfway_ShowsItsRateAndTimeLeft_AndTheRunsImportedTodayUntilTheDayTurns()
    {
        // 20 traces of 3 runs, read 10 runs a page (the options above); each page takes 30 s on the clock, so two pages read 20 runs in a minute.
        var project = _langSmith.AddProject("support-bot", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        _langSmith.AddRuns(project, Enumerable.Range(0, 20).SelectMany(i => FakeLangSmithServer.Trace(new DateTimeOffset(2026, 3, 1, 9, i, 0, TimeSpan.Zero), i)));
        var midnight = LangSmithProgress.Day(_clock.GetUtcNow()).AddDays(2);
        _clock.SetUtcNow(midnight.AddMinutes(-30));
        var (cut, team) = await RenderAsync(TeamRole.Admin);
        var connection = await Services.GetRequiredService<LangSmithConnections>().CreateAsync(new LangSmithConnectionInput(
            _langSmith.ApiUrl, FakeLangSmithServer.Key, null, [new LangSmithProjectInput(null, "support-bot", null)], null, null, null));
        using (var stop = new CancellationTokenSource())
        {
            _langSmith.QueryReceived = n =>
            {
                _clock.Advance(TimeSpan.FromSeconds(30));
                if (n == 3)
                {
                    stop.Cancel();
                }
            };
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Services.GetRequiredService<LangSmithSync>().SyncOneAsync(team.Id, connection.Id, stop.Token));
            _langSmith.QueryReceived = null;
        }

        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-refresh]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("20 of about 60 runs read", cut.Find("[data-testid=langsmith-progress]").TextContent, StringComparison.Ordinal));
        Assert.Equal("20 runs/min · about 2 min left", cut.Find("[data-testid=langsmith-pace]").TextContent.Trim());
        Assert.Equal("20", cut.Find("[data-testid=langsmith-project-runs]").TextContent.Trim());
        Assert.Equal("20", cut.Find("[data-testid=langsmith-project-today]").TextContent.Trim());
        Assert.Equal("20 runs today", cut.Find("[data-testid=langsmith-today]").TextContent.Trim());

        // Paused, the page says so beside the pace; the next day (UTC) nothing is imported yet, the total stays.
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-pause]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Equal("20 runs/min · about 2 min left · paused", cut.Find("[data-testid=langsmith-pace]").TextContent.Trim()));
        _clock.SetUtcNow(midnight.AddMinutes(5));
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-refresh]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Equal("0", cut.Find("[data-testid=langsmith-project-today]").TextContent.Trim()));
        Assert.Equal("20", cut.Find("[data-testid=langsmith-project-runs]").TextContent.Trim());
        Assert.Equal("0 runs today", cut.Find("[data-testid=langsmith-today]").TextContent.Trim());

        // Resumed and finished: the rest counts for the new day, and an in-sync project shows no pace.
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-pause]").ClickAsync(new()));
        await Services.GetRequiredService<LangSmithSync>().SyncOneAsync(team.Id, connection.Id, CancellationToken.None);
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-refresh]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Equal("In sync", cut.Find("[data-testid=langsmith-status]").TextContent.Trim()));
        Assert.Equal("40", cut.Find("[data-testid=langsmith-project-today]").TextContent.Trim());
        Assert.Equal("60", cut.Find("[data-testid=langsmith-project-runs]").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid=langsmith-pace]"));
    }

    [Fact]
    public async Task AWrongKeyOrAnUnknownProject_IsShownOnItsField()
    {
        _langSmith.AddProject("known", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var (cut, _) = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=langsmith-empty]")));
        Type(cut, "langsmith-api-url", _langSmith.ApiUrl);
        Type(cut, "langsmith-api-key", "lsv2_wrong_0000");
        Type(cut, "langsmith-projects", "known");
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-add]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("401 (the API key is invalid or expired)", cut.Markup, StringComparison.Ordinal));

        Type(cut, "langsmith-api-key", FakeLangSmithServer.Key);
        Type(cut, "langsmith-projects", "nope");
        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-add]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("LangSmith lists no project named 'nope'", cut.Markup, StringComparison.Ordinal));
        Assert.NotEmpty(cut.FindAll("[data-testid=langsmith-empty]"));
    }

    [Fact]
    public async Task AFailedFeedback_IsCountedWithItsReason_AndRedeliverQueuesItAgain()
    {
        var project = _langSmith.AddProject("reviews-back", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        _langSmith.AddRuns(project, FakeLangSmithServer.Trace(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), 1));
        var (cut, team) = await RenderAsync(TeamRole.Admin);
        var connections = Services.GetRequiredService<LangSmithConnections>();
        var connection = await connections.CreateAsync(new LangSmithConnectionInput(
            _langSmith.ApiUrl, FakeLangSmithServer.Key, null, [new LangSmithProjectInput(null, "reviews-back", null)], null, null, null));
        await Services.GetRequiredService<LangSmithSync>().SyncOneAsync(team.Id, connection.Id, CancellationToken.None);
        var factory = Services.GetRequiredService<EvalPlatform.Core.Data.IEvalDbContextFactory>();
        Guid traceId;
        await using (var db = await factory.CreateAsync())
        {
            traceId = (await db.Traces.SingleAsync()).Id;
        }

        // An accepted review queues its feedback; LangSmith refused it for good (as the deliverer records a permanent refusal).
        await Services.GetRequiredService<EvalPlatform.Core.Reviews.ReviewService>().ReviewAsync(traceId, new EvalPlatform.Core.Reviews.ReviewCommand { Action = EvalPlatform.Core.Reviews.ReviewAction.Accept });
        await using (var db = await factory.CreateAsync())
        {
            await db.LangSmithFeedbackLinks.ExecuteUpdateAsync(u => u.SetProperty(l => l.Status, LangSmithFeedbackStatus.Failed).SetProperty(l => l.LastError, "LangSmith answered 422: run not found"));
            await db.NotificationDeliveries.ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, EvalPlatform.Core.Notifications.DeliveryStatus.Failed));
        }

        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-refresh]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("0 sent · 0 queued · 1 failed", Squash(cut.Find("[data-testid=langsmith-feedback]").TextContent), StringComparison.Ordinal));
        Assert.Contains("run not found", cut.Find("[data-testid=langsmith-feedback-failures]").TextContent, StringComparison.Ordinal);

        await cut.InvokeAsync(() => cut.Find("[data-testid=langsmith-redeliver]").ClickAsync(new()));
        cut.WaitForAssertion(() => Assert.Contains("0 sent · 1 queued · 0 failed", Squash(cut.Find("[data-testid=langsmith-feedback]").TextContent), StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=langsmith-redeliver]"));
        await using (var db = await factory.CreateAsync())
        {
            var rows = await db.NotificationDeliveries.ToListAsync();
            Assert.Equal(2, rows.Count);
            Assert.Single(rows.Select(r => r.EventId).Distinct());
            Assert.Single(rows, r => r.Status == EvalPlatform.Core.Notifications.DeliveryStatus.Pending);
        }
    }

    private static string Squash(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    [Fact]
    public async Task AReviewer_IsToldTheyMayNotManageIt()
    {
        var (cut, _) = await RenderAsync(TeamRole.Reviewer);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=langsmith-not-allowed]")));
        Assert.Empty(cut.FindAll("[data-testid=langsmith-add]"));
    }
}
