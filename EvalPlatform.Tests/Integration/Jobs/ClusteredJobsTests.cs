using EvalPlatform.Core.Jobs;
using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Quartz;

namespace EvalPlatform.Tests.Integration.Jobs;

/// <summary>A test job that counts each of its runs into a table of its own: (trigger, node).</summary>
public sealed class CountingJob(DatabaseTarget database) : IJob
{
    public const string Key = "test-counting";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var insert = new NpgsqlCommand("INSERT INTO test_job_counts (trigger_name, instance) VALUES (@t, @i)", connection);
        insert.Parameters.AddWithValue("t", context.Trigger.Key.Name);
        insert.Parameters.AddWithValue("i", context.Scheduler.SchedulerInstanceId);
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Two nodes of one installation (one PostgreSQL database, one scheduler name): each firing runs on exactly one of them.</summary>
public sealed class ClusteredJobsTests(PostgresAppFactory nodeA) : IClassFixture<PostgresAppFactory>
{
    private const int Firings = 24;

    [Fact]
    public async Task EachFiring_RunsOnce_WithTwoNodesOnOneDatabase()
    {
        await using var nodeB = new EvalAppFactory(TestDatabase.Postgres, redis: true, sharedConnectionString: nodeA.ConnectionString, schedulerName: nodeA.SchedulerName);
        await ((IAsyncLifetime)nodeB).InitializeAsync();
        await ExecuteAsync("CREATE TABLE test_job_counts (trigger_name text NOT NULL, instance text NOT NULL)");
        var a = await nodeA.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var b = await nodeB.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        Assert.NotEqual(a.SchedulerInstanceId, b.SchedulerInstanceId);
        await JobRuns.WaitUntilAsync(async () => await ScalarAsync($"SELECT count(*) FROM qrtz_scheduler_state WHERE sched_name = '{nodeA.SchedulerName}'") == 2, "both nodes in the cluster");

        // One job, many one-shot triggers due at the same instant, half scheduled through each node so that both wake up and
        // compete for them: with the cluster's row locks each trigger fires once; without them both nodes would take some.
        await a.AddJob(JobBuilder.Create<CountingJob>().WithIdentity(CountingJob.Key).StoreDurably().Build(), new AddJobOptions { Replace = true });
        var at = TimeProvider.System.GetUtcNow().AddSeconds(2);
        for (var i = 0; i < Firings; i++)
        {
            var trigger = TriggerBuilder.Create().WithIdentity($"count-{i}").ForJob(CountingJob.Key).StartAt(at).Build();
            await (i % 2 == 0 ? a : b).ScheduleJob(trigger);
        }

        await JobRuns.WaitUntilAsync(async () =>
            await ScalarAsync("SELECT count(*) FROM test_job_counts") >= Firings
            && await ScalarAsync($"SELECT count(*) FROM qrtz_triggers WHERE sched_name = '{nodeA.SchedulerName}' AND trigger_name LIKE 'count-%'") == 0
            && await ScalarAsync($"SELECT count(*) FROM qrtz_fired_triggers WHERE sched_name = '{nodeA.SchedulerName}' AND job_name = '{CountingJob.Key}'") == 0,
            "every firing to complete");

        Assert.Equal(Firings, await ScalarAsync("SELECT count(*) FROM test_job_counts"));
        Assert.Equal(Firings, await ScalarAsync("SELECT count(DISTINCT trigger_name) FROM test_job_counts"));
        // The listener logged each run once too, naming the node that ran it (one of the two).
        var runs = await JobRuns.WaitForAsync(nodeA.Services, CountingJob.Key, r => r.Count >= Firings);
        Assert.Equal(Firings, runs.Count);
        Assert.All(runs, r => Assert.Contains(r.Instance, new[] { a.SchedulerInstanceId, b.SchedulerInstanceId }));
        Assert.All(runs, r => Assert.Equal(JobOutcome.Succeeded, r.Outcome));
    }

