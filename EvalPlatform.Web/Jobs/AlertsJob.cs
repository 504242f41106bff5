using EvalPlatform.Core.Alerts;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Every minute: every enabled alert rule of every team (<see cref="AlertRunner.EvaluateAllAsync"/>). One run at a time, and on
/// PostgreSQL once across nodes (the clustered store), so a minute is never evaluated twice. A rule that fails is logged and
/// the run fails after evaluating the others, so the run log shows it.
/// </summary>
[DisallowConcurrentExecution]
public sealed class AlertsJob(AlertRunner runner, ILogger<AlertsJob> logger) : EvalJob(logger)
{
    public const string Key = "alerts";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await runner.EvaluateAllAsync(ct);
        if (run.Fired + run.Resolved > 0)
        {
            logger.LogInformation("Alerts: {Rules} rules, {Fired} fired, {Resolved} resolved", run.Rules, run.Fired, run.Resolved);
        }

        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"{run.Failed} of {run.Rules} alert rules could not be evaluated; see the log.");
        }
    }
}

/// <summary>Daily: deletes alert evaluations older than <see cref="AlertRunner.EvaluationRetention"/> (7 days).</summary>
[DisallowConcurrentExecution]
public sealed class AlertEvaluationPurgeJob(AlertRunner runner, ILogger<AlertEvaluationPurgeJob> logger) : EvalJob(logger)
{
    public const string Key = "alert-evaluation-purge";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var deleted = await runner.PurgeEvaluationsAsync(ct);
        if (deleted > 0)
        {
            logger.LogInformation("Deleted {Count} alert evaluations older than {Days} days", deleted, AlertRunner.EvaluationRetention.TotalDays);
        }
    }
}
