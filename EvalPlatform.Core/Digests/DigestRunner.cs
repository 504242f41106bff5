using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Digests;

/// <summary>What one pass of the digest job did.</summary>
/// <param name="Teams">Teams with the digest on.</param>
/// <param name="Sent">Digests committed by this pass.</param>
/// <param name="Failed">Teams whose digest failed (logged; tried again next pass).</param>
public sealed record DigestRun(int Teams, int Sent, int Failed);

/// <summary>
/// The <c>daily-digest</c> job's one call (ADR 24): for each team with the digest on whose local digest time has passed
/// today, yesterday's digest (local day) unless a <see cref="TeamDigest"/> row already says it was sent. Each team is
/// built in a scope of its own acting as the team (<see cref="TeamContext.SetJob"/>); its <see cref="TeamDigest"/> row and
/// its outbox rows commit in one <c>SaveChangesAsync</c>, and the row's unique key (team, local date) turns a second
/// node's or a retry's commit into a no-op. One team's failure is logged and the others go on.
/// </summary>
public sealed class DigestRunner(IServiceScopeFactory scopes, TimeProvider clock, ILogger<DigestRunner> logger)
{
    public const string JobName = "daily-digest";

    public async Task<DigestRun> SendDueAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        var teams = await EnabledTeamsAcrossTeamsAsync(ct);
        int sent = 0, failed = 0;
        foreach (var t in teams)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                if (await SendDueAsync(t.Id, t.TimeZone, t.DigestTime, now, ct))
                {
                    sent++;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogError(e, "The daily digest of team {TeamId} failed; it is tried again at the next run", t.Id);
            }
        }

        return new DigestRun(teams.Count, sent, failed);
    }

    /// <summary>One team: true when this call committed its digest.</summary>
    private async Task<bool> SendDueAsync(Guid teamId, string timeZone, TimeOnly time, DateTimeOffset now, CancellationToken ct)
    {
        var zone = LocalDays.FindZone(timeZone);
        if (LocalDays.DueDigestDate(now, zone, time) is not { } date)
        {
            return false;
        }

        await using var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
        var db = scope.ServiceProvider.GetRequiredService<IEvalDbContext>();
        if (await db.TeamDigests.AnyAsync(d => d.LocalDate == date, ct))
        {
            return false;
        }

        var digest = await scope.ServiceProvider.GetRequiredService<DigestBuilder>().BuildAsync(date, zone, ct);
        if (digest is null)
        {
            // Never a trace: nothing to say yet (asked again next run, at the cost of one small read).
            return false;
        }

        var notification = DigestNotification.ToEvent(teamId, digest);
        await scope.ServiceProvider.GetRequiredService<INotificationOutbox>().EnqueueAsync(notification, ct);
        db.TeamDigests.Add(new TeamDigest
        {
            Id = Uuid7.Create(now), TeamId = teamId, LocalDate = date, TimeZone = zone.Id, From = digest.From, To = digest.To,
            EventId = OutboxEventId(db, teamId), SentAt = now,
        });
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException)
        {
            if (!await AlreadySentAsync(teamId, date, ct))
            {
                throw;
            }

            // Another node (or an overlapping run) committed this date's digest first; its outbox rows stand, ours rolled back.
            logger.LogInformation("The daily digest of team {TeamId} for {Date} was sent by another run", teamId, date);
            return false;
        }
    }

    /// <summary>The event id the outbox gave the digest (its rows are added, not yet saved), to keep beside the digest row.</summary>
    private static Guid? OutboxEventId(IEvalDbContext db, Guid teamId) =>
        db.NotificationDeliveries.Local.Where(d => d.TeamId == teamId && d.EventType == NotificationEventTypes.DailyDigest).Select(d => (Guid?)d.EventId).FirstOrDefault()
        ?? db.InAppNotifications.Local.Where(n => n.TeamId == teamId && n.EventType == NotificationEventTypes.DailyDigest).Select(n => (Guid?)n.EventId).FirstOrDefault();

    private async Task<bool> AlreadySentAsync(Guid teamId, DateOnly date, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        return await db.TeamDigests.IgnoreQueryFilters().AnyAsync(d => d.TeamId == teamId && d.LocalDate == date, ct);
    }

    /// <summary>The one cross-team read: teams with the digest on, with what deciding "is it due" needs.</summary>
    private async Task<List<(Guid Id, string TimeZone, TimeOnly DigestTime)>> EnabledTeamsAcrossTeamsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        var rows = await db.Teams.AsNoTracking().Where(t => t.DigestEnabled).OrderBy(t => t.Id)
            .Select(t => new { t.Id, t.TimeZone, t.DigestTime }).ToListAsync(ct);
        return rows.Select(r => (r.Id, r.TimeZone, r.DigestTime)).ToList();
    }
}
