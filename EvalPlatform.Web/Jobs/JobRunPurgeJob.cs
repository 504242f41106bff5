using EvalPlatform.Core.Jobs;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>Once a day: deletes job runs older than <see cref="JobRunLog.Retention"/>, so the run log stays bounded.</summary>
[DisallowConcurrentExecution]
public sealed class JobRunPurgeJob(JobRunLog log, ILogger<JobRunPurgeJob> logger) : EvalJob(logger)
{
    public const string Key = "job-run-purge";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var deleted = await log.PurgeAsync(ct);
        if (deleted > 0)
        {
            logger.LogInformation("Deleted {Count} job runs older than {Days} days", deleted, JobRunLog.Retention.TotalDays);
        }
    }
}
