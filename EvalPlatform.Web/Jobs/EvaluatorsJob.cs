using EvalPlatform.Core.Evaluators;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Every minute: each enabled evaluator that runs on new traces judges the traces created since its watermark that match its
/// filter and sample, within its daily budget (<see cref="EvaluatorRunner.JudgeNewTracesAsync"/>). Once across nodes.
/// </summary>
[DisallowConcurrentExecution]
public sealed class EvaluatorsJob(EvaluatorRunner runner, ILogger<EvaluatorsJob> logger) : EvalJob(logger)
{
    public const string Key = "evaluators";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await runner.JudgeNewTracesAsync(ct);
        if (run.Scored + run.NotScored > 0)
        {
            logger.LogInformation("Evaluators: {Evaluators} evaluators, {Scored} traces scored, {NotScored} not scored", run.Evaluators, run.Scored, run.NotScored);
        }

        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"{run.Failed} of {run.Evaluators} evaluators could not judge their new traces; see the log.");
        }
    }
}
