using EvalPlatform.Core.Ingestion;

namespace EvalPlatform.Web.Ingestion;

/// <summary>
/// Flushes the node's ingestion issue log about once a second and once more on shutdown, and deletes rows
/// past the retention every hour (a thin shell: the work is <see cref="IngestionIssueLog"/>'s). A failure is
/// logged and retried on the next tick; it never reaches ingestion.
/// </summary>
public sealed class IngestionIssueWriter(IngestionIssueLog log, TimeProvider time, ILogger<IngestionIssueWriter> logger) : BackgroundService
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextPurge = time.GetUtcNow();
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            do
            {
                await log.TryFlushAsync(stoppingToken);
                if (time.GetUtcNow() >= nextPurge)
                {
                    nextPurge = time.GetUtcNow() + PurgeInterval;
                    await PurgeAsync(stoppingToken);
                }
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

    private async Task PurgeAsync(CancellationToken ct)
    {
        try
        {
            var deleted = await log.PurgeAsync(ct);
            if (deleted > 0)
            {
                logger.LogInformation("Deleted {Count} ingestion issue rows older than {Days} days", deleted, IngestionIssueLimits.Retention.TotalDays);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not delete old ingestion issue rows; trying again in an hour");
        }
    }
}
