using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// The <c>notification-retention</c> job's service on the app's controlled clock: delivered rows go after 30 days, failed
/// ones after 90, read in-app notifications 90 days after reading; pending rows and unread notifications stay; every team,
/// in batches.
/// </summary>
public abstract class NotificationRetentionTests(NotificationAppFactory app)
{
    [Fact]
    public async Task Purge_DeletesOnlyWhatIsPastItsRetention_InEveryTeam_InBatches()
    {
        var now = app.Clock.GetUtcNow();
        var teams = new[] { (await TestData.CreateTeamAsync(app.Services)), (await TestData.CreateTeamAsync(app.Services)) };
        var kept = new List<Guid>();
        var gone = new List<Guid>();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            db.AllowCrossTeamWrites(); // seeding several teams' rows at once
            foreach (var team in teams)
            {
                var channel = new NotificationChannel
                {
                    Id = Guid.NewGuid(), TeamId = team.Id, Name = "c", ProtectedSecret = "x", SecretHint = "", EventTypes = "trace.reviewed", CreatedAt = now,
                };
                db.NotificationChannels.Add(channel);
                void Delivery(DeliveryStatus status, int daysAgo, bool expected)
                {
                    var d = new NotificationDelivery
                    {
                        Id = Uuid7.Create(now), TeamId = team.Id, ChannelId = channel.Id, EventId = Guid.NewGuid(), EventType = "trace.reviewed", Payload = "{}",
                        Status = status, NextAttemptAt = now, CreatedAt = now.AddDays(-daysAgo - 1), UpdatedAt = now.AddDays(-daysAgo),
                    };
                    db.NotificationDeliveries.Add(d);
                    (expected ? gone : kept).Add(d.Id);
                }

                void InApp(int? readDaysAgo, bool expected)
                {
                    var n = new InAppNotification
                    {
                        Id = Uuid7.Create(now), TeamId = team.Id, UserId = team.OwnerId, EventType = "trace.reviewed", Title = "t", Text = "t",
                        CreatedAt = now.AddDays(-200), ReadAt = readDaysAgo is { } r ? now.AddDays(-r) : null,
                    };
                    db.InAppNotifications.Add(n);
                    (expected ? gone : kept).Add(n.Id);
                }

                Delivery(DeliveryStatus.Delivered, 31, expected: true);
                Delivery(DeliveryStatus.Delivered, 45, expected: true);
                Delivery(DeliveryStatus.Delivered, 29, expected: false);
                Delivery(DeliveryStatus.Failed, 91, expected: true);
                Delivery(DeliveryStatus.Failed, 89, expected: false);
                Delivery(DeliveryStatus.Pending, 200, expected: false);
                InApp(91, expected: true);
                InApp(89, expected: false);
                InApp(null, expected: false);
            }

            await db.SaveChangesAsync();
        }

        // Batches of 2 (the default is 5,000): 4 delivered rows to delete, so more than one statement.
        RetentionRun run;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var retention = new NotificationRetention(
                scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>(), Options.Create(new NotificationOptions { RetentionBatchSize = 2 }), app.Clock);
            run = await retention.PurgeAsync();
        }

        Assert.Equal(new RetentionRun(Delivered: 4, Failed: 2, ReadInApp: 2), run);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var ids = kept.Concat(gone).ToList();
            var left = await db.NotificationDeliveries.IgnoreQueryFilters().Where(d => ids.Contains(d.Id)).Select(d => d.Id)
                .Concat(db.InAppNotifications.IgnoreQueryFilters().Where(n => ids.Contains(n.Id)).Select(n => n.Id)).ToListAsync();
            Assert.Equal(kept.Order(), left.Order());
        }

        // A day later on the app's clock, the app's own service (default options) finds the 29-day-old delivery and the
        // 89-day-old ones past their time too.
        app.Clock.Advance(TimeSpan.FromDays(2));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var later = await scope.ServiceProvider.GetRequiredService<NotificationRetention>().PurgeAsync();
            Assert.True(later is { Delivered: >= 2, Failed: >= 2, ReadInApp: >= 2 }, later.ToString());
        }
    }
}

public sealed class PostgresNotificationRetentionTests(NotificationPostgresAppFactory app) : NotificationRetentionTests(app), IClassFixture<NotificationPostgresAppFactory>;

public sealed class SqliteNotificationRetentionTests(NotificationSqliteAppFactory app) : NotificationRetentionTests(app), IClassFixture<NotificationSqliteAppFactory>;
