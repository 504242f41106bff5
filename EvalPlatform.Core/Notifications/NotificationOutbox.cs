using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Notifications;

/// <summary>An event as an outbox row keeps it (<see cref="NotificationDelivery.Payload"/>); each channel renders it at send time.</summary>
public sealed record StoredNotification(
    Guid EventId, string Type, Guid TeamId, string Title, string Text, string? Link, NotificationSeverity Severity, JsonObject Data, DateTimeOffset CreatedAt)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static StoredNotification FromJson(string json) =>
        JsonSerializer.Deserialize<StoredNotification>(json, Json) ?? throw new JsonException("An empty notification payload.");
}

/// <summary>
/// The outbox (ADR 22): an event becomes one <see cref="NotificationDelivery"/> per channel that wants it, one
/// <see cref="InAppNotification"/> per member who wants it in-app and, when SMTP is configured, one e-mail delivery per
/// member who wants it by e-mail (ADR 25: the address resolved now), added to the caller's unit of work and committed with it.
/// Channels and members are read for the event's team explicitly (the caller may be a job outside any team's scope).
/// </summary>
public sealed class NotificationOutbox(
    IServiceProvider services, TimeProvider clock, TraceCreatedSubscribers traceCreated, IOptionsMonitor<SmtpOptions> smtp) : INotificationOutbox
{
    /// <inheritdoc />
    public Task EnqueueAsync(NotificationEvent notification, CancellationToken cancellationToken) =>
        EnqueueAsync(services.GetRequiredService<IEvalDbContext>(), notification, cancellationToken);

    /// <summary>As <see cref="EnqueueAsync(NotificationEvent, CancellationToken)"/>, into <paramref name="db"/> (the caller's own context).</summary>
    public async Task EnqueueAsync(IEvalDbContext db, NotificationEvent notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var channels = await ForTeam.Channels(db, notification.TeamId).AsNoTracking().ToListAsync(cancellationToken);
        await EnqueueAsync(db, notification, channels, cancellationToken);
    }

    /// <summary>
    /// <c>trace.created</c> for one team's new traces, into the ingestion group's <paramref name="db"/>: one event per trace
    /// that at least one subscribed channel's filter (<see cref="TraceCreatedFilter"/>) matches, sent to those channels only.
    /// A stored filter that does not read throws: the group commit drops this team's events and keeps everyone's traces.
    /// </summary>
    public async Task EnqueueTraceCreatedAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<Trace> traces, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(traces);
        var channels = await ForTeam.Channels(db, teamId).AsNoTracking().ToListAsync(cancellationToken);
        var subscribed = channels.Where(c => c.IsSubscribedTo(NotificationEventTypes.TraceCreated))
            .Select(c => (c.Id, Filter: TraceCreatedFilter.Parse(c.TraceFilter))).ToList();
        foreach (var trace in traces)
        {
            var wanted = subscribed.Where(c => c.Filter is null || c.Filter.Matches(trace)).Select(c => c.Id).ToList();
            if (wanted.Count > 0)
            {
                await EnqueueAsync(db, TraceCreated(trace) with { ChannelIds = wanted }, channels, cancellationToken);
            }
        }
    }

    /// <summary>The <c>trace.created</c> event: the trace's identity and the fields its receivers filter and route on.</summary>
    public static NotificationEvent TraceCreated(Trace t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return new NotificationEvent(
            t.TeamId, NotificationEventTypes.TraceCreated, $"Trace created: {t.Name ?? t.ExternalId ?? t.Id.ToString()}", "A trace was ingested.",
            $"/traces/{t.Id}",
            new JsonObject
            {
                ["trace_id"] = t.Id.ToString(),
                ["external_id"] = t.ExternalId,
                ["name"] = t.Name,
                ["model"] = t.Model,
                ["provider"] = t.Provider,
                ["environment"] = t.Environment,
                ["tags"] = new JsonArray(t.Tags.Select(tag => (JsonNode?)JsonValue.Create(tag)).ToArray()),
                ["user_id"] = t.UserId,
                ["session_id"] = t.SessionId,
                ["experiment"] = t.Experiment,
                ["variant"] = t.Variant,
                ["error"] = t.Error,
                ["started_at"] = t.StartedAt.ToString("O", CultureInfo.InvariantCulture),
            });
    }

    private async Task EnqueueAsync(IEvalDbContext db, NotificationEvent notification, List<NotificationChannel> channels, CancellationToken cancellationToken)
    {
        if (!NotificationEventTypes.All.Contains(notification.Type))
        {
            throw new ArgumentException($"Unknown notification event type '{notification.Type}'.", nameof(notification));
        }

        var now = clock.GetUtcNow();
        var stored = new StoredNotification(
            Uuid7.Create(now), notification.Type, notification.TeamId, notification.Title, notification.Text, notification.Link,
            notification.Severity, notification.Data, now);
        var payload = stored.ToJson();

        foreach (var channel in channels.Where(c => Wants(c, notification)))
        {
            db.NotificationDeliveries.Add(NewDelivery(notification.TeamId, channel.Id, stored, payload, now));
        }

        if (!NotificationPreferences.CanBeInApp(notification.Type) || (notification.Type == NotificationEventTypes.TraceReviewed && !IsRejection(notification.Data)))
        {
            return;
        }

        var members = await ForTeam.MemberIds(db, notification.TeamId).ToListAsync(cancellationToken);
        var preferences = await ForTeam.Preferences(db, notification.TeamId).AsNoTracking().ToDictionaryAsync(p => p.UserId, cancellationToken);
        var byEmail = new List<string>();
        foreach (var userId in members)
        {
            preferences.TryGetValue(userId, out var p);
            var inApp = p is null ? NotificationPreferences.DefaultInApp : NotificationChannel.Split(p.InAppTypes);
            if (inApp.Contains(notification.Type))
            {
                db.InAppNotifications.Add(new InAppNotification
                {
                    Id = Uuid7.Create(now),
                    TeamId = notification.TeamId,
                    UserId = userId,
                    EventId = stored.EventId,
                    EventType = notification.Type,
                    Title = Truncate(notification.Title, 300),
                    Text = Truncate(notification.Text, 2_000),
                    Link = notification.Link,
                    Severity = notification.Severity,
                    CreatedAt = now,
                });
            }

            if (p is not null && NotificationChannel.Split(p.EmailTypes).Contains(notification.Type))
            {
                byEmail.Add(userId);
            }
        }

        // E-mail only when the server has SMTP: without it nothing is queued that could never be sent.
        if (byEmail.Count == 0 || !smtp.CurrentValue.IsConfigured)
        {
            return;
        }

        var addresses = await services.GetRequiredService<IMemberEmails>().FindAsync(notification.TeamId, byEmail, cancellationToken);
        foreach (var userId in byEmail)
        {
            if (addresses.TryGetValue(userId, out var address))
            {
                db.NotificationDeliveries.Add(NewDelivery(notification.TeamId, null, stored, payload, now, userId, address));
            }
        }
    }

    /// <summary>A pending outbox row for a channel, or (<paramref name="channelId"/> null) for a member's e-mail.</summary>
    internal static NotificationDelivery NewDelivery(
        Guid teamId, Guid? channelId, StoredNotification stored, string payload, DateTimeOffset now, string? recipientUserId = null, string? recipientEmail = null) => new()
    {
        Id = Uuid7.Create(now),
        TeamId = teamId,
        ChannelId = channelId,
        RecipientUserId = recipientUserId,
        RecipientEmail = recipientEmail,
        EventId = stored.EventId,
        EventType = stored.Type,
        Payload = payload,
        Status = DeliveryStatus.Pending,
        NextAttemptAt = now,
        CreatedAt = now,
        UpdatedAt = now,
    };

    /// <inheritdoc />
    public async Task<IReadOnlyList<Guid>> UnknownChannelsAsync(IReadOnlyCollection<Guid> channelIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channelIds);
        if (channelIds.Count == 0)
        {
            return [];
        }

        // The team's own channels only: the query filter scopes this to the current team.
        await using var db = await services.GetRequiredService<IEvalDbContextFactory>().CreateAsync(cancellationToken);
        var ids = channelIds.Distinct().ToList();
        var known = await db.NotificationChannels.Where(c => ids.Contains(c.Id)).Select(c => c.Id).ToListAsync(cancellationToken);
        return ids.Except(known).ToList();
    }

    /// <summary>Whether the team has a channel for <c>trace.created</c> (cached: the ingestion path asks per group).</summary>
    public ValueTask<bool> WantsTraceCreatedAsync(Guid teamId, CancellationToken ct) => traceCreated.AnyAsync(teamId, ct);

    internal static bool Wants(NotificationChannel channel, NotificationEvent notification)
    {
        if (notification.ChannelIds is { } chosen)
        {
            return chosen.Contains(channel.Id);
        }

        if (!channel.IsSubscribedTo(notification.Type))
        {
            return false;
        }

        if (notification.Type == NotificationEventTypes.TraceReviewed && channel.RejectedOnly)
        {
            if (!IsRejection(notification.Data))
            {
                return false;
            }

            var reasons = channel.RejectionReasonList;
            return reasons.Count == 0 || (notification.Data["reason"]?.GetValue<string>() is { } reason && reasons.Contains(reason));
        }

        return true;
    }

    private static bool IsRejection(JsonObject data) => data["status"]?.GetValue<string>() == "rejected";

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    /// <summary>Reads for an event's team given explicitly (the caller may be a job or another team's request): the one place this file leaves the query filter.</summary>
    private static class ForTeam
    {
        public static IQueryable<NotificationChannel> Channels(IEvalDbContext db, Guid teamId) =>
            db.NotificationChannels.IgnoreQueryFilters().Where(c => c.TeamId == teamId);

        public static IQueryable<string> MemberIds(IEvalDbContext db, Guid teamId) =>
            db.TeamMembers.IgnoreQueryFilters().Where(m => m.TeamId == teamId).Select(m => m.UserId);

        public static IQueryable<NotificationPreference> Preferences(IEvalDbContext db, Guid teamId) =>
            db.NotificationPreferences.IgnoreQueryFilters().Where(p => p.TeamId == teamId);
    }
}

/// <summary>Which events reach a member in-app by default, and which can (by e-mail: the same, none by default).</summary>
public static class NotificationPreferences
{
    /// <summary>Every event but <c>trace.created</c> (one per trace: a webhook's business, not a person's).</summary>
    public static readonly IReadOnlyList<string> InAppCapable =
        NotificationEventTypes.All.Where(t => t != NotificationEventTypes.TraceCreated).ToList();

    public static readonly IReadOnlyList<string> DefaultInApp = InAppCapable;

    public static bool CanBeInApp(string type) => InAppCapable.Contains(type);
}
