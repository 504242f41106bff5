using EvalPlatform.Core.Analytics;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Every minute: <see cref="IMetricsRollup.RollUpAsync"/>. The rollup is resolved when the job runs, not when the container is
/// built, so a build without an implementation still starts: each run then fails with the reason, in the run log and the log.
/// </summary>
[DisallowConcurrentExecution]
public sealed class RollupJob(IServiceProvider services, ILogger<RollupJob> logger) : EvalJob(logger)
{
    public const string Key = "metrics-rollup";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var rollup = services.GetService<IMetricsRollup>()
            ?? throw new InvalidOperationException("No metrics rollup (IMetricsRollup) is registered in this build, so no metrics are rolled up.");
        var run = await rollup.RollUpAsync(ct);
        if (run.HoursFailed > 0)
        {
            logger.LogWarning("Rolled up {Hours} hours ({Traces} traces); {Failed} hours failed and are kept for the next run", run.HoursRecomputed, run.TracesRead, run.HoursFailed);
        }
        else if (run.HoursRecomputed > 0)
        {
            logger.LogDebug("Rolled up {Hours} hours ({Traces} traces)", run.HoursRecomputed, run.TracesRead);
        }
    }
}
