namespace EvalPlatform.Core.Notifications;

/// <summary>A channel's target with its secret decrypted, for one send.</summary>
public sealed record ChannelTarget(Guid ChannelId, Guid TeamId, string Name, ChannelType Type, string? Url, string? SlackChannel, string Secret);

/// <summary>What one send came to.</summary>
/// <param name="Delivered">The receiver accepted it.</param>
/// <param name="StatusCode">The HTTP status, when there was a response.</param>
/// <param name="Error">Why not (Slack's error code, the receiver's status and body, a timeout), or null.</param>
/// <param name="RetryAfter">The receiver's <c>Retry-After</c>, when it gave one.</param>
/// <param name="Permanent">Retrying cannot help (Slack's <c>invalid_auth</c>, <c>channel_not_found</c>…): fail now; Redeliver after fixing the channel.</param>
public sealed record SendOutcome(bool Delivered, int? StatusCode, string? Error, TimeSpan? RetryAfter = null, bool Permanent = false)
{
    public static SendOutcome Ok(int statusCode) => new(true, statusCode, null);
}

/// <summary>Sends a notification over one kind of channel (Slack, outbound webhook); implemented in Web with typed HttpClients.</summary>
public interface INotificationSender
{
    bool CanSend(ChannelType type);

    /// <summary>One attempt. Never throws for the receiver's failures (they are the outcome); cancellation propagates.</summary>
    Task<SendOutcome> SendAsync(ChannelTarget target, StoredNotification notification, CancellationToken ct);
}

/// <summary>Encrypts channel secrets for storage (Data Protection in the app), bound to the team.</summary>
public interface INotificationSecretProtector
{
    string Protect(Guid teamId, string secret);

    string Unprotect(Guid teamId, string protectedSecret);
}

/// <summary>
/// Told after outbox rows or in-app notifications were committed (by the database layer's save interceptor): the app
/// nudges the delivery job and refreshes the members' bells. Must not throw or block.
/// </summary>
public interface INotificationCommitObserver
{
    void Committed(bool deliveries, IReadOnlyList<(Guid TeamId, string UserId)> inApp);
}

/// <summary>
/// Renders an event as an e-mail to one member (in Web, where the public base URL for absolute links is known). Every
/// piece of event content in the HTML part is HTML-encoded: titles carry trace names, which are untrusted.
/// </summary>
public interface INotificationEmailComposer
{
    Email.EmailMessage Compose(StoredNotification notification, string recipient);
}

/// <summary>
/// Sends outbox rows that go to an integration rather than a channel or a member (LangSmith feedback, ADR 45): the
/// deliverer claims, retries and gives up on them as on any row, and tells the integration each outcome.
/// </summary>
public interface IIntegrationDelivery
{
    bool Takes(NotificationDelivery row);

    /// <summary>One attempt. Never throws for the receiver's failures (they are the outcome); cancellation propagates.</summary>
    Task<SendOutcome> SendAsync(NotificationDelivery row, CancellationToken ct);

    /// <summary>After the row's outcome was recorded: the integration's own bookkeeping (must not throw for a lost race).</summary>
    Task RecordAsync(NotificationDelivery row, SendOutcome outcome, DeliveryStatus status, CancellationToken ct);
}
