using Bunit;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Jobs;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using EvalPlatform.Web.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Quartz;

namespace EvalPlatform.Tests.Components.Jobs;

/// <summary>
/// Settings → Jobs on the real job runtime: Quartz in memory (as on the embedded default) with the platform's job table and
/// run log on SQLite; the rollup is one whose failures the test decides.
/// </summary>
public abstract class JobsPageTestBase : BunitTestBase
{
    private readonly bool _jobsEnabled;

    protected JobsPageTestBase(bool jobsEnabled, JobTable? table = null)
    {
        _jobsEnabled = jobsEnabled;
        if (table is not null)
        {
            Services.AddSingleton(table);
        }

        Services.RemoveAll<IMetricsRollup>();
        Services.AddSingleton<IMetricsRollup>(Rollup);
        Services.AddEvalJobs(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jobs:Enabled"] = jobsEnabled ? "true" : "false",
            ["Jobs:SchedulerName"] = $"bunit-{Guid.NewGuid():N}",
        }).Build());
    }

    protected ControlledRollup Rollup { get; } = new() { FailWith = "the metrics store is unreachable" };

    protected IScheduler? Scheduler { get; private set; }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        if (_jobsEnabled)
        {
            Scheduler = await Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
            await Scheduler.Start();
        }
    }

    protected async Task<IRenderedComponent<TestHost>> RenderAsync(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var team = new CurrentTeam(owner.OwnerId, owner.OwnerEmail, new Membership(owner.Id, owner.Name, role, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, role);
        return Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<JobsPage>());
    }

    /// <summary>Shuts the scheduler down, as on a node that is stopping.</summary>
    protected async Task StopSchedulerAsync()
    {
        if (Scheduler is not null)
        {
            await Scheduler.Shutdown(waitForJobsToComplete: true);
            Scheduler = null;
        }
    }

    protected override Task CleanupAsync() => StopSchedulerAsync();
}

// The platform's jobs on a schedule that only fires at 03:00 UTC, not beside these tests: a scheduled rollup or the 5-second
// delivery job running beside a test would change the rows it reads ("never run", "next run in …", the last run's kind).
public sealed class JobsPageTests() : JobsPageTestBase(jobsEnabled: true, Table)
{
    private static readonly JobTable Table = new([.. EvalJobs.All.Select(j => j with { Schedule = JobSchedule.Daily(hour: 3, minute: 0) })]);

    [Fact]
    public async Task AnOwner_SeesEveryJob_WithWhatItDoes_ItsSchedule_NextRun_AndThatItHasNotRunYet()
    {
        var cut = await RenderAsync(TeamRole.Owner);

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=jobs-table]")));
        foreach (var job in Table.Jobs)
        {
            var cell = cut.Find($"[data-testid=job-{job.Key}]");
            Assert.Contains(job.Name, cell.TextContent, StringComparison.Ordinal);
            Assert.Contains(job.Description, cell.TextContent, StringComparison.Ordinal);
            Assert.Contains(job.Schedule.Text, cell.ParentElement!.TextContent, StringComparison.Ordinal);
        }

        Assert.Equal(EvalJobs.All.Count, Table.Jobs.Count);
        Assert.Equal(Table.Jobs.Count, cut.FindAll("[data-testid=job-never-run]").Count);
        // A next run is never in the past ("in 5 s", or "now" for the 5-second delivery job when it is due).
        Assert.All(cut.FindAll("[data-testid=job-next-run] time"), t => Assert.DoesNotContain("ago", t.TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=jobs-disabled]"));
    }

    [Fact]
    public async Task RunNow_ShowsTheRequest_ThenTheRunWithoutAReload_AndAFailedRunShowsItsErrorOnDemand()
    {
        var cut = await RenderAsync(TeamRole.Admin);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=jobs-table]")));
        var row = () => cut.Find($"[data-testid=job-{RollupJob.Key}]").ParentElement!;

        await row().QuerySelector("[data-testid=job-run-now]")!.ClickAsync(new());

        // The manual run, not a scheduled one that a minute boundary may fire (and record) meanwhile: wait for both.
        cut.WaitForAssertion(() =>
        {
            Assert.Contains("Failed", row().QuerySelector("[data-testid=job-outcome]")?.TextContent ?? "", StringComparison.Ordinal);
            Assert.Contains("run now", row().QuerySelector("[data-testid=job-last-run]")?.TextContent ?? "", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15));
        Assert.Null(row().QuerySelector("[data-testid=job-queued]"));
        Assert.Null(row().QuerySelector("[data-testid=job-error]"));

        await row().QuerySelector("[data-testid=job-error-toggle]")!.ClickAsync(new());

        Assert.Equal("InvalidOperationException: the metrics store is unreachable", row().QuerySelector("[data-testid=job-error]")!.TextContent);
        Assert.Equal("true", row().QuerySelector("[data-testid=job-error-toggle]")!.GetAttribute("aria-expanded"));
    }

    [Fact]
    public async Task ASucceededRun_ShowsItsOutcomeAndDuration_AndNoErrorButton()
    {
        Rollup.FailWith = null;
        var cut = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=jobs-table]")));
        var row = () => cut.Find($"[data-testid=job-{RollupJob.Key}]").ParentElement!;

        await row().QuerySelector("[data-testid=job-run-now]")!.ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("Succeeded", row().QuerySelector("[data-testid=job-outcome]")?.TextContent ?? "", StringComparison.Ordinal),
            TimeSpan.FromSeconds(15));
        Assert.Matches(@"just now · \d+(\.\d)? (ms|s)", row().QuerySelector("[data-testid=job-last-run]")!.TextContent);
        Assert.Null(row().QuerySelector("[data-testid=job-error-toggle]"));
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    public async Task WithoutAdminOrOwner_TheForbiddenViewIsShown_AndNoJob(TeamRole role)
    {
        var cut = await RenderAsync(role);

        Assert.Contains("403", cut.Find("[data-testid=jobs-forbidden]").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=jobs-table]"));
        Assert.Empty(cut.FindAll("[data-testid=job-run-now]"));
    }

    [Fact]
    public async Task WhenTheSchedulerCannotAnswer_TheErrorIsShown_WithTryAgain()
    {
        // The scheduler is gone (a node shutting down): the page says so instead of showing an empty or stale table.
        await StopSchedulerAsync();
        var cut = await RenderAsync(TeamRole.Owner);

        cut.WaitForAssertion(() => Assert.Contains("Could not load the jobs", cut.Find("[data-testid=jobs-error]").TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=jobs-table]"));
        await cut.Find("[data-testid=jobs-retry]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=jobs-error]")));
    }
}

/// <summary>A node with Jobs:Enabled=false.</summary>
public sealed class JobsPageOffTests() : JobsPageTestBase(jobsEnabled: false)
{
    [Fact]
    public async Task OnANodeWithJobsOff_TheJobsAreListed_ButCannotRunHere()
    {
        var cut = await RenderAsync(TeamRole.Owner);

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=jobs-disabled]")));
        Assert.All(cut.FindAll("[data-testid=job-run-now]"), b => Assert.True(b.HasAttribute("disabled")));
        Assert.All(cut.FindAll("[data-testid=job-next-run]"), c => Assert.Equal("—", c.TextContent.Trim()));
    }
}

public sealed class JobsPageEmptyTests() : JobsPageTestBase(jobsEnabled: false, table: new JobTable([]))
{
    [Fact]
    public async Task AnEmptyJobTable_SaysSo()
    {
        var cut = await RenderAsync(TeamRole.Owner);

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=jobs-empty]")));
        Assert.Empty(cut.FindAll("[data-testid=jobs-table]"));
    }
}
