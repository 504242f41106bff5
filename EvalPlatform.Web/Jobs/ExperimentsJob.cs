using EvalPlatform.Core.Experiments;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Every 15 minutes: analyses every running experiment of every team and announces a result that first turned significant, or
/// a sample ratio mismatch that first fired (<see cref="ExperimentAnalysisRunner.AnalyzeAllAsync"/>). A failed experiment is
/// logged and fails the run after the others, so the run log shows it.
/// </summary>
[DisallowConcurrentExecution]
public sealed class ExperimentsJob(ExperimentAnalysisRunner runner, ILogger<ExperimentsJob> logger) : EvalJob(logger)
{
    public const string Key = ExperimentAnalysisRunner.JobName;

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await runner.AnalyzeAllAsync(ct);
        if (run.Notified > 0)
        {
            logger.LogInformation("Experiments: {Experiments} analysed, {Notified} notifications", run.Experiments, run.Notified);
        }

        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"{run.Failed} of {run.Experiments} experiments could not be analysed; see the log.");
        }
    }
}
