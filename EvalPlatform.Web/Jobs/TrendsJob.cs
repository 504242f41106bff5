using EvalPlatform.Core.Analytics;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Hourly: every team's default trend report ("What changed", the last 7 days) recomputed into the cache. One run at a
/// time: two overlapping runs would only do the same work twice.
/// </summary>
[DisallowConcurrentExecution]
public sealed class TrendsJob(TrendRefresher refresher, ILogger<TrendsJob> logger) : IJob
{
    public static readonly JobKey Key = new("trends", "analytics");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var run = await refresher.RefreshAllAsync(cancellationToken);
        logger.LogInformation("Trends job: {Teams} teams, {Failed} failed, {Findings} findings", run.Teams, run.Failed, run.Findings);
        if (run.Failed > 0)
        {
            throw new JobExecutionException($"Trends could not be computed for {run.Failed} of {run.Teams} teams; see the log.");
        }
    }
}
