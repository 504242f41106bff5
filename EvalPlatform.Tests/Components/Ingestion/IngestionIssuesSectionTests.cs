using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Ingestion;

/// <summary>Settings → Ingestion's issue log on real services: empty state, rows with their fields, filters in the address, Load more.</summary>
public sealed class IngestionIssuesSectionTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private TestTeam _team = default!;
    private CurrentTeam _current = default!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _team = await TestData.CreateTeamAsync(Services);
        _current = new CurrentTeam(_team.OwnerId, _team.OwnerEmail, new Membership(_team.Id, _team.Name, TeamRole.Owner, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
    }

    private void Record(IngestionDoor door, params IngestionIssueReport[] issues) =>
        Services.GetRequiredService<IIngestionIssueLog>().Record(_team.Id, door, issues);

    private static IngestionIssueReport Refused(string trace, string span) =>
        new(IngestionIssueKind.Refused, "end_time", "end_time is 5 s before start_time; a larger gap is refused.", trace, span);

    private static IngestionIssueReport Adjusted(string trace, string span) =>
        new(IngestionIssueKind.Adjusted, "end_time", "end_time was 0.5 ms before start_time; stored as a zero-length span.", trace, span);

    private IRenderedComponent<TestHost> RenderPage(string address = "/settings/ingestion")
    {
        Services.GetRequiredService<NavigationManager>().NavigateTo(address);
        return Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<IngestionPage>());
    }

    /// <summary>Text as a person reads it: runs of white space as one space.</summary>
    private static string Text(string value) => System.Text.RegularExpressions.Regex.Replace(value, @"\s+", " ");

    private static List<string> Rows(IRenderedComponent<TestHost> cut) =>
        cut.FindAll("[data-testid=issues-table] tbody tr").Select(r => r.TextContent).ToList();

    [Fact]
    public void NothingLogged_ShowsTheEmptyState_AndZeroTotals()
    {
        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=issues-empty]")));
        Assert.Contains("Nothing was refused or adjusted in the last 7 days", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("0 refused, 0 adjusted", Text(cut.Find("[data-testid=issues-summary]").TextContent), StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=issues-table]"));
        Assert.Empty(cut.FindAll("[data-testid=issues-load-more]"));
    }

    [Fact]
    public void Rows_ShowDoorKindTraceRunFieldReasonAndCount_AndTheTotals()
    {
        Record(IngestionDoor.LangSmith, Refused("trace-1", "run-bad"), Refused("trace-1", "run-bad"));
        Record(IngestionDoor.Otlp, Adjusted("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"));

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(2, Rows(cut).Count));
        var refused = Assert.Single(Rows(cut), r => r.Contains("run-bad", StringComparison.Ordinal));
        foreach (var part in new[] { "LangSmith", "refused", "trace-1", "end_time", "5 s before start_time" })
        {
            Assert.Contains(part, refused, StringComparison.Ordinal);
        }

        Assert.Equal(["2", "1"], cut.FindAll("[data-testid=issue-count]").Select(c => c.TextContent.Trim()).Order().Reverse().ToArray());
        var adjusted = Assert.Single(Rows(cut), r => r.Contains("adjusted", StringComparison.Ordinal));
        Assert.Contains("OTLP", adjusted, StringComparison.Ordinal);
        Assert.Contains("00f067aa0ba902b7", adjusted, StringComparison.Ordinal);
        var summary = Text(cut.Find("[data-testid=issues-summary]").TextContent);
        Assert.Contains("2 refused", summary, StringComparison.Ordinal);
        Assert.Contains("1 adjusted", summary, StringComparison.Ordinal);
        Assert.Contains("LangSmith: 2 refused", cut.Find("[data-testid=summary-langsmith]").TextContent, StringComparison.Ordinal);
        // No such trace is stored: the id is shown, not linked.
        Assert.Empty(cut.FindAll("[data-testid=issue-trace-link]"));
    }

    [Fact]
    public async Task AStoredTrace_IsLinked()
    {
        await using (var scope = Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
            var json = System.Text.Json.JsonSerializer.SerializeToElement(new { external_id = "stored-trace", user_input = "hi" });
            Assert.True((await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json)).Items[0].IsStored);
        }

        Record(IngestionDoor.Batch, Adjusted("stored-trace", "s1"));
        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.StartsWith("/traces/", cut.Find("[data-testid=issue-trace-link]").GetAttribute("href"), StringComparison.Ordinal));
        Assert.Contains("stored-trace", cut.Find("[data-testid=issue-trace-link]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FiltersComeFromTheAddress_AndChangesGoBackToIt()
    {
        Record(IngestionDoor.LangSmith, Refused("trace-1", "run-bad"), Adjusted("trace-1", "run-skew"));
        Record(IngestionDoor.Batch, Refused("trace-2", "s1"));
        var navigation = Services.GetRequiredService<NavigationManager>();

        var cut = RenderPage("/settings/ingestion?kind=refused");

        cut.WaitForAssertion(() => Assert.Equal(2, Rows(cut).Count));
        Assert.All(Rows(cut), r => Assert.Contains("refused", r, StringComparison.Ordinal));

        await cut.Find("input[data-testid=filter-trace], [data-testid=filter-trace] input").ChangeAsync(new() { Value = "trace-1" });

        Assert.EndsWith("/settings/ingestion?kind=refused&trace_id=trace-1", navigation.Uri, StringComparison.Ordinal);
        cut.WaitForAssertion(() => Assert.Contains("run-bad", Assert.Single(Rows(cut)), StringComparison.Ordinal));

        navigation.NavigateTo("/settings/ingestion?door=otlp");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=issues-none-match]")));
        // The totals stay the team's whole week, whatever the filter.
        Assert.Contains("2 refused", Text(cut.Find("[data-testid=issues-summary]").TextContent), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadMore_AppendsTheNextPage_AndGoesAwayAtTheEnd()
    {
        var total = IngestionIssueQueries.DefaultPageSize + 7;
        Record(IngestionDoor.Batch, Enumerable.Range(0, total).Select(i => Refused($"trace-{i:D3}", "s1")).ToArray());

        var cut = RenderPage();
        cut.WaitForAssertion(() => Assert.Equal(IngestionIssueQueries.DefaultPageSize, Rows(cut).Count));

        await cut.Find("[data-testid=issues-load-more]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal(total, Rows(cut).Count));
        Assert.Empty(cut.FindAll("[data-testid=issues-load-more]"));
        Assert.Equal(total, Rows(cut).Select(r => r[r.IndexOf("trace-", StringComparison.Ordinal)..][..9]).Distinct().Count());
    }

    [Fact]
    public async Task Refresh_ShowsWhatArrivedSince()
    {
        var cut = RenderPage();
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=issues-empty]")));

        Record(IngestionDoor.Webhook, Refused("wh-1", "e1"));
        await cut.Find("[data-testid=issues-refresh]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("wh-1", Assert.Single(Rows(cut)), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AViewer_SeesTheLog()
    {
        Record(IngestionDoor.Api, Refused("t-viewer", "s"));
        var (userId, email) = await TestData.CreateMemberAsync(Services, _team.Id, TeamRole.Viewer);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, userId, TeamRole.Viewer);
        _current = new CurrentTeam(userId, email, new Membership(_team.Id, _team.Name, TeamRole.Viewer, null), []);

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Contains("t-viewer", Assert.Single(Rows(cut)), StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=issues-not-allowed]"));
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
    }
}
