using EvalPlatform.Core.Ingestion;

namespace EvalPlatform.Web.Ingestion;

/// <summary>Runs the group-commit writer; on shutdown it stops taking requests and drains the queue first.</summary>
public sealed class IngestionWriter(IngestionQueue queue) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => queue.RunAsync(CancellationToken.None);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Everything already answered is committed; what is queued gets written before the process exits.
        queue.Complete();
        await base.StopAsync(cancellationToken);
    }
}
