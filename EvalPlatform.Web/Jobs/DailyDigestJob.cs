using EvalPlatform.Core.Digests;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Every 5 minutes: the daily digest of every team whose local digest time has passed today and whose digest of
/// yesterday (local) is not sent yet (<see cref="DigestRunner.SendDueAsync"/>). Sending is once per team and local date
/// whatever the overlap (a unique row commits with the outbox rows); a team that fails is logged, the others go on, and
/// the run fails at the end so the run log shows it.
/// </summary>
[DisallowConcurrentExecution]
public sealed class DailyDigestJob(DigestRunner runner, ILogger<DailyDigestJob> logger) : EvalJob(logger)
{
    public const string Key = DigestRunner.JobName;

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await runner.SendDueAsync(ct);
        if (run.Sent > 0)
        {
            logger.LogInformation("Daily digest: {Sent} sent ({Teams} teams with the digest on)", run.Sent, run.Teams);
        }

        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"The daily digest of {run.Failed} of {run.Teams} teams failed; see the log.");
        }
    }
}
