using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Notifications;

/// <summary>The kinds of event that leave the platform; the names are the outbound webhooks' <c>type</c>.</summary>
public static class NotificationEventTypes
{
    public const string AlertFiring = "alert.firing";
    public const string AlertResolved = "alert.resolved";
    public const string TraceCreated = "trace.created";
    public const string TraceReviewed = "trace.reviewed";
    public const string QueueCompleted = "queue.completed";
    public const string DailyDigest = "digest.daily";

    /// <summary>An experiment's primary result first became significant, or its sample ratio mismatch check first fired.</summary>
    public const string ExperimentResult = "experiment.result";

    public static readonly IReadOnlyList<string> All =
        [AlertFiring, AlertResolved, TraceCreated, TraceReviewed, QueueCompleted, DailyDigest, ExperimentResult];
}

/// <summary>How loud a notification is (an alert rule's severity; everything else is <see cref="Info"/>).</summary>
public enum NotificationSeverity
{
    Info,
    Warning,
    Critical,
}

/// <summary>
/// Something a team should hear about, as the code that caused it describes it once; the outbox turns it into one
/// delivery per channel (Slack, webhook, e-mail) and the in-app notifications of the members who want it.
/// </summary>
/// <param name="TeamId">The team it belongs to (jobs run outside a request, so it is explicit).</param>
/// <param name="Type">One of <see cref="NotificationEventTypes"/>.</param>
/// <param name="Title">One line, plain text: "Error rate above 20 % for gpt-4o".</param>
/// <param name="Text">A sentence or two, plain text: the value against the threshold, the window.</param>
/// <param name="Link">An app-relative link back (<c>/analytics?…</c>, <c>/traces/{id}</c>), or null.</param>
/// <param name="Data">The event's payload as outbound webhooks send it (snake_case keys).</param>
/// <param name="Severity">How loud it is.</param>
/// <param name="ChannelIds">The channels to notify (an alert rule's); null sends it to every channel subscribed to <paramref name="Type"/>.</param>
public sealed record NotificationEvent(
    Guid TeamId,
    string Type,
    string Title,
    string Text,
    string? Link,
    JsonObject Data,
    NotificationSeverity Severity = NotificationSeverity.Info,
    IReadOnlyList<Guid>? ChannelIds = null);

/// <summary>
/// The transactional outbox: what should leave the platform is written in the same transaction as the change that
/// caused it, and a delivery job sends it, with retries, after the commit.
/// </summary>
public interface INotificationOutbox
{
    /// <summary>
    /// Adds the event's outbox rows to the current unit of work (the scoped <c>IEvalDbContext</c>) without saving: the
    /// caller's <c>SaveChangesAsync</c> commits them together with its own change, or neither.
    /// </summary>
    Task EnqueueAsync(NotificationEvent notification, CancellationToken cancellationToken);

    /// <summary>The ids among <paramref name="channelIds"/> that are not channels of the current team (to validate an alert rule).</summary>
    Task<IReadOnlyList<Guid>> UnknownChannelsAsync(IReadOnlyCollection<Guid> channelIds, CancellationToken cancellationToken);
}
