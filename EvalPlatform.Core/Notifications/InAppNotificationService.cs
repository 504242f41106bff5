using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Notifications;

public sealed record InAppPage(IReadOnlyList<InAppNotification> Items, string? NextCursor);

/// <summary>A member's event choices: which types reach them in-app, which by e-mail.</summary>
public sealed record MemberPreferences(IReadOnlyList<string> InApp, IReadOnlyList<string> Email);

/// <summary>
/// The signed-in member's own in-app notifications in the current team (the bell, <c>/notifications</c>) and their
/// preferences. Everything is the member's own: another member's rows are never read or changed.
/// </summary>
public sealed class InAppNotificationService(IEvalDbContextFactory dbFactory, ITeamContext team, ILiveBus liveBus, TimeProvider clock)
{
    public const int PageSize = 20;

    public async Task<int> UnreadCountAsync(CancellationToken ct = default)
    {
        var (_, userId) = RequireMember();
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.InAppNotifications.CountAsync(n => n.UserId == userId && n.ReadAt == null, ct);
    }

    /// <summary>Newest first, <see cref="PageSize"/> at a time; <paramref name="cursor"/> is the last id of the previous page.</summary>
    public async Task<InAppPage> ListAsync(string? cursor, bool unreadOnly = false, CancellationToken ct = default)
    {
        var (_, userId) = RequireMember();
        await using var db = await dbFactory.CreateAsync(ct);
        var query = db.InAppNotifications.AsNoTracking().Where(n => n.UserId == userId);
        if (unreadOnly)
        {
            query = query.Where(n => n.ReadAt == null);
        }

        if (cursor is not null && Guid.TryParse(cursor, out var after))
        {
            query = query.Where(n => n.Id.CompareTo(after) < 0);
        }

        var rows = await query.OrderByDescending(n => n.Id).Take(PageSize + 1).ToListAsync(ct);
        var items = rows.Take(PageSize).ToList();
        return new InAppPage(items, rows.Count > PageSize ? items[^1].Id.ToString() : null);
    }

    public async Task MarkReadAsync(Guid id, CancellationToken ct = default)
    {
        var (teamId, userId) = RequireMember();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var changed = await db.InAppNotifications.Where(n => n.Id == id && n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), ct);
        if (changed > 0)
        {
            await liveBus.PublishAsync(new NotificationsChanged(teamId, [userId]), CancellationToken.None);
        }
    }

    public async Task<int> MarkAllReadAsync(CancellationToken ct = default)
    {
        var (teamId, userId) = RequireMember();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var changed = await db.InAppNotifications.Where(n => n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), ct);
        if (changed > 0)
        {
            await liveBus.PublishAsync(new NotificationsChanged(teamId, [userId]), CancellationToken.None);
        }

        return changed;
    }

    public async Task<MemberPreferences> GetPreferencesAsync(CancellationToken ct = default)
    {
        var (_, userId) = RequireMember();
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.NotificationPreferences.AsNoTracking().SingleOrDefaultAsync(p => p.UserId == userId, ct);
        return row is null
            ? new MemberPreferences(NotificationPreferences.DefaultInApp, [])
            : new MemberPreferences(NotificationChannel.Split(row.InAppTypes), NotificationChannel.Split(row.EmailTypes));
    }

    public async Task SavePreferencesAsync(MemberPreferences preferences, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(preferences);
        var (teamId, userId) = RequireMember();
        if (preferences.InApp.FirstOrDefault(t => !NotificationPreferences.CanBeInApp(t)) is { } badInApp)
        {
            throw new DomainValidationException("in_app", $"'{badInApp}' cannot be shown in-app.");
        }

        if (preferences.Email.FirstOrDefault(t => !NotificationPreferences.CanBeInApp(t)) is { } badEmail)
        {
            throw new DomainValidationException("email", $"'{badEmail}' cannot be sent by e-mail.");
        }

        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.NotificationPreferences.SingleOrDefaultAsync(p => p.UserId == userId, ct);
        if (row is null)
        {
            row = new NotificationPreference { Id = Uuid7.Create(now), TeamId = teamId, UserId = userId, InAppTypes = "", EmailTypes = "" };
            db.NotificationPreferences.Add(row);
        }

        row.InAppTypes = string.Join(',', NotificationEventTypes.All.Where(preferences.InApp.Contains));
        row.EmailTypes = string.Join(',', NotificationEventTypes.All.Where(preferences.Email.Contains));
        row.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
    }

    private (Guid TeamId, string UserId) RequireMember() =>
        team.TeamId is { } teamId && team.UserId is { } userId
            ? (teamId, userId)
            : throw new PermissionDeniedException("Notifications belong to a signed-in member of the team.");
}
