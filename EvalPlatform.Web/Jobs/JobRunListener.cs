using EvalPlatform.Core.Common;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.Observability;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Writes every run of every job to the run log (<see cref="JobRunLog"/>) on the node that ran it, and logs a failed run with
/// the job's name. Writing the log never fails a job: a database error here is logged and the run goes unrecorded.
/// </summary>
public sealed class JobRunListener(IServiceScopeFactory scopes, TimeProvider time, ILogger<JobRunListener> logger, EvalMetrics? metrics = null) : IJobListener
{
    /// <summary>Set in the job data of a run someone asked for ("Run now").</summary>
    public const string ManualRunKey = "evalplatform.manual";

    public string Name => nameof(JobRunListener);

    public async ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken cancellationToken = default)
    {
        var key = context.JobDetail.Key.Name;
        var error = jobException is null ? null : Describe(jobException);
        var run = new JobRun
        {
            Id = Uuid7.Create(time.GetUtcNow()),
            JobKey = key,
            Instance = context.Scheduler.SchedulerInstanceId,
            Manual = context.MergedJobDataMap.ContainsKey(ManualRunKey),
            ScheduledAt = context.ScheduledFireTimeUtc ?? context.FireTimeUtc,
            StartedAt = context.FireTimeUtc,
            DurationMs = (long)context.JobRunTime.TotalMilliseconds,
            Outcome = jobException is null ? JobOutcome.Succeeded : JobOutcome.Failed,
            Error = error,
        };

        metrics?.JobRan(key, jobException is null, context.JobRunTime);
        if (jobException is not null)
        {
            // Quartz logs the exception with its stack; this is the one line that says which job failed, and why.
            logger.LogWarning("Job {JobKey} failed after {Duration} ms: {Error}", key, run.DurationMs, error);
        }
        else
        {
            logger.LogDebug("Job {JobKey} succeeded in {Duration} ms", key, run.DurationMs);
        }

        if (jobException is null && EvalJobs.All.Any(j => j.Key == key && j.RecordOnlyFailures))
        {
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            // The run is recorded even when the scheduler is shutting down: it happened.
            await scope.ServiceProvider.GetRequiredService<JobRunLog>().RecordAsync(run, CancellationToken.None);
        }
#pragma warning disable CA1031 // The run log is a diagnosis aid; failing to write it must not fail the scheduler.
        catch (Exception e)
#pragma warning restore CA1031
        {
            logger.LogWarning(e, "Could not record a run of job {JobKey} in the job run log", key);
        }
    }

    /// <summary>The innermost exception's type and message: what a person can act on, without a stack trace.</summary>
    internal static string Describe(JobExecutionException jobException)
    {
        var inner = jobException.InnerException?.GetBaseException() ?? jobException;
        return $"{inner.GetType().Name}: {inner.Message}";
    }
}
