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
        await RunAsync(cancellationToken);
    }

    protected abstract Task RunAsync(CancellationToken ct);
}
