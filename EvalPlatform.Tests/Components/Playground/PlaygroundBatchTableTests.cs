using Bunit;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Playground;
using EvalPlatform.Web.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Playground;

/// <summary>
/// <see cref="PlaygroundBatchTable"/> on the real services (SQLite): each original trace beside each configuration's answer
/// with its figures or its error, text shown as text (never markup), long answers clipped with "Show all", paging, the
/// empty state, and another team's batch not found.
/// </summary>
public sealed class PlaygroundBatchTableTests : BunitTestBase
{
    public PlaygroundBatchTableTests()
    {
        // The table reads through PlaygroundBatchService, which is built with the playground's model clients.
        Services.AddEvalProviderClients();
        Services.AddHybridCache();
    }

    private sealed record Seeded(TestTeam Team, Guid RunId, List<Guid> Traces);

    private async Task<Seeded> SeedAsync(int traces, bool withResults = true)
    {
        var team = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var now = TimeProvider.System.GetUtcNow();
        await using var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < traces; i++)
        {
            var trace = new Core.Traces.Trace
            {
                Id = Uuid7.Create(now), TeamId = team.Id, Name = $"trace {i}", InputPreview = $"question {i}", OutputPreview = $"original {i}",
                StartedAt = now, CreatedAt = now,
            };
            trace.SortKey = Core.Traces.Trace.MakeSortKey(now, trace.Id);
            db.Traces.Add(trace);
            ids.Add(trace.Id);
        }

        var run = new BatchRun
        {
            Id = Uuid7.Create(now), TeamId = team.Id, Kind = PlaygroundBatchHandler.BatchKind, Title = "Prompt on queue q", Status = BatchRunStatus.Completed,
            CreatedAt = now, Total = traces * 2,
            Payload = PlaygroundBatchHandler.Write(new PlaygroundBatchHandler.Payload(new PlaygroundPrompt(null, [new PlaygroundMessage("user", "{{input}}")]),
                [new PlaygroundConfig(Guid.NewGuid(), "gpt-4o-mini"), new PlaygroundConfig(Guid.NewGuid(), "claude-sonnet-4")], ids)),
        };
        db.BatchRuns.Add(run);
        for (var i = 0; withResults && i < traces; i++)
        {
            db.PlaygroundBatchResults.Add(new PlaygroundBatchResult
            {
                Id = Uuid7.Create(now), TeamId = team.Id, BatchRunId = run.Id, TraceId = ids[i], Position = i, Configuration = 0, Model = "gpt-4o-mini",
                Text = i == 0 ? "<b>bold?</b> " + new string('x', 400) : $"answer {i}", InputTokens = 12, OutputTokens = 34, Cost = 0.0015m, LatencyMs = 1250, CreatedAt = now,
            });
            db.PlaygroundBatchResults.Add(new PlaygroundBatchResult
            {
                Id = Uuid7.Create(now), TeamId = team.Id, BatchRunId = run.Id, TraceId = ids[i], Position = i, Configuration = 1, Model = "claude-sonnet-4",
                Text = "", Error = "Upstream exploded.", ErrorStatus = 500, LatencyMs = 80, CreatedAt = now,
            });
        }

