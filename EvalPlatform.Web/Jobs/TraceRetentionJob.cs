using EvalPlatform.Core.Retention;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Nightly: <see cref="TracePurge.PurgeAsync"/>, each team's traces past its retention setting with everything keyed by them
/// (ADR 37). A team that failed is logged and the run is marked failed in the run log; the others are done all the same.
/// </summary>
[DisallowConcurrentExecution]
public sealed class TraceRetentionJob(TracePurge purge, ILogger<TraceRetentionJob> logger) : EvalJob(logger)
{
    public const string Key = TracePurge.JobName;

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await purge.PurgeAsync(ct);
        logger.LogInformation("Trace retention: {Teams} teams with a retention setting, {Failed} failed, {Traces} traces deleted", run.Teams, run.Failed, run.Traces);
        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"Trace retention failed for {run.Failed} of {run.Teams} teams; see the log.");
        }
    }
}
