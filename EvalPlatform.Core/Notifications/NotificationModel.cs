using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Notifications;

/// <summary>Where a channel sends: its wire names are the API's <c>type</c>.</summary>
public enum ChannelType
{
    /// <summary>A Slack incoming webhook: the URL (a secret) is all it needs.</summary>
    SlackWebhook,

    /// <summary>A Slack app's bot token and a channel, through <c>chat.postMessage</c>.</summary>
    SlackBot,

    /// <summary>An outbound webhook: a URL and a signing secret (<c>X-EvalPlatform-Signature</c>).</summary>
    Webhook,
}

public static class ChannelTypes
{
    public static string Format(ChannelType type) => type switch
    {
        ChannelType.SlackWebhook => "slack_webhook",
        ChannelType.SlackBot => "slack_bot",
        _ => "webhook",
    };

    public static bool TryParse(string? text, out ChannelType type)
    {
        switch (text)
        {
            case "slack_webhook": type = ChannelType.SlackWebhook; return true;
            case "slack_bot": type = ChannelType.SlackBot; return true;
            case "webhook": type = ChannelType.Webhook; return true;
            default: type = default; return false;
        }
    }

    public static bool IsSlack(ChannelType type) => type is ChannelType.SlackWebhook or ChannelType.SlackBot;
}

/// <summary>
/// A team's notification channel. The secret part (a Slack webhook URL, a bot token, a webhook's signing secret) is kept
/// only as Data Protection output in <see cref="ProtectedSecret"/>, bound to the team; it is shown once, at creation.
/// </summary>
public sealed class NotificationChannel : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string Name { get; set; }
    public ChannelType Type { get; set; }

    /// <summary>An outbound webhook's URL (not secret); null for Slack channels.</summary>
    public string? Url { get; set; }

    /// <summary>A Slack bot's channel (<c>#alerts</c> or an id); null otherwise.</summary>
    public string? SlackChannel { get; set; }

    public required string ProtectedSecret { get; set; }

    /// <summary>The secret's last characters, to tell channels apart.</summary>
    public required string SecretHint { get; set; }

    /// <summary>The event types it is subscribed to (<see cref="NotificationEventTypes"/>), comma-separated.</summary>
    public required string EventTypes { get; set; }

    /// <summary>For <c>trace.reviewed</c>: only rejections.</summary>
    public bool RejectedOnly { get; set; }

    /// <summary>For <c>trace.reviewed</c> with <see cref="RejectedOnly"/>: only these reason codes (comma-separated); null for any.</summary>
    public string? RejectionReasons { get; set; }

    /// <summary>For <c>trace.created</c>: which new traces it wants (<see cref="TraceCreatedFilter"/> as JSON); null for every one.</summary>
    public string? TraceFilter { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedByUserId { get; set; }
    public DateTimeOffset? UpdatedAt { get; set; }

    /// <summary>The last failed attempt's error (Slack's <c>channel_not_found</c>, a 500, a timeout), shown on the channel's page.</summary>
    public string? LastError { get; set; }

    public DateTimeOffset? LastErrorAt { get; set; }
    public DateTimeOffset? LastDeliveredAt { get; set; }

    public IReadOnlyList<string> EventTypeList => Split(EventTypes);

    public IReadOnlyList<string> RejectionReasonList => Split(RejectionReasons);

    public bool IsSubscribedTo(string eventType) => EventTypeList.Contains(eventType, StringComparer.Ordinal);

    internal static IReadOnlyList<string> Split(string? csv) =>
        string.IsNullOrEmpty(csv) ? [] : csv.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

public enum DeliveryStatus
{
    Pending,
    Delivered,
    Failed,
}

/// <summary>
/// One event for one channel, or for one member's e-mail (ADR 25: <see cref="ChannelId"/> null, <see cref="RecipientEmail"/>
/// set): the outbox row. Written in the transaction of the change that caused the event; the
/// delivery job claims due rows (<see cref="LeaseUntil"/>), sends, and either marks them delivered, schedules the next
/// attempt (<see cref="NextAttemptAt"/>) or, after <see cref="NotificationDeliverer.GiveUpAfter"/>, marks them failed.
/// </summary>
public sealed class NotificationDelivery : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The channel it goes to; null for an e-mail to a member (<see cref="RecipientEmail"/>).</summary>
    public Guid? ChannelId { get; set; }

    /// <summary>For an e-mail: the member it is for (their delivery log).</summary>
    public string? RecipientUserId { get; set; }

    /// <summary>For an e-mail: the member's address when the event was enqueued.</summary>
    public string? RecipientEmail { get; set; }

    /// <summary>For LangSmith feedback (ADR 45): the connection it goes to; <see cref="EventId"/> is then the feedback's id.</summary>
    public Guid? LangSmithConnectionId { get; set; }

    /// <summary>The event's id: the same for every channel of one event; the receiver's idempotency key.</summary>
    public Guid EventId { get; set; }

    public required string EventType { get; set; }

    /// <summary>The event as JSON (<see cref="StoredNotification"/>): rendered per channel at send time.</summary>
    public required string Payload { get; set; }

    public DeliveryStatus Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>While a node sends it: no other node claims it before this time (a crashed sender's row comes back then).</summary>
    public DateTimeOffset? LeaseUntil { get; set; }

    public Guid? LeaseOwner { get; set; }
    public int? ResponseCode { get; set; }
    public string? LastError { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
}

/// <summary>An in-app notification for one member (the bell and <c>/notifications</c>).</summary>
public sealed class InAppNotification : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string UserId { get; set; }
    public Guid EventId { get; set; }
    public required string EventType { get; set; }
    public required string Title { get; set; }
    public required string Text { get; set; }
    public string? Link { get; set; }
    public NotificationSeverity Severity { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ReadAt { get; set; }
}

/// <summary>
/// A member's choice of which events reach them in-app and by e-mail, per team. No row means the defaults
/// (<see cref="NotificationPreferences.DefaultInApp"/>, no e-mail).
/// </summary>
public sealed class NotificationPreference : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string UserId { get; set; }

    /// <summary>Comma-separated event types shown in-app.</summary>
    public required string InAppTypes { get; set; }

    /// <summary>Comma-separated event types sent by e-mail (when the server has SMTP).</summary>
    public required string EmailTypes { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
