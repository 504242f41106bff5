using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Notifications;

/// <summary>
/// The signed-in member's own e-mail (ADR 25): whether the server can send any, a test message sent now (not through
/// the outbox) with the SMTP server's answer, the e-mails the outbox has for them (their delivery log) and Redeliver.
/// Only the member's own rows are ever read or changed.
/// </summary>
public sealed class MemberEmailService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IEmailSender email, INotificationEmailComposer composer, IMemberEmails addresses,
    NotificationDeliverer deliverer, TimeProvider clock)
{
    public const int LogSize = 10;

    /// <summary>Whether the server has SMTP (<c>Smtp:Host</c>); without it the e-mail choices are off.</summary>
    public bool IsConfigured => email.IsConfigured;

    /// <summary>Sends the member a test e-mail now and says how it went (the SMTP server's reply when it refused).</summary>
    public async Task<SendOutcome> SendTestAsync(CancellationToken ct = default)
    {
        var (teamId, userId) = RequireMember();
        var to = await AddressAsync(teamId, userId, ct);
        var now = clock.GetUtcNow();
        var test = new StoredNotification(
            Uuid7.Create(now), "test", teamId, "Test e-mail from EvalPlatform",
            "If you can read this, e-mail from this server reaches you.", "/notifications", NotificationSeverity.Info,
            new JsonObject { ["test"] = true }, now);
        return await deliverer.SendEmailAsync(composer.Compose(test, to), ct);
    }

    /// <summary>The member's newest e-mail deliveries in this team (status, attempts, the server's last reply).</summary>
    public async Task<IReadOnlyList<DeliveryInfo>> RecentAsync(CancellationToken ct = default)
    {
        var (_, userId) = RequireMember();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.NotificationDeliveries.AsNoTracking().Where(d => d.ChannelId == null && d.RecipientUserId == userId)
            .OrderByDescending(d => d.Id).Take(LogSize).ToListAsync(ct);
        return rows.Select(NotificationChannelService.ToInfo).ToList();
    }

    /// <summary>Queues one of the member's e-mails again (same event id) to their current address.</summary>
    public async Task<DeliveryInfo> RedeliverAsync(Guid deliveryId, CancellationToken ct = default)
    {
        var (teamId, userId) = RequireMember();
        if (!email.IsConfigured)
        {
            throw new DomainValidationException("email", "E-mail is not configured on this server.");
        }

        var to = await AddressAsync(teamId, userId, ct);
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var original = await db.NotificationDeliveries.AsNoTracking()
            .SingleOrDefaultAsync(d => d.Id == deliveryId && d.ChannelId == null && d.RecipientUserId == userId, ct)
            ?? throw new NotFoundException($"No e-mail {deliveryId} for you in this team.");
        var copy = NotificationOutbox.NewDelivery(teamId, null, StoredNotification.FromJson(original.Payload), original.Payload, now, userId, to);
        db.NotificationDeliveries.Add(copy);
        await db.SaveChangesAsync(ct);
        return NotificationChannelService.ToInfo(copy);
    }

    private async Task<string> AddressAsync(Guid teamId, string userId, CancellationToken ct) =>
        (await addresses.FindAsync(teamId, [userId], ct)).GetValueOrDefault(userId)
        ?? throw new DomainValidationException("email", "Your account has no e-mail address.");

    private (Guid TeamId, string UserId) RequireMember() =>
        team.TeamId is { } teamId && team.UserId is { } userId
            ? (teamId, userId)
            : throw new PermissionDeniedException("E-mail settings belong to a signed-in member of the team.");
}