    [Fact]
    public async Task ARunMissedWhileEveryNodeWasDown_RunsOnceOnRecovery()
    {
        // A node of its own installation on this database (its own scheduler name), stopped as if the cluster went down.
        var name = $"EvalTest-misfire-{Guid.NewGuid():N}";
        var first = new EvalAppFactory(TestDatabase.Postgres, sharedConnectionString: nodeA.ConnectionString, schedulerName: name);
        await ((IAsyncLifetime)first).InitializeAsync();
        await first.DisposeAsync();

        // The daily purge last ran three days ago: two of its 03:15 firings were missed while nobody was up.
        var threeDaysAgo = TimeProvider.System.GetUtcNow().AddDays(-3).UtcTicks;
        await ExecuteAsync($"UPDATE qrtz_triggers SET prev_fire_time = {threeDaysAgo}, next_fire_time = {threeDaysAgo + TimeSpan.TicksPerDay} " +
                           $"WHERE sched_name = '{name}' AND trigger_name = '{JobRunPurgeJob.Key}'");
        var before = (await JobRuns.OfAsync(nodeA.Services, JobRunPurgeJob.Key)).Count;

        await using var second = new EvalAppFactory(TestDatabase.Postgres, sharedConnectionString: nodeA.ConnectionString, schedulerName: name);
        await ((IAsyncLifetime)second).InitializeAsync();
        var scheduler = await second.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();

        // Once: the misfire fires now, then the trigger waits for the next 03:15 (never again for the other missed day).
        var runs = await JobRuns.WaitForAsync(second.Services, JobRunPurgeJob.Key, r => r.Count > before);
        await JobRuns.WaitUntilAsync(async () =>
            // This run only: the installation's other jobs (one every 5 seconds) keep firing meanwhile.
            await ScalarAsync($"SELECT count(*) FROM qrtz_fired_triggers WHERE sched_name = '{name}' AND trigger_name = '{JobRunPurgeJob.Key}'") == 0,
            "the catch-up run to finish");
        var next = (await scheduler.GetTrigger(new TriggerKey(JobRunPurgeJob.Key)))!.NextFireTimeUtc;
        Assert.NotNull(next);
        Assert.True(next > TimeProvider.System.GetUtcNow(), $"next fire {next} is not in the future");
        runs = await JobRuns.OfAsync(second.Services, JobRunPurgeJob.Key);
        var caughtUp = Assert.Single(runs.Skip(before));
        Assert.False(caughtUp.Manual);
        Assert.Equal(scheduler.SchedulerInstanceId, caughtUp.Instance);
        Assert.Equal(JobOutcome.Succeeded, caughtUp.Outcome);
    }

    [Fact]
    public async Task AScheduleChangedInTheJobTable_ReplacesTheStoredOne_AtTheNextStart()
    {
        var name = $"EvalTest-resched-{Guid.NewGuid():N}";
        var first = new EvalAppFactory(TestDatabase.Postgres, sharedConnectionString: nodeA.ConnectionString, schedulerName: name);
        await ((IAsyncLifetime)first).InitializeAsync();
        await first.DisposeAsync();
        // As if the previous release ran the rollup every five minutes.
        await ExecuteAsync($"UPDATE qrtz_cron_triggers SET cron_expression = '0 0/5 * * * ?' WHERE sched_name = '{name}' AND trigger_name = '{RollupJob.Key}'");

        await using var second = new EvalAppFactory(TestDatabase.Postgres, sharedConnectionString: nodeA.ConnectionString, schedulerName: name);
        await ((IAsyncLifetime)second).InitializeAsync();

        var scheduler = await second.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var trigger = Assert.IsAssignableFrom<ICronTrigger>(await scheduler.GetTrigger(new TriggerKey(RollupJob.Key)));
        Assert.Equal(JobSchedule.EveryMinute.Cron, trigger.CronExpressionString);
        Assert.Equal((short)CronTriggerMisfireInstruction.FireAndProceed, (short)trigger.MisfireInstructionCode);
        // The others were left as stored.
        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM qrtz_cron_triggers WHERE sched_name = '{name}' AND trigger_name = '{RollupJob.Key}'"));
        Assert.Equal(EvalJobs.All.Count, await ScalarAsync($"SELECT count(*) FROM qrtz_triggers WHERE sched_name = '{name}'"));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(nodeA.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(nodeA.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
