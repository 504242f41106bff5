using EvalPlatform.Core.Batches;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// One batch run (ADR 39): fired once by the trigger <see cref="QuartzBatchRunScheduler"/> stores for it, carrying the run's
/// team and id. One job per run, so <see cref="DisallowConcurrentExecutionAttribute"/> keeps each run single (across nodes
/// on the clustered store) while different runs go side by side. A stopping node hands the run back queued with its cursor
/// (<see cref="BatchRunExecutor"/>); the recovery sweep schedules it again.
/// </summary>
[DisallowConcurrentExecution]
public sealed class BatchRunJob(BatchRunExecutor executor, IHostApplicationLifetime lifetime, ILogger<BatchRunJob> logger) : IJob
{
    public const string Group = "batch-runs";
    public const string TeamIdKey = "teamId";
    public const string RunIdKey = "runId";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var data = context.MergedJobDataMap;
        var teamId = Guid.Parse(data.GetString(TeamIdKey)!);
        var runId = Guid.Parse(data.GetString(RunIdKey)!);
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobKey"] = context.JobDetail.Key.Name, ["BatchRunId"] = runId });
        // The node's stop as well as the scheduler's: either way the run is handed back between chunks, never half-saved.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        var outcome = await executor.RunAsync(teamId, runId, stopping.Token);
        if (outcome == BatchRunOutcome.Failed)
        {
            throw new InvalidOperationException($"Batch run {runId} failed; its last error is on the run.");
        }
    }
}

/// <summary>
/// Schedules a batch run as its own durable-in-the-store job (<c>batch-runs.{run id}</c>, requesting recovery, so a node
/// that dies mid-run has it re-fired elsewhere on the clustered store) with one trigger that fires now.
/// </summary>
public sealed class QuartzBatchRunScheduler(ISchedulerFactory schedulers) : IBatchRunScheduler
{
    public bool Enabled => true;

    public static JobKey KeyOf(Guid runId) => new($"{runId:N}", BatchRunJob.Group);

    public async Task ScheduleAsync(Guid teamId, Guid runId, CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        var job = JobBuilder.Create<BatchRunJob>()
            .WithIdentity(KeyOf(runId))
            .UsingJobData(BatchRunJob.TeamIdKey, teamId.ToString())
            .UsingJobData(BatchRunJob.RunIdKey, runId.ToString())
            .RequestRecovery()
            .Build();
        var trigger = TriggerBuilder.Create().WithIdentity(new TriggerKey($"{runId:N}", BatchRunJob.Group)).ForJob(job).StartNow()
            .WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow)).Build();
        try
        {
            await scheduler.ScheduleJob(job, trigger, default, ct);
        }
        catch (ObjectAlreadyExistsException)
        {
            // Another node (or the sweep) scheduled it first: one job per run is what matters.
        }
    }

    public async Task<bool> IsScheduledAsync(Guid runId, CancellationToken ct) =>
        await (await schedulers.GetScheduler(ct)).Exists(KeyOf(runId), ct);
}

/// <summary>At start-up: schedules the unfinished batch runs that have no job (this node was stopped with them).</summary>
public sealed class BatchRunRecovery(BatchRunExecutor executor, IBatchRunScheduler scheduler, ILogger<BatchRunRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await executor.RecoverAsync(scheduler, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The minute sweep (batch-run-recovery) tries again; a start-up must not fail for it.
            logger.LogWarning(e, "Could not recover unfinished batch runs at start-up; the minute sweep will");
        }
    }
}

/// <summary>Every minute: unfinished batch runs without a job (started on a node without jobs, or whose node went away) are scheduled.</summary>
[DisallowConcurrentExecution]
public sealed class BatchRunRecoveryJob(BatchRunExecutor executor, IBatchRunScheduler scheduler, ILogger<BatchRunRecoveryJob> logger) : EvalJob(logger)
{
    public const string Key = "batch-run-recovery";

    protected override Task RunAsync(CancellationToken ct) => executor.RecoverAsync(scheduler, ct);
}
