using Bunit;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Batches;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Shared;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Evaluators;

/// <summary>
/// <see cref="BatchRunProgress"/> on the real batch-run services (SQLite, no job runtime: the test runs the executor, the
/// job's one call): it shows a queued run with Cancel, follows the run to its end, and cancels.
/// </summary>
public sealed class BatchRunProgressTests : BunitTestBase
{
    public BatchRunProgressTests()
    {
        Services.AddSingleton(new BatchProbe());
        Services.AddScoped<IBatchRunHandler, CountingBatchHandler>();
    }

    private async Task<(TestTeam Team, Guid RunId)> StartAsync(int items)
    {
        var team = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var runId = await Services.GetRequiredService<BatchRuns>().StartAsync(new BatchRunStart(CountingBatchHandler.TestKind, "Counting", CountingBatchHandler.PayloadOf(items, 3), items));
        return (team, runId);
    }

    private IRenderedComponent<TestHost> Render(TestTeam team, Guid runId) =>
        Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam(team.OwnerId, team.OwnerEmail, new Membership(team.Id, team.Name, TeamRole.Owner, null), []))
            .AddChildContent<BatchRunProgress>(c => c.Add(x => x.RunId, runId).Add(x => x.CanCancel, true)));

    [Fact]
    public async Task Follows_TheRunToItsEnd_WithCountsAndAnAccessibleBar()
    {
        var (team, runId) = await StartAsync(items: 7);
        var cut = Render(team, runId);
        cut.WaitForAssertion(() => Assert.Equal("queued", cut.Find("[data-testid=batch-run-progress]").GetAttribute("data-status")));
        Assert.NotNull(cut.Find("[data-testid=batch-run-cancel]"));

        Assert.Equal(BatchRunOutcome.Completed, await Services.GetRequiredService<BatchRunExecutor>().RunAsync(team.Id, runId, default));

        cut.WaitForAssertion(() => Assert.Equal("completed", cut.Find("[data-testid=batch-run-progress]").GetAttribute("data-status")), TimeSpan.FromSeconds(10));
        Assert.Contains("7 done · 0 failed · of 7", cut.Find("[data-testid=batch-run-counts]").TextContent, StringComparison.Ordinal);
        Assert.Equal("Progress of Counting", cut.Find("[role=progressbar]").GetAttribute("aria-label"));
        Assert.Empty(cut.FindAll("[data-testid=batch-run-cancel]"));
    }

    [Fact]
    public async Task Cancel_OfAQueuedRun_ShowsItCancelled_AndTheExecutorThenSkipsIt()
    {
        var (team, runId) = await StartAsync(items: 4);
        var cut = Render(team, runId);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=batch-run-cancel]")));

        await cut.Find("[data-testid=batch-run-cancel]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal("cancelled", cut.Find("[data-testid=batch-run-progress]").GetAttribute("data-status")));
        Assert.Equal(BatchRunOutcome.Skipped, await Services.GetRequiredService<BatchRunExecutor>().RunAsync(team.Id, runId, default));
        Assert.Empty(Services.GetRequiredService<BatchProbe>().ItemsOf(runId));
    }

    [Fact]
    public async Task AnotherTeamsRun_IsNotShown()
    {
        var (team, runId) = await StartAsync(items: 2);
        var other = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(other.Id, other.OwnerId, TeamRole.Owner);
        var cut = Render(other, runId);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=batch-run-error]")));
        Assert.DoesNotContain("Counting", cut.Markup, StringComparison.Ordinal);
        Assert.NotEqual(team.Id, other.Id);
    }
}
