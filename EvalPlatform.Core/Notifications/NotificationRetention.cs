using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Notifications;

/// <summary>What one retention run deleted.</summary>
public sealed record RetentionRun(int Delivered, int Failed, int ReadInApp);

/// <summary>
/// Keeps the outbox and the bells bounded (ADR 26): deletes delivered deliveries older than
/// <see cref="NotificationOptions.DeliveredRetentionDays"/>, failed ones older than <see cref="NotificationOptions.FailedRetentionDays"/>
/// (both by their last change, <see cref="NotificationDelivery.UpdatedAt"/>), and in-app notifications read longer ago than
/// <see cref="NotificationOptions.ReadInAppRetentionDays"/>. Pending rows and unread notifications are never touched. Each
/// batch is its own statement (<see cref="NotificationOptions.RetentionBatchSize"/> rows). Across teams: the one place
/// here that leaves the query filter.
/// </summary>
public sealed class NotificationRetention(IEvalDbContextFactory dbFactory, IOptions<NotificationOptions> options, TimeProvider clock)
{
    public async Task<RetentionRun> PurgeAsync(CancellationToken ct = default)
    {
        var o = options.Value;
        var now = clock.GetUtcNow();
        var deliveredBefore = now.AddDays(-o.DeliveredRetentionDays);
        var failedBefore = now.AddDays(-o.FailedRetentionDays);
        var readBefore = now.AddDays(-o.ReadInAppRetentionDays);
        await using var db = await dbFactory.CreateAsync(ct);
        var delivered = await InBatchesAsync(
            () => db.NotificationDeliveries.IgnoreQueryFilters().Where(d => d.Status == DeliveryStatus.Delivered && d.UpdatedAt < deliveredBefore).Select(d => d.Id),
            ids => db.NotificationDeliveries.IgnoreQueryFilters().Where(d => ids.Contains(d.Id)).ExecuteDeleteAsync(ct), o.RetentionBatchSize, ct);
        var failed = await InBatchesAsync(
            () => db.NotificationDeliveries.IgnoreQueryFilters().Where(d => d.Status == DeliveryStatus.Failed && d.UpdatedAt < failedBefore).Select(d => d.Id),
            ids => db.NotificationDeliveries.IgnoreQueryFilters().Where(d => ids.Contains(d.Id)).ExecuteDeleteAsync(ct), o.RetentionBatchSize, ct);
        var read = await InBatchesAsync(
            () => db.InAppNotifications.IgnoreQueryFilters().Where(n => n.ReadAt != null && n.ReadAt < readBefore).Select(n => n.Id),
            ids => db.InAppNotifications.IgnoreQueryFilters().Where(n => ids.Contains(n.Id)).ExecuteDeleteAsync(ct), o.RetentionBatchSize, ct);
        return new RetentionRun(delivered, failed, read);
    }

    private static async Task<int> InBatchesAsync(Func<IQueryable<Guid>> due, Func<List<Guid>, Task<int>> delete, int batch, CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var ids = await due().Take(batch).ToListAsync(ct);
            if (ids.Count == 0)
            {
                return total;
            }

            total += await delete(ids);
            if (ids.Count < batch)
            {
                return total;
            }
        }
    }
}
