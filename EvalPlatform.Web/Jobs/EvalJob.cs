using EvalPlatform.Core.Observability;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// The base of every job: runs <see cref="RunAsync"/> inside a logging scope that names the job (<c>JobKey</c>), so every
/// line the Core call logs says which job it was. A failure propagates: the run log records it (<see cref="JobRunListener"/>).
/// </summary>
public abstract class EvalJob(ILogger logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobKey"] = context.JobDetail.Key.Name, ["FireInstanceId"] = context.FireInstanceId });
        // A span per run (exported when OTLP is configured); the database calls it makes are its children.
        using var activity = EvalMetrics.Activities.StartActivity("job " + context.JobDetail.Key.Name);
        activity?.SetTag("evalplatform.job", context.JobDetail.Key.Name);
        await RunAsync(cancellationToken);
    }

    protected abstract Task RunAsync(CancellationToken ct);
}
