using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Notifications;

/// <summary>A channel as created or edited. Secret fields left empty on an edit keep the stored secret.</summary>
/// <param name="Name">What people call it.</param>
/// <param name="Type"><c>slack_webhook</c>, <c>slack_bot</c> or <c>webhook</c>.</param>
/// <param name="Url">For <c>slack_webhook</c> (the incoming-webhook URL, a secret) and <c>webhook</c> (the receiver).</param>
/// <param name="Token">For <c>slack_bot</c>: the bot token (<c>xoxb-…</c>).</param>
/// <param name="Channel">For <c>slack_bot</c>: the channel (<c>#alerts</c> or its id).</param>
/// <param name="Secret">For <c>webhook</c>: the signing secret; one is made when empty.</param>
/// <param name="EventTypes">The event types it is subscribed to.</param>
/// <param name="RejectedOnly">For <c>trace.reviewed</c>: only rejections.</param>
/// <param name="RejectionReasons">With <paramref name="RejectedOnly"/>: only these reason keys (none: any).</param>
/// <param name="Filters">For <c>trace.created</c>: which new traces (<see cref="TraceCreatedFilter"/>; none: every one).</param>
public sealed record ChannelInput(
    string? Name, string? Type, string? Url, string? Token, string? Channel, string? Secret,
    IReadOnlyList<string>? EventTypes, bool RejectedOnly = false, IReadOnlyList<string>? RejectionReasons = null,
    IReadOnlyDictionary<string, JsonElement>? Filters = null);

/// <summary>A channel as listed: never its secret.</summary>
public sealed record ChannelInfo(
    Guid Id, string Name, string Type, string? Url, string? Channel, string SecretHint, IReadOnlyList<string> EventTypes,
    bool RejectedOnly, IReadOnlyList<string> RejectionReasons, DateTimeOffset CreatedAt,
    string? LastError, DateTimeOffset? LastErrorAt, DateTimeOffset? LastDeliveredAt, JsonObject? Filters = null);

/// <summary>A channel just created: <see cref="Secret"/> (a webhook's signing secret) is shown this once.</summary>
public sealed record CreatedChannel(ChannelInfo Channel, string? Secret);

public sealed record DeliveryInfo(
    Guid Id, Guid? ChannelId, Guid EventId, string EventType, string Status, int Attempts, DateTimeOffset NextAttemptAt,
    int? ResponseCode, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? DeliveredAt);

public sealed record DeliveryPage(IReadOnlyList<DeliveryInfo> Items, string? NextCursor);

