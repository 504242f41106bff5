using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Traces;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Traces;

/// <summary>The trace list on real services: filters from and to the URL, and live arrivals.</summary>
public sealed class TracesPageTests : BunitTestBase
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

    private async Task IngestAsync(object trace)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(trace);
        var outcome = await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json);
        Assert.True(outcome.Items[0].IsStored);
    }

    [Fact]
    public async Task ANewTrace_AppearsOnTop_WithoutAReload()
    {
        await IngestAsync(new { user_input = "older question" });
        var cut = Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<TracesPage>());
        cut.WaitForAssertion(() => Assert.Contains("older question", cut.Markup, StringComparison.Ordinal));

        await IngestAsync(new { user_input = "brand new question" });

        cut.WaitForAssertion(() =>
        {
            var rows = cut.FindAll("tr.trace-row").Select(r => r.TextContent).ToList();
            Assert.Equal(2, rows.Count);
            Assert.Contains("brand new question", rows[0], StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ABurstOfTraces_AllAppear_NoneLostWhileARefreshIsRunning()
    {
        await IngestAsync(new { user_input = "first" });
        var cut = Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<TracesPage>());
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tr.trace-row")));

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => IngestAsync(new { user_input = $"burst {i}" })));

        cut.WaitForAssertion(() => Assert.Equal(13, cut.FindAll("tr.trace-row").Count), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task FiltersComeFromTheUrl_AndChangesGoBackToIt()
    {
        await IngestAsync(new { user_input = "about refunds", model = "gpt-4o", tags = new[] { "billing" } });
        await IngestAsync(new { user_input = "about shipping", model = "claude-sonnet-4" });
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("/traces?model=gpt-4o");

        var cut = Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<TracesPage>());

        cut.WaitForAssertion(() => Assert.Contains("about refunds", cut.Markup, StringComparison.Ordinal));
        Assert.DoesNotContain("about shipping", cut.Markup, StringComparison.Ordinal);
        Assert.Equal("gpt-4o", cut.Find("input[data-testid=filter-model], [data-testid=filter-model] input").GetAttribute("value"));

        // Search applies as you type (debounced, issue 13): an input event, no change (Enter or blur) needed.
        await cut.Find("input[data-testid=filter-search], [data-testid=filter-search] input").InputAsync(new() { Value = "refund" });

        cut.WaitForAssertion(() => Assert.EndsWith("/traces?model=gpt-4o&search=refund", navigation.Uri, StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tr.trace-row")));
    }

    [Fact]
    public async Task TheExportMenu_DownloadsWhatTheListShows_ForThisTeam()
    {
        await IngestAsync(new { user_input = "about refunds", model = "gpt-4o" });
        Services.GetRequiredService<NavigationManager>().NavigateTo("/traces?model=gpt-4o");
        var cut = Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<TracesPage>());
        cut.WaitForAssertion(() => Assert.Contains("about refunds", cut.Markup, StringComparison.Ordinal));

        await cut.Find("[data-testid=export-menu] button").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal(
            $"/traces/export?model=gpt-4o&team={_team.Id}&format=csv",
            cut.Find("[data-testid=export-csv]").GetAttribute("href")));
        Assert.EndsWith("&format=jsonl", cut.Find("[data-testid=export-jsonl]").GetAttribute("href"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NothingMatching_SaysSo_AndAnEmptyTeam_GetsTheFirstTraceCommand()
    {
        var navigation = Services.GetRequiredService<NavigationManager>();
        var cut = Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<TracesPage>());
        cut.WaitForAssertion(() => Assert.Contains("api/v1/traces", cut.Find("[data-testid=first-trace-command]").TextContent, StringComparison.Ordinal));

        navigation.NavigateTo("/traces?model=nothing-like-this");

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=traces-none-match]")));
        await Task.CompletedTask;
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
    }
}
