using EvalPlatform.Core.Notifications;

namespace EvalPlatform.Web.Components.Pages.Notifications;

/// <summary>Words for notification event types and channel types.</summary>
public static class NotificationText
{
    public static string EventLabel(string type) => type switch
    {
        NotificationEventTypes.AlertFiring => "Alert firing",
        NotificationEventTypes.AlertResolved => "Alert resolved",
        NotificationEventTypes.TraceCreated => "Trace created (webhooks; one per trace)",
        NotificationEventTypes.TraceReviewed => "Trace reviewed",
        NotificationEventTypes.QueueCompleted => "Review queue completed",
        NotificationEventTypes.DailyDigest => "Daily digest",
        NotificationEventTypes.ExperimentResult => "Experiment result (significant, or sample ratio mismatch)",
        _ => type,
    };

    public static string ChannelTypeLabel(string type) => type switch
    {
        "slack_webhook" => "Slack webhook",
        "slack_bot" => "Slack bot",
        "webhook" => "Webhook",
        _ => type,
    };
}
