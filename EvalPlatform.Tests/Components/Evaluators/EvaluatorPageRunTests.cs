using Bunit;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Evaluators;
using EvalPlatform.Web.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Evaluators;

/// <summary>
/// /evaluators/{id} starting the evaluator's batch from the page (the service the API uses): on a review queue picked from
/// the list, and on its own filter's traces; a filter that matches nothing is shown as the run's error.
/// </summary>
public sealed class EvaluatorPageRunTests : BunitTestBase
{
    public EvaluatorPageRunTests()
    {
        Services.AddEvalProviderClients();
        Services.AddHybridCache();
        Services.Configure<OutboundOptions>(o => o.AllowPrivateTargets = true);
    }

    private async Task<(TestTeam Team, Guid EvaluatorId, IRenderedComponent<TestHost> Cut)> RenderAsync(string filterModel)
    {
        var team = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var now = TimeProvider.System.GetUtcNow();
        var evaluatorId = Uuid7.Create(now);
        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            var connection = new ProviderConnection
            {
                Id = Uuid7.Create(now), TeamId = team.Id, Kind = ProviderKind.OpenAi, Name = "judge", BaseUrl = "http://127.0.0.1:9/v1",
                ProtectedApiKey = Services.GetRequiredService<IProviderKeyProtector>().Protect(team.Id, "sk-test-0000"), KeyHint = "0000", CreatedAt = now,
            };
            db.ProviderConnections.Add(connection);
            var trace = new Trace { Id = Uuid7.Create(now), TeamId = team.Id, Name = "t", Model = "gpt-4o", InputPreview = "q", OutputPreview = "a", StartedAt = now, CreatedAt = now };
            trace.SortKey = Trace.MakeSortKey(now, trace.Id);
            db.Traces.Add(trace);
            db.Evaluators.Add(new Evaluator
            {
                Id = evaluatorId, TeamId = team.Id, Name = "correctness", ConnectionId = connection.Id, Model = "gpt-4o-mini", Prompt = "Grade {{output}}",
                FilterJson = QueueFilterJson.Write(new TraceFilter(Model: filterModel)), CreatedAt = now, UpdatedAt = now, Watermark = now,
            });
            await db.SaveChangesAsync();
        }

        await Services.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("gpt queue", new TraceFilter(Model: "gpt-4o")));
        var current = new CurrentTeam(team.OwnerId, team.OwnerEmail, new Membership(team.Id, team.Name, TeamRole.Owner, null), []);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<EvaluatorPage>(c => c.Add(x => x.Id, evaluatorId)));
        return (team, evaluatorId, cut);
    }

    private async Task<List<BatchRun>> RunsAsync(Guid evaluatorId) =>
        (await Services.GetRequiredService<BatchRuns>().ListAsync(EvaluatorBatchHandler.BatchKind, evaluatorId)).ToList();

    [Fact]
    public async Task RunOnTheQueue_StartsTheEvaluatorsBatchOverTheQueue_AndShowsItsProgress()
    {
        var (_, evaluatorId, cut) = await RenderAsync(filterModel: "gpt-4o");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluator-run-on-queue]")));
        Assert.Contains("gpt queue", cut.Find("[data-testid=evaluator-run-queue]").OuterHtml, StringComparison.Ordinal);

        await cut.Find("[data-testid=evaluator-run-on-queue]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=batch-run-progress]")));
        var run = Assert.Single(await RunsAsync(evaluatorId));
        Assert.Equal(("correctness on queue gpt queue", 1), (run.Title, run.Total));
        Assert.Empty(cut.FindAll("[data-testid=evaluator-run-error]"));
    }

    [Fact]
    public async Task RunOnItsFilter_StartsABatchOverTheFiltersTraces()
    {
        var (_, evaluatorId, cut) = await RenderAsync(filterModel: "gpt-4o");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluator-run-on-filter]")));

        await cut.Find("[data-testid=evaluator-run-on-filter]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=batch-run-progress]")));
        Assert.Equal("correctness on 1 trace of a filter", Assert.Single(await RunsAsync(evaluatorId)).Title);
    }

    [Fact]
    public async Task RunOnItsFilter_MatchingNothing_ShowsWhy_AndStartsNothing()
    {
        var (_, otherId, other) = await RenderAsync(filterModel: "no-such-model");
        other.WaitForAssertion(() => Assert.NotNull(other.Find("[data-testid=evaluator-run-on-filter]")));
        await other.Find("[data-testid=evaluator-run-on-filter]").ClickAsync(new());
        other.WaitForAssertion(() => Assert.Contains("No trace matches", other.Find("[data-testid=evaluator-run-error]").TextContent, StringComparison.Ordinal));
        Assert.Empty(await RunsAsync(otherId));
    }
}
