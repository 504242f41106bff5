using EvalPlatform.Core.Ingestion;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>Every hour: deletes ingestion issue rows older than <see cref="IngestionIssueLimits.Retention"/> (ADR 15).</summary>
[DisallowConcurrentExecution]
public sealed class IngestionIssuePurgeJob(IngestionIssueLog log, ILogger<IngestionIssuePurgeJob> logger) : EvalJob(logger)
{
    public const string Key = "ingestion-issue-purge";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var deleted = await log.PurgeAsync(ct);
        if (deleted > 0)
        {
            logger.LogInformation("Deleted {Count} ingestion issue rows older than {Days} days", deleted, IngestionIssueLimits.Retention.TotalDays);
        }
    }
}
