using EvalPlatform.Core.Notifications;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>Every few seconds: <see cref="NotificationDeliverer.DeliverDueAsync"/> (the outbox's sends and retries, ADR 22).</summary>
[DisallowConcurrentExecution]
public sealed class NotificationDeliveryJob(NotificationDeliverer deliverer, ILogger<NotificationDeliveryJob> logger) : EvalJob(logger)
{
    public const string Key = "notification-delivery";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await deliverer.DeliverDueAsync(ct);
        if (run.Claimed > 0)
        {
            logger.LogDebug("Notification delivery: {Delivered} delivered, {Retrying} to retry, {Failed} failed of {Claimed}", run.Delivered, run.Retrying, run.Failed, run.Claimed);
        }
    }
}