/// <summary>
/// The current team's notification channels: everyone with a role (or a <c>read</c> key) sees them; managing them needs
/// <see cref="Permission.ManageNotifications"/>. Targets pass the SSRF guard at save; secrets are encrypted for the team.
/// </summary>
public sealed class NotificationChannelService(
    IEvalDbContextFactory dbFactory, ITeamContext team, INotificationSecretProtector protector, OutboundGuard guard,
    NotificationDeliverer deliverer, TraceCreatedSubscribers traceCreated, AuditLog audit, TimeProvider clock)
{
    public const int MaxChannels = 50;
    public const int MaxPageSize = 200;
    public const int DefaultPageSize = 50;
    public const string SecretMarker = "whsec_";

    public async Task<IReadOnlyList<ChannelInfo>> ListAsync(CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.NotificationChannels.AsNoTracking().ToListAsync(ct);
        return rows.OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase).Select(ToInfo).ToList();
    }

    public async Task<ChannelInfo> GetAsync(Guid id, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        return ToInfo(await FindAsync(db, id, ct));
    }

    public async Task<CreatedChannel> CreateAsync(ChannelInput input, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        ArgumentNullException.ThrowIfNull(input);
        var name = RequireName(input.Name);
        if (!ChannelTypes.TryParse(input.Type, out var type))
        {
            throw new DomainValidationException("type", "Must be one of slack_webhook, slack_bot, webhook.");
        }

        var (eventTypes, reasons) = ReadSubscription(input);
        var filter = ReadFilter(input, eventTypes);
        var (url, slackChannel, secret) = await ReadTargetAsync(type, input, creating: true, ct);
        var shown = type == ChannelType.Webhook ? secret : null;
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        if (await db.NotificationChannels.CountAsync(ct) >= MaxChannels)
        {
            throw new DomainValidationException("name", $"A team has at most {MaxChannels} channels; delete one first.");
        }

        var channel = new NotificationChannel
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            Name = name,
            Type = type,
            Url = url,
            SlackChannel = slackChannel,
            ProtectedSecret = protector.Protect(teamId, secret!),
            SecretHint = Hint(secret!),
            EventTypes = string.Join(',', eventTypes),
            RejectedOnly = input.RejectedOnly,
            RejectionReasons = reasons.Count == 0 ? null : string.Join(',', reasons),
            TraceFilter = filter?.ToJson().ToJsonString(),
            CreatedAt = now,
            CreatedByUserId = team.UserId,
        };
        await ValidateReasonsAsync(db, reasons, ct);
        db.NotificationChannels.Add(channel);
        await db.SaveChangesAsync(ct);
        traceCreated.Invalidate(teamId);
        await audit.RecordAsync(AuditActions.ChannelCreated, channel.Name, new Dictionary<string, string?> { ["type"] = ChannelTypes.Format(channel.Type) }, ct);
        return new CreatedChannel(ToInfo(channel), shown);
    }

    public async Task<ChannelInfo> UpdateAsync(Guid id, ChannelInput input, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        ArgumentNullException.ThrowIfNull(input);
        await using var db = await dbFactory.CreateAsync(ct);
        var channel = await FindAsync(db, id, ct);
        if (input.Type is not null && (!ChannelTypes.TryParse(input.Type, out var type) || type != channel.Type))
        {
            throw new DomainValidationException("type", "A channel's type cannot change; create another channel.");
        }

        var name = RequireName(input.Name);
        var (eventTypes, reasons) = ReadSubscription(input);
        var filter = ReadFilter(input, eventTypes);
        await ValidateReasonsAsync(db, reasons, ct);
        channel.Name = name;
        var (url, slackChannel, secret) = await ReadTargetAsync(channel.Type, input, creating: false, ct);
        channel.Url = channel.Type == ChannelType.Webhook ? url ?? channel.Url : null;
        channel.SlackChannel = channel.Type == ChannelType.SlackBot ? slackChannel ?? channel.SlackChannel : null;
        if (secret is not null)
        {
            channel.ProtectedSecret = protector.Protect(teamId, secret);
            channel.SecretHint = Hint(secret);
        }

        channel.EventTypes = string.Join(',', eventTypes);
        channel.RejectedOnly = input.RejectedOnly;
        channel.RejectionReasons = reasons.Count == 0 ? null : string.Join(',', reasons);
        channel.TraceFilter = filter?.ToJson().ToJsonString();
        channel.UpdatedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        traceCreated.Invalidate(teamId);
        var changed = new Dictionary<string, string?> { ["type"] = ChannelTypes.Format(channel.Type) };
        if (secret is not null)
        {
            changed["secret"] = $"rotated (…{channel.SecretHint})";
        }

        await audit.RecordAsync(AuditActions.ChannelUpdated, channel.Name, changed, ct);
        return ToInfo(channel);
    }

    /// <summary>Deletes the channel and its delivery log (pending deliveries are dropped with it).</summary>
    public async Task DeleteAsync(Guid id, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var channel = await FindAsync(db, id, ct);
        await db.NotificationDeliveries.Where(d => d.ChannelId == id).ExecuteDeleteAsync(ct);
        db.NotificationChannels.Remove(channel);
        await db.SaveChangesAsync(ct);
        traceCreated.Invalidate(teamId);
        await audit.RecordAsync(AuditActions.ChannelDeleted, channel.Name, new Dictionary<string, string?> { ["type"] = ChannelTypes.Format(channel.Type) }, ct);
    }

    /// <summary>The channel's delivery log, newest first, by cursor (the last id of the previous page).</summary>
    public async Task<DeliveryPage> DeliveriesAsync(Guid channelId, string? cursor, int limit = DefaultPageSize, CancellationToken ct = default)
    {
        RequireView();
        if (limit is < 1 or > MaxPageSize)
        {
            throw new DomainValidationException("limit", $"Must be a whole number from 1 to {MaxPageSize}.");
        }

        Guid? after = null;
        if (cursor is not null)
        {
            after = Guid.TryParse(cursor, out var c) ? c : throw new DomainValidationException("cursor", "Not a cursor this endpoint gave out.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        _ = await FindAsync(db, channelId, ct);
        var query = db.NotificationDeliveries.AsNoTracking().Where(d => d.ChannelId == channelId);
        if (after is { } a)
        {
            query = query.Where(d => d.Id.CompareTo(a) < 0);
        }

        var rows = await query.OrderByDescending(d => d.Id).Take(limit + 1).ToListAsync(ct);
        var items = rows.Take(limit).Select(ToInfo).ToList();
        return new DeliveryPage(items, rows.Count > limit ? items[^1].Id.ToString() : null);
    }

    /// <summary>Sends the delivery's event again as a new delivery (same event id, so a receiver that has it can ignore it).</summary>
    public async Task<DeliveryInfo> RedeliverAsync(Guid channelId, Guid deliveryId, CancellationToken ct = default)
    {
        RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var original = await db.NotificationDeliveries.AsNoTracking().SingleOrDefaultAsync(d => d.Id == deliveryId && d.ChannelId == channelId, ct)
            ?? throw new NotFoundException($"No delivery {deliveryId} on channel {channelId} in this team.");
        var copy = new NotificationDelivery
        {
            Id = Uuid7.Create(now),
            TeamId = original.TeamId,
            ChannelId = original.ChannelId,
            EventId = original.EventId,
            EventType = original.EventType,
            Payload = original.Payload,
            Status = DeliveryStatus.Pending,
            NextAttemptAt = now,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.NotificationDeliveries.Add(copy);
        await db.SaveChangesAsync(ct);
        return ToInfo(copy);
    }

    /// <summary>Sends a test message now (not through the outbox) and says how it went; the channel's last error follows it.</summary>
    public async Task<SendOutcome> SendTestAsync(Guid channelId, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var channel = await FindAsync(db, channelId, ct);
        var test = new StoredNotification(
            Uuid7.Create(now), "test", teamId, $"Test message from EvalPlatform to \"{channel.Name}\"",
            "If you can read this, the channel works.", "/settings/notifications", NotificationSeverity.Info,
            new JsonObject { ["channel_id"] = channel.Id.ToString(), ["test"] = true }, now);
        var outcome = await deliverer.SendAsync(channel, test, ct);
        if (outcome.Delivered)
        {
            channel.LastDeliveredAt = now;
            channel.LastError = null;
            channel.LastErrorAt = null;
        }
        else
        {
            channel.LastError = NotificationDeliverer.Clip(outcome.Error);
            channel.LastErrorAt = now;
        }

        await db.SaveChangesAsync(ct);
        return outcome;
    }

    private async Task<(string? Url, string? SlackChannel, string? Secret)> ReadTargetAsync(ChannelType type, ChannelInput input, bool creating, CancellationToken ct)
    {
        switch (type)
        {
            case ChannelType.SlackWebhook:
                if (string.IsNullOrWhiteSpace(input.Url))
                {
                    return creating ? throw new DomainValidationException("url", "Required: the Slack incoming-webhook URL (https://hooks.slack.com/services/…).") : (null, null, null);
                }

                await guard.RequireAllowedAsync(input.Url, "url", ct);
                return (null, null, input.Url.Trim());

            case ChannelType.SlackBot:
                var slackChannel = string.IsNullOrWhiteSpace(input.Channel) ? null : input.Channel.Trim();
                if (slackChannel is null && creating)
                {
                    throw new DomainValidationException("channel", "Required: the Slack channel to post to (#alerts or its id); invite the bot to it.");
                }

                if (slackChannel is { Length: > 80 })
                {
                    throw new DomainValidationException("channel", "At most 80 characters.");
                }

                var token = string.IsNullOrWhiteSpace(input.Token) ? null : input.Token.Trim();
                if (token is null && creating)
                {
                    throw new DomainValidationException("token", "Required: the Slack app's bot token (xoxb-…) with the chat:write scope.");
                }

                if (token is { Length: > 500 })
                {
                    throw new DomainValidationException("token", "At most 500 characters.");
                }

                return (null, slackChannel, token);

            default:
                string? url = null;
                if (!string.IsNullOrWhiteSpace(input.Url) || creating)
                {
                    await guard.RequireAllowedAsync(input.Url, "url", ct);
                    url = input.Url!.Trim();
                    if (url.Length > 2_000)
                    {
                        throw new DomainValidationException("url", "At most 2000 characters.");
                    }
                }

                var secret = string.IsNullOrWhiteSpace(input.Secret) ? null : input.Secret.Trim();
                if (secret is { Length: < 16 or > 200 })
                {
                    throw new DomainValidationException("secret", "From 16 to 200 characters; leave it empty to have one made.");
                }

                return (url, null, secret ?? (creating ? SecretMarker + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)) : null));
        }
    }

    private static (List<string> EventTypes, List<string> Reasons) ReadSubscription(ChannelInput input)
    {
        var types = (input.EventTypes ?? []).Select(t => t?.Trim() ?? "").Distinct(StringComparer.Ordinal).ToList();
        if (types.Count == 0)
        {
            throw new DomainValidationException("event_types", $"Choose at least one of: {string.Join(", ", NotificationEventTypes.All)}.");
        }

        if (types.FirstOrDefault(t => !NotificationEventTypes.All.Contains(t)) is { } unknown)
        {
            throw new DomainValidationException("event_types", $"Unknown event type '{unknown}'; use {string.Join(", ", NotificationEventTypes.All)}.");
        }

        var reasons = (input.RejectionReasons ?? []).Select(r => r?.Trim() ?? "").Where(r => r.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (reasons.Count > 0 && !input.RejectedOnly)
        {
            throw new DomainValidationException("rejection_reasons", "Only with rejected_only: true (reasons narrow the rejections sent).");
        }

        return (NotificationEventTypes.All.Where(types.Contains).ToList(), reasons);
    }

    private static TraceCreatedFilter? ReadFilter(ChannelInput input, List<string> eventTypes)
    {
        var filter = TraceCreatedFilter.Read(input.Filters);
        return filter is not null && !eventTypes.Contains(NotificationEventTypes.TraceCreated)
            ? throw new DomainValidationException("filters", "Filters choose which new traces are sent: only with the trace.created event.")
            : filter;
    }

    private async Task ValidateReasonsAsync(IEvalDbContext db, List<string> reasons, CancellationToken ct)
    {
        if (reasons.Count == 0)
        {
            return;
        }

        var known = (await Reviews.ReviewSettingsService.LoadAsync(db, team.TeamId!.Value, clock, ct)).Reasons.Select(r => r.Key).ToList();
        if (reasons.FirstOrDefault(r => !known.Contains(r)) is { } unknown)
        {
            throw new DomainValidationException("rejection_reasons", $"'{unknown}' is not one of this team's rejection reasons ({string.Join(", ", known)}).");
        }
    }

    private static string RequireName(string? name)
    {
        var trimmed = name?.Trim();
        return string.IsNullOrEmpty(trimmed)
            ? throw new DomainValidationException("name", "Required: a name people recognise, such as \"#alerts on Slack\".")
            : trimmed.Length > 100 ? throw new DomainValidationException("name", "At most 100 characters.") : trimmed;
    }

    private static async Task<NotificationChannel> FindAsync(IEvalDbContext db, Guid id, CancellationToken ct) =>
        await db.NotificationChannels.SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw new NotFoundException($"No notification channel {id} in this team.");

    private static string Hint(string secret) => secret.Length <= 8 ? "" : secret[^4..];

    private Guid RequireView() =>
        team.Can(Permission.ViewTraces) ? team.TeamId!.Value : throw new PermissionDeniedException("Reading notification channels needs a team role, or an API key with the 'read' scope.");

    private Guid RequireManage() =>
        team.Can(Permission.ManageNotifications) ? team.TeamId!.Value : throw new PermissionDeniedException("Managing notification channels needs the Admin or Owner role, or an API key with the 'admin' scope.");

    public static ChannelInfo ToInfo(NotificationChannel c) => new(
        c.Id, c.Name, ChannelTypes.Format(c.Type), c.Url, c.SlackChannel, c.SecretHint, c.EventTypeList, c.RejectedOnly, c.RejectionReasonList,
        c.CreatedAt, c.LastError, c.LastErrorAt, c.LastDeliveredAt, StoredFilter(c.TraceFilter));

    /// <summary>The stored filter as the API shows it; one that does not read is shown as it is stored, never thrown.</summary>
    private static JsonObject? StoredFilter(string? stored)
    {
        if (stored is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(stored) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return new JsonObject { ["unreadable"] = stored };
        }
    }

    public static DeliveryInfo ToInfo(NotificationDelivery d) => new(
        d.Id, d.ChannelId, d.EventId, d.EventType, d.Status.ToString().ToLowerInvariant(), d.Attempts, d.NextAttemptAt, d.ResponseCode, d.LastError,
        d.CreatedAt, d.UpdatedAt, d.DeliveredAt);
}
