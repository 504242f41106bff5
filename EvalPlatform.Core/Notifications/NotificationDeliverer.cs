using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Outbound;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Notifications;

/// <summary>The <c>Notifications</c> section: how the delivery job works through the outbox.</summary>
public sealed class NotificationOptions
{
    public const string SectionName = "Notifications";

    /// <summary>Rows claimed per run.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>Sends in flight at once per node: a slow receiver holds one slot, not the run.</summary>
    [Range(1, 256)]
    public int Parallelism { get; set; } = 8;

    /// <summary>How long a claim lasts; a row whose sender died comes back after it.</summary>
    [Range(10, 3_600)]
    public int LeaseSeconds { get; set; } = 120;

    /// <summary>The first retry's delay; each further one doubles, with jitter, up to <see cref="MaxRetryDelaySeconds"/>.</summary>
    [Range(1, 3_600)]
    public int FirstRetryDelaySeconds { get; set; } = 15;

    [Range(1, 86_400)]
    public int MaxRetryDelaySeconds { get; set; } = 3_600;

    /// <summary>Delivered outbox rows (the delivery log) are kept this many days after delivery (<c>notification-retention</c>).</summary>
    [Range(1, 3_650)]
    public int DeliveredRetentionDays { get; set; } = 30;

    /// <summary>Failed outbox rows are kept longer, for Redeliver and for finding out why.</summary>
    [Range(1, 3_650)]
    public int FailedRetentionDays { get; set; } = 90;

    /// <summary>Read in-app notifications are kept this many days after they were read; unread ones are kept.</summary>
    [Range(1, 3_650)]
    public int ReadInAppRetentionDays { get; set; } = 90;

    /// <summary>Rows deleted per statement by the retention job: short transactions, whatever the backlog.</summary>
    [Range(1, 100_000)]
    public int RetentionBatchSize { get; set; } = 5_000;
}

/// <summary>What one delivery run did.</summary>
public sealed record DeliveryRun(int Claimed, int Delivered, int Retrying, int Failed);

