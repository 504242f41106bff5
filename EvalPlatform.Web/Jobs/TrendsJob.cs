using EvalPlatform.Core.Analytics;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Hourly: every team's default trend report ("What changed", the last 7 days) recomputed into the cache. One run at a
/// time: two overlapping runs would only do the same work twice. A missed run is harmless: a cache miss computes on the spot.
/// </summary>
[DisallowConcurrentExecution]
public sealed class TrendsJob(TrendRefresher refresher, ILogger<TrendsJob> logger) : EvalJob(logger)
{
    public const string Key = "trends";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await refresher.RefreshAllAsync(ct);
        logger.LogInformation("Trends: {Teams} teams, {Failed} failed, {Findings} findings", run.Teams, run.Failed, run.Findings);
        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"Trends could not be computed for {run.Failed} of {run.Teams} teams; see the log.");
        }
    }
}
