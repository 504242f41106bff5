using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Notifications;

internal sealed class NotificationChannelConfiguration : IEntityTypeConfiguration<NotificationChannel>
{
    public void Configure(EntityTypeBuilder<NotificationChannel> builder)
    {
        builder.ToTable("notification_channels");
        builder.Property(c => c.Name).HasMaxLength(100);
        builder.Property(c => c.Type).HasConversion<string>().HasMaxLength(20);
        builder.Property(c => c.Url).HasMaxLength(2_000);
        builder.Property(c => c.SlackChannel).HasMaxLength(80);
        builder.Property(c => c.ProtectedSecret).HasMaxLength(4_000);
        builder.Property(c => c.SecretHint).HasMaxLength(8);
        builder.Property(c => c.EventTypes).HasMaxLength(500);
        builder.Property(c => c.RejectionReasons).HasMaxLength(2_000);
        builder.Property(c => c.TraceFilter).HasMaxLength(4_000);
        builder.Property(c => c.CreatedByUserId).HasMaxLength(450);
        builder.Property(c => c.LastError).HasMaxLength(1_000);
        builder.Ignore(c => c.EventTypeList);
        builder.Ignore(c => c.RejectionReasonList);
        builder.HasOne<Team>().WithMany().HasForeignKey(c => c.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(c => c.TeamId);
    }
}

internal sealed class NotificationDeliveryConfiguration : IEntityTypeConfiguration<NotificationDelivery>
{
    public void Configure(EntityTypeBuilder<NotificationDelivery> builder)
    {
        builder.ToTable("notification_deliveries");
        builder.Property(d => d.EventType).HasMaxLength(40);
        builder.Property(d => d.Status).HasConversion<string>().HasMaxLength(12);
        builder.Property(d => d.LastError).HasMaxLength(1_000);
        // An e-mail to a member has no channel (ADR 25): the recipient columns say whom it is for.
        builder.Property(d => d.RecipientUserId).HasMaxLength(450);
        builder.Property(d => d.RecipientEmail).HasMaxLength(320);
        builder.HasOne<NotificationChannel>().WithMany().HasForeignKey(d => d.ChannelId).IsRequired(false).OnDelete(DeleteBehavior.Cascade);
        // LangSmith feedback (ADR 45) goes to a connection; deleting it drops its queue.
        builder.HasOne<Core.LangSmith.Connector.LangSmithConnection>().WithMany().HasForeignKey(d => d.LangSmithConnectionId).IsRequired(false).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(d => new { d.TeamId, d.LangSmithConnectionId, d.EventId }).HasFilter("\"LangSmithConnectionId\" IS NOT NULL").HasDatabaseName("IX_notification_deliveries_langsmith");
        // The delivery job's claim: due pending rows across teams, oldest due first (a partial index keeps it small).
        builder.HasIndex(d => d.NextAttemptAt).HasFilter("\"Status\" = 'Pending'").HasDatabaseName("IX_notification_deliveries_due");
        // The delivery log per channel, newest first.
        builder.HasIndex(d => new { d.TeamId, d.ChannelId, d.Id });
        // A member's e-mail log, newest first.
        builder.HasIndex(d => new { d.TeamId, d.RecipientUserId, d.Id }).HasFilter("\"RecipientUserId\" IS NOT NULL").HasDatabaseName("IX_notification_deliveries_recipient");
        // Retention across teams (notification-retention): finished rows by status and age.
        builder.HasIndex(d => new { d.Status, d.UpdatedAt }).HasDatabaseName("IX_notification_deliveries_retention");
    }
}

internal sealed class InAppNotificationConfiguration : IEntityTypeConfiguration<InAppNotification>
{
    public void Configure(EntityTypeBuilder<InAppNotification> builder)
    {
        builder.ToTable("in_app_notifications");
        builder.Property(n => n.UserId).HasMaxLength(450);
        builder.Property(n => n.EventType).HasMaxLength(40);
        builder.Property(n => n.Title).HasMaxLength(300);
        builder.Property(n => n.Text).HasMaxLength(2_000);
        builder.Property(n => n.Link).HasMaxLength(2_000);
        builder.Property(n => n.Severity).HasConversion<string>().HasMaxLength(12);
        builder.HasOne<Team>().WithMany().HasForeignKey(n => n.TeamId).OnDelete(DeleteBehavior.Cascade);
        // A member's list (newest first) and unread count.
        builder.HasIndex(n => new { n.TeamId, n.UserId, n.Id });
        builder.HasIndex(n => new { n.TeamId, n.UserId }).HasFilter("\"ReadAt\" IS NULL").HasDatabaseName("IX_in_app_notifications_unread");
        // Retention across teams (notification-retention): read notifications by age.
        builder.HasIndex(n => n.ReadAt).HasFilter("\"ReadAt\" IS NOT NULL").HasDatabaseName("IX_in_app_notifications_read");
    }
}

internal sealed class NotificationPreferenceConfiguration : IEntityTypeConfiguration<NotificationPreference>
{
    public void Configure(EntityTypeBuilder<NotificationPreference> builder)
    {
        builder.ToTable("notification_preferences");
        builder.Property(p => p.UserId).HasMaxLength(450);
        builder.Property(p => p.InAppTypes).HasMaxLength(500);
        builder.Property(p => p.EmailTypes).HasMaxLength(500);
        builder.HasOne<Team>().WithMany().HasForeignKey(p => p.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(p => new { p.TeamId, p.UserId }).IsUnique();
    }
}