/// <summary>
/// The delivery half of the outbox (ADR 22): claims due rows across teams with a lease (a conditional UPDATE, so two
/// nodes never send the same row at once), sends each independently with a bounded timeout and bounded parallelism (one
/// team's slow receiver holds one slot for at most the timeout), and records the outcome per row: delivered, retry at
/// an exponential backoff with jitter (or the receiver's Retry-After), or failed once <see cref="GiveUpAfter"/> passed.
/// Delivery is at least once: a node that dies mid-send leaves the row to come back after the lease; receivers
/// deduplicate on the event id.
/// </summary>
public sealed partial class NotificationDeliverer(
    IEvalDbContextFactory dbFactory,
    IEnumerable<INotificationSender> senders,
    IEnumerable<IIntegrationDelivery> integrations,
    IEmailSender email,
    INotificationEmailComposer emailComposer,
    INotificationSecretProtector secrets,
    IOptions<NotificationOptions> options,
    IOptionsMonitor<OutboundOptions> outbound,
    TimeProvider clock,
    ILogger<NotificationDeliverer> logger,
    Observability.EvalMetrics? metrics = null)
{
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromHours(24);

    public async Task<DeliveryRun> DeliverDueAsync(CancellationToken ct = default)
    {
        var o = options.Value;
        var claimed = await ClaimAsync(o, ct);
        if (claimed.Count == 0)
        {
            return new DeliveryRun(0, 0, 0, 0);
        }

        Dictionary<Guid, NotificationChannel> channels;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            var ids = claimed.Where(d => d.ChannelId != null).Select(d => d.ChannelId!.Value).Distinct().ToList();
            channels = await AcrossTeams.Channels(db).AsNoTracking().Where(c => ids.Contains(c.Id)).ToDictionaryAsync(c => c.Id, ct);
        }

        int delivered = 0, retrying = 0, failed = 0;
        await Parallel.ForEachAsync(claimed, new ParallelOptions { MaxDegreeOfParallelism = o.Parallelism, CancellationToken = ct }, async (row, token) =>
        {
            var status = await DeliverOneAsync(row, row.ChannelId is { } channelId ? channels.GetValueOrDefault(channelId) : null, o, token);
            switch (status)
            {
                case DeliveryStatus.Delivered: Interlocked.Increment(ref delivered); break;
                case DeliveryStatus.Failed: Interlocked.Increment(ref failed); break;
                default: Interlocked.Increment(ref retrying); break;
            }
        });

        return new DeliveryRun(claimed.Count, delivered, retrying, failed);
    }

    /// <summary>
    /// Due rows, leased to this run. The UPDATE repeats the due condition, so of two nodes that read the same candidates
    /// only one's UPDATE matches each row (PostgreSQL re-checks the condition after the other's row lock is released).
    /// </summary>
    private async Task<List<NotificationDelivery>> ClaimAsync(NotificationOptions o, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var owner = Guid.NewGuid();
        var until = now.AddSeconds(o.LeaseSeconds);
        await using var db = await dbFactory.CreateAsync(ct);
        var candidates = await AcrossTeams.Due(db, now).OrderBy(d => d.NextAttemptAt).Select(d => d.Id).Take(o.BatchSize).ToListAsync(ct);
        // The outbox backlog: every due row when a whole batch was found (one more count), else exactly the ones found.
        metrics?.OutboxDue(candidates.Count < o.BatchSize ? candidates.Count : await AcrossTeams.Due(db, now).LongCountAsync(ct));
        if (candidates.Count == 0)
        {
            return [];
        }

        await AcrossTeams.Due(db, now).Where(d => candidates.Contains(d.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.LeaseOwner, owner).SetProperty(d => d.LeaseUntil, until), ct);
        return await AcrossTeams.Deliveries(db).AsNoTracking().Where(d => d.LeaseOwner == owner && candidates.Contains(d.Id)).ToListAsync(ct);
    }

    private async Task<DeliveryStatus> DeliverOneAsync(NotificationDelivery row, NotificationChannel? channel, NotificationOptions o, CancellationToken ct)
    {
        SendOutcome outcome;
        var integration = integrations.FirstOrDefault(i => i.Takes(row));
        if (integration is not null)
        {
            outcome = await integration.SendAsync(row, ct);
        }
        else if (row.RecipientEmail is { } to)
        {
            outcome = await SendEmailAsync(emailComposer.Compose(StoredNotification.FromJson(row.Payload), to), ct);
        }
        else if (channel is null)
        {
            outcome = new SendOutcome(false, null, "The channel was deleted.", Permanent: true);
        }
        else
        {
            outcome = await SendAsync(channel, StoredNotification.FromJson(row.Payload), ct);
        }

        var now = clock.GetUtcNow();
        var attempts = row.Attempts + 1;
        DeliveryStatus status;
        DateTimeOffset next = row.NextAttemptAt;
        if (outcome.Delivered)
        {
            status = DeliveryStatus.Delivered;
        }
        else if (outcome.Permanent)
        {
            status = DeliveryStatus.Failed;
        }
        else
        {
            next = now + RetryDelay(attempts, outcome.RetryAfter, o);
            status = next > row.CreatedAt + GiveUpAfter ? DeliveryStatus.Failed : DeliveryStatus.Pending;
        }

        DateTimeOffset? deliveredAt = outcome.Delivered ? now : null;

        // Per row: a failure to record one outcome never touches another row.
        try
        {
            await using var db = await dbFactory.CreateAsync(CancellationToken.None);
            var updated = await AcrossTeams.Deliveries(db).Where(d => d.Id == row.Id && d.LeaseOwner == row.LeaseOwner)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(d => d.Status, status)
                    .SetProperty(d => d.Attempts, attempts)
                    .SetProperty(d => d.NextAttemptAt, next)
                    .SetProperty(d => d.ResponseCode, outcome.StatusCode)
                    .SetProperty(d => d.LastError, Clip(outcome.Error))
                    .SetProperty(d => d.UpdatedAt, now)
                    .SetProperty(d => d.DeliveredAt, deliveredAt)
                    .SetProperty(d => d.LeaseOwner, (Guid?)null)
                    .SetProperty(d => d.LeaseUntil, (DateTimeOffset?)null), CancellationToken.None);
            if (updated == 0)
            {
                LogLeaseLost(row.Id);
            }

            if (channel is not null)
            {
                await RecordOnChannelAsync(db, channel.Id, outcome, now);
            }

            if (integration is not null && updated > 0)
            {
                await integration.RecordAsync(row, outcome, status, CancellationToken.None);
            }
        }
