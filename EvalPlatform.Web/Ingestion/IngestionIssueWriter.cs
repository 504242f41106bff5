using EvalPlatform.Core.Ingestion;

namespace EvalPlatform.Web.Ingestion;

/// <summary>
/// Flushes the node's ingestion issue log about once a second and once more on shutdown (a thin shell: the work is
/// <see cref="IngestionIssueLog"/>'s). A failure is logged and retried on the next tick; it never reaches ingestion.
/// The retention purge is a job (<see cref="Jobs.IngestionIssuePurgeJob"/>): it needs to run on one node, not on each.
/// </summary>
public sealed class IngestionIssueWriter(IngestionIssueLog log, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            do
            {
                await log.TryFlushAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // What ingestion counted until now is written before the process exits.
        await log.TryFlushAsync(CancellationToken.None);
    }
}
