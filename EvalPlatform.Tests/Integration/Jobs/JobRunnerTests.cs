using System.Net;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace EvalPlatform.Tests.Integration.Jobs;

/// <summary>The job runtime on each database: run now, the run log (success and failure with the error), the list, permissions.</summary>
public abstract class JobRunnerTests(RollupAppFactory app)
{
    [Fact]
    public async Task RunNow_RunsTheRollup_AndTheRunLogRecordsItsSuccess()
    {
        var before = app.Rollup.Calls;
        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(RollupJob.Key);

        var runs = await JobRuns.WaitForAsync(app.Services, RollupJob.Key, r => r.Any(x => x.Manual && x.Outcome == JobOutcome.Succeeded));
        var run = runs.Last(r => r.Manual);
        Assert.True(app.Rollup.Calls > before);
        var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        Assert.Equal(scheduler.SchedulerInstanceId, run.Instance);
        Assert.Null(run.Error);
        Assert.InRange(run.DurationMs, 0, 30_000);
        Assert.True(run.ScheduledAt <= run.StartedAt);
    }

    [Fact]
    public async Task AFailingRun_IsRecordedWithItsError_AndTheNextRunSucceeds()
    {
        var message = $"rollup broke {Guid.NewGuid():N}";
        app.Rollup.FailWith = message;
        var runner = app.Services.GetRequiredService<IJobRunner>();
        try
        {
            await runner.RunNowAsync(RollupJob.Key);
            var failed = (await JobRuns.WaitForAsync(app.Services, RollupJob.Key, r => r.Any(x => x.Error?.Contains(message, StringComparison.Ordinal) == true)))
                .Single(x => x.Error?.Contains(message, StringComparison.Ordinal) == true);
            Assert.Equal(JobOutcome.Failed, failed.Outcome);
            Assert.True(failed.Manual);
            Assert.Equal($"InvalidOperationException: {message}", failed.Error);
        }
        finally
        {
            app.Rollup.FailWith = null;
        }

        var succeededBefore = (await JobRuns.OfAsync(app.Services, RollupJob.Key)).Count(r => r.Manual && r.Outcome == JobOutcome.Succeeded);
        await runner.RunNowAsync(RollupJob.Key);
        await JobRuns.WaitForAsync(app.Services, RollupJob.Key, r => r.Count(x => x.Manual && x.Outcome == JobOutcome.Succeeded) > succeededBefore);
    }

    [Fact]
    public async Task RunNow_OfAJobTheTableDoesNotHave_IsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(() => app.Services.GetRequiredService<IJobRunner>().RunNowAsync("no-such-job"));
    }

    [Fact]
    public async Task TheJobList_HasEveryJobOfTheTable_WithItsScheduleAndNextRun_ForAdminsOnly()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Admin);
            var jobs = await scope.ServiceProvider.GetRequiredService<JobService>().ListAsync();
            Assert.Equal(EvalJobs.All.Select(j => j.Key), jobs.Select(j => j.Job.Key));
            Assert.All(jobs, j => Assert.NotNull(j.Job.NextRunAt));
            Assert.Equal("Every minute", jobs.Single(j => j.Job.Key == RollupJob.Key).Job.Schedule);
        }

        foreach (var role in new[] { TeamRole.Viewer, TeamRole.Reviewer })
        {
            await using var scope = app.Services.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, role);
            var service = scope.ServiceProvider.GetRequiredService<JobService>();
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.ListAsync());
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.RunNowAsync(RollupJob.Key));
        }
    }

    [Fact]
    public async Task ThePurgeJob_DeletesRunsOlderThan14Days_AndKeepsTheRest()
    {
        var now = TimeProvider.System.GetUtcNow();
        var oldKey = $"old-{Guid.NewGuid():N}";
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var log = scope.ServiceProvider.GetRequiredService<JobRunLog>();
            foreach (var age in new[] { TimeSpan.FromDays(20), TimeSpan.FromDays(14) + TimeSpan.FromMinutes(1), TimeSpan.FromDays(13) })
            {
                await log.RecordAsync(new JobRun { Id = Uuid7.Create(now - age), JobKey = oldKey, Instance = "test", ScheduledAt = now - age, StartedAt = now - age });
            }
        }

        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(JobRunPurgeJob.Key);
        await JobRuns.WaitForAsync(app.Services, JobRunPurgeJob.Key, r => r.Any(x => x.Manual && x.Outcome == JobOutcome.Succeeded));

        var left = await JobRuns.OfAsync(app.Services, oldKey);
        Assert.Equal(now - TimeSpan.FromDays(13), Assert.Single(left).StartedAt, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task TheIngestionIssuePurge_RunsAsAJob()
    {
        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(IngestionIssuePurgeJob.Key);
        await JobRuns.WaitForAsync(app.Services, IngestionIssuePurgeJob.Key, r => r.Any(x => x.Manual && x.Outcome == JobOutcome.Succeeded));
    }
}

public sealed class JobRunnerPostgresTests(RollupPostgresAppFactory app) : JobRunnerTests(app), IClassFixture<RollupPostgresAppFactory>
{
    [Fact]
    public async Task OnPostgres_TheStoreIsPersistentAndClustered_UnderTheConfiguredName()
    {
        var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var meta = await scheduler.GetMetadata();
        Assert.True(meta.JobStorePersistent);
        Assert.True(meta.JobStoreClustered);
        Assert.Equal(app.SchedulerName, scheduler.SchedulerName);
    }
}

public sealed class JobRunnerSqliteTests(RollupSqliteAppFactory app) : JobRunnerTests(app), IClassFixture<RollupSqliteAppFactory>
{
    [Fact]
    public async Task TheEmbeddedDefault_UsesTheInMemoryStore()
    {
        var scheduler = await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var meta = await scheduler.GetMetadata();
        Assert.False(meta.JobStorePersistent);
        Assert.Equal(SchedulerStatus.Running, scheduler.Status);
    }
}

/// <summary>A build without a rollup implementation starts, and each rollup run fails with the reason instead of crashing it.</summary>
public sealed class RollupWithoutImplementationTests(NoRollupAppFactory app) : IClassFixture<NoRollupAppFactory>
{
    [Fact]
    public async Task TheRollupRunFails_WithTheReason_AndTheAppKeepsServing()
    {
        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(RollupJob.Key);

        var run = (await JobRuns.WaitForAsync(app.Services, RollupJob.Key, r => r.Any(x => x.Manual))).Single(x => x.Manual);
        Assert.Equal(JobOutcome.Failed, run.Outcome);
        Assert.Contains("No metrics rollup (IMetricsRollup) is registered", run.Error, StringComparison.Ordinal);
        using var http = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(SchedulerStatus.Running, (await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler()).Status);
    }
}