#pragma warning disable CA1031 // One row's bookkeeping failing must not stop the others; the lease brings the row back.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogRecordFailed(e, row.Id);
        }

        if (status == DeliveryStatus.Failed)
        {
            LogGaveUp(row.Id, row.ChannelId, row.TeamId, attempts, outcome.Error);
        }

        return status;
    }

    /// <summary>One attempt with the timeout; used by the job and by "Send test message".</summary>
    public async Task<SendOutcome> SendAsync(NotificationChannel channel, StoredNotification notification, CancellationToken ct)
    {
        var sender = senders.FirstOrDefault(s => s.CanSend(channel.Type));
        if (sender is null)
        {
            return new SendOutcome(false, null, $"No sender for {ChannelTypes.Format(channel.Type)} channels in this build.", Permanent: true);
        }

        string secret;
        try
        {
            secret = secrets.Unprotect(channel.TeamId, channel.ProtectedSecret);
        }
        catch (CryptographicException e)
        {
            return new SendOutcome(false, null, $"The channel's secret cannot be decrypted ({e.Message}); enter it again.", Permanent: true);
        }

        var timeout = TimeSpan.FromSeconds(outbound.CurrentValue.TimeoutSeconds);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            var target = new ChannelTarget(channel.Id, channel.TeamId, channel.Name, channel.Type, channel.Url, channel.SlackChannel, secret);
            return await sender.SendAsync(target, notification, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new SendOutcome(false, null, $"No answer within {timeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException e)
        {
            return new SendOutcome(false, e.StatusCode is { } code ? (int)code : null, e.GetBaseException().Message);
        }
    }

    /// <summary>
    /// One e-mail attempt with the SMTP timeout (ADR 25): the reply code stands where an HTTP status would, 5xx replies
    /// fail at once, 4xx replies, refused connections and timeouts are retried like any delivery.
    /// </summary>
    public async Task<SendOutcome> SendEmailAsync(EmailMessage message, CancellationToken ct)
    {
        if (!email.IsConfigured)
        {
            return new SendOutcome(false, null, "E-mail is not configured on this server (Smtp:Host).", Permanent: true);
        }

        var result = await email.SendAsync(message, ct);
        return new SendOutcome(result.Sent, result.ReplyCode, result.Error, Permanent: !result.Sent && result.Permanent);
    }

    /// <summary>The receiver's Retry-After when it gave one (capped at the maximum); else first × 2^(n-1), capped, with jitter down to half.</summary>
    public static TimeSpan RetryDelay(int attempts, TimeSpan? retryAfter, NotificationOptions o)
    {
        var max = TimeSpan.FromSeconds(o.MaxRetryDelaySeconds);
        if (retryAfter is { } after && after > TimeSpan.Zero)
        {
            return after < max ? after : max;
        }

        var exponential = o.FirstRetryDelaySeconds * Math.Pow(2, Math.Min(attempts - 1, 20));
        var capped = Math.Min(exponential, o.MaxRetryDelaySeconds);
        // "Equal jitter": half fixed, half random, so retries of many rows spread out but never come sooner than half the step.
        return TimeSpan.FromSeconds(capped / 2 + (Random.Shared.NextDouble() * capped / 2));
    }

    private static async Task RecordOnChannelAsync(IEvalDbContext db, Guid channelId, SendOutcome outcome, DateTimeOffset now)
    {
        var query = AcrossTeams.Channels(db).Where(c => c.Id == channelId);
        if (outcome.Delivered)
        {
            await query.ExecuteUpdateAsync(s => s.SetProperty(c => c.LastDeliveredAt, now), CancellationToken.None);
        }
        else
        {
            await query.ExecuteUpdateAsync(s => s.SetProperty(c => c.LastError, Clip(outcome.Error)).SetProperty(c => c.LastErrorAt, now), CancellationToken.None);
        }
    }

    internal static string? Clip(string? error) => error is null || error.Length <= 1_000 ? error : error[..999] + "…";

    /// <summary>The delivery job works for every team: the one place in this file that leaves the query filter.</summary>
    private static class AcrossTeams
    {
        public static IQueryable<NotificationDelivery> Deliveries(IEvalDbContext db) => db.NotificationDeliveries.IgnoreQueryFilters();

        public static IQueryable<NotificationDelivery> Due(IEvalDbContext db, DateTimeOffset now) =>
            Deliveries(db).Where(d => d.Status == DeliveryStatus.Pending && d.NextAttemptAt <= now && (d.LeaseUntil == null || d.LeaseUntil < now));

        public static IQueryable<NotificationChannel> Channels(IEvalDbContext db) => db.NotificationChannels.IgnoreQueryFilters();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification delivery {DeliveryId}: its lease was lost before the outcome was recorded; it will be sent again")]
    private partial void LogLeaseLost(Guid deliveryId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Notification delivery {DeliveryId}: could not record the outcome; it comes back after its lease")]
    private partial void LogRecordFailed(Exception e, Guid deliveryId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification delivery {DeliveryId} to channel {ChannelId} of team {TeamId} failed after {Attempts} attempts: {Error}")]
    private partial void LogGaveUp(Guid deliveryId, Guid? channelId, Guid teamId, int attempts, string? error);
}