        await db.SaveChangesAsync();
        return new Seeded(team, run.Id, ids);
    }

    private IRenderedComponent<TestHost> Render(TestTeam team, Guid runId) =>
        Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam(team.OwnerId, team.OwnerEmail, new Membership(team.Id, team.Name, TeamRole.Owner, null), []))
            .AddChildContent<PlaygroundBatchTable>(c => c.Add(x => x.RunId, runId)));

    [Fact]
    public async Task Shows_EachOriginalBesideEachConfiguration_WithFiguresErrorsAndLinks_TextAsText()
    {
        var s = await SeedAsync(traces: 2);

        var cut = Render(s.Team, s.RunId);
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=batch-table-rows] tbody tr").Count));

        var headers = cut.FindAll("th").Select(h => h.TextContent.Trim()).ToList();
        Assert.Equal(["Original trace", "Original answer", "1. gpt-4o-mini", "2. claude-sonnet-4"], headers);
        var first = cut.FindAll("[data-testid=batch-table-rows] tbody tr")[0];
        Assert.Equal($"/traces/{s.Traces[0]}", first.QuerySelector("[data-testid=batch-original-link]")!.GetAttribute("href"));
        Assert.Contains("question 0", first.QuerySelector("[data-testid=batch-original]")!.TextContent, StringComparison.Ordinal);
        Assert.Equal("original 0", first.QuerySelector("[data-testid=batch-original-answer] [data-testid=batch-text]")!.TextContent);
        var cells = first.QuerySelectorAll("[data-testid=batch-result]");
        // The answer's markup is text: no <b> element is made from it.
        Assert.StartsWith("<b>bold?</b> xxx", cells[0].QuerySelector("[data-testid=batch-text]")!.TextContent, StringComparison.Ordinal);
        Assert.Null(cells[0].QuerySelector("b"));
        Assert.Contains("12 in · 34 out", cells[0].QuerySelector("[data-testid=batch-result-figures]")!.TextContent, StringComparison.Ordinal);
        Assert.Contains("$0.001500", cells[0].TextContent, StringComparison.Ordinal);
        Assert.Contains("1.25 s", cells[0].TextContent, StringComparison.Ordinal);
        Assert.Equal("500: Upstream exploded.", cells[1].QuerySelector("[data-testid=batch-result-error]")!.TextContent.Trim());
    }

    [Fact]
    public async Task ALongAnswer_IsClipped_AndShowAllReadsItWhole()
    {
        var s = await SeedAsync(traces: 1);
        var cut = Render(s.Team, s.RunId);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=batch-text-toggle]")));

        var text = () => cut.FindAll("[data-testid=batch-result] [data-testid=batch-text]")[0].TextContent;
        Assert.Equal(PlaygroundBatchTable.PreviewLength + 1, text().Length);
        Assert.EndsWith("…", text(), StringComparison.Ordinal);
        var toggle = cut.Find("[data-testid=batch-text-toggle]");
        Assert.Equal("false", toggle.GetAttribute("aria-expanded"));

        await toggle.ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal(13 + 400, text().Length));
        Assert.Equal("true", cut.Find("[data-testid=batch-text-toggle]").GetAttribute("aria-expanded"));
    }

    [Fact]
    public async Task ManyTraces_ArePaged_ShowMoreReadsTheNext()
    {
        var s = await SeedAsync(traces: PlaygroundBatchTable.PageSize + 3);
        var cut = Render(s.Team, s.RunId);
        cut.WaitForAssertion(() => Assert.Equal(PlaygroundBatchTable.PageSize, cut.FindAll("[data-testid=batch-table-rows] tbody tr").Count));

        await cut.Find("[data-testid=batch-table-more]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal(PlaygroundBatchTable.PageSize + 3, cut.FindAll("[data-testid=batch-table-rows] tbody tr").Count));
        Assert.Empty(cut.FindAll("[data-testid=batch-table-more]"));
    }

    [Fact]
    public async Task ABatchWithoutResults_ShowsTheEmptyState()
    {
        var empty = await SeedAsync(traces: 1, withResults: false);
        var cut = Render(empty.Team, empty.RunId);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=batch-table-empty]")));
        Assert.Empty(cut.FindAll("[data-testid=batch-table-error]"));
    }

    [Fact]
    public async Task AnotherTeamsBatch_IsNotFound()
    {
        var empty = await SeedAsync(traces: 1);
        var other = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(other.Id, other.OwnerId, TeamRole.Owner);
        var foreign = Render(other, empty.RunId);
        foreign.WaitForAssertion(() => Assert.Contains("does not exist", foreign.Find("[data-testid=batch-table-error]").TextContent, StringComparison.Ordinal));
    }
}
