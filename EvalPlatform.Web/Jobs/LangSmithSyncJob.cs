using EvalPlatform.Core.LangSmith.Connector;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// Every minute: each LangSmith connection whose next sync is due is imported (backfill or incremental) for its team.
/// One run at a time: two would read the same pages (stored once, but twice the calls against LangSmith's rate limits).
/// A backfill longer than a minute simply keeps this run going; the next run starts when it ends.
/// </summary>
[DisallowConcurrentExecution]
public sealed class LangSmithSyncJob(LangSmithSync sync, ILogger<LangSmithSyncJob> logger) : EvalJob(logger)
{
    public const string Key = "langsmith-sync";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await sync.RunDueAsync(ct);
        if (run.Connections > 0)
        {
            logger.LogInformation("LangSmith sync: {Connections} connections, {Imported} runs imported, {Failed} stopped with an error",
                run.Connections, run.RunsImported, run.Failed);
        }

        if (run.Failed > 0)
        {
            throw new InvalidOperationException($"{run.Failed} of {run.Connections} LangSmith connections stopped with an error; see the integration page.");
        }
    }
}
