using EvalPlatform.Core.Notifications;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>Daily: <see cref="NotificationRetention.PurgeAsync"/> (old delivered and failed deliveries, old read in-app notifications).</summary>
[DisallowConcurrentExecution]
public sealed class NotificationRetentionJob(NotificationRetention retention, ILogger<NotificationRetentionJob> logger) : EvalJob(logger)
{
    public const string Key = "notification-retention";

    protected override async Task RunAsync(CancellationToken ct)
    {
        var run = await retention.PurgeAsync(ct);
        if (run.Delivered + run.Failed + run.ReadInApp > 0)
        {
            logger.LogInformation("Notification retention: deleted {Delivered} delivered and {Failed} failed deliveries, {Read} read in-app notifications",
                run.Delivered, run.Failed, run.ReadInApp);
        }
    }
}
