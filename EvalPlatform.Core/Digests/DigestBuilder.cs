using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Digests;

/// <summary>
/// Builds the current team's digest of one local day: the figures through <see cref="AnalyticsService"/> (the dashboard's
/// numbers, live edge included), the reasons' labels from the review settings, the alert rules that fired from the alert
/// events, the queues' progress from <see cref="QueueService"/>. Reads only; team-scoped by the query filters.
/// </summary>
public sealed class DigestBuilder(
    AnalyticsService analytics, ReviewSettingsService reviewSettings, QueueService queues, IEvalDbContextFactory dbFactory, ITeamContext team)
{
    /// <summary>The digest of <paramref name="date"/> in <paramref name="zone"/>, or null when the team has never had a trace.</summary>
    public async Task<DailyDigest?> BuildAsync(DateOnly date, TimeZoneInfo zone, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(zone);
        _ = team.TeamId ?? throw new PermissionDeniedException("No team.");
        var (from, to) = LocalDays.Bounds(date, zone);
        var (previousFrom, previousTo) = LocalDays.Bounds(date.AddDays(-1), zone);
        var day = await analytics.SummaryAsync(new AnalyticsFilter(from, to), ct);
        var before = await analytics.SummaryAsync(new AnalyticsFilter(previousFrom, previousTo), ct);

        await using var db = await dbFactory.CreateAsync(ct);
        if (day.Traces == 0 && before.Traces == 0 && !await db.Traces.AnyAsync(ct))
        {
            return null;
        }

        var config = await reviewSettings.GetAsync(ct);
        var reasons = day.RejectionReasons
            .Where(r => r.Value > 0)
            .OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal)
            .Take(DailyDigest.TopReasons)
            .Select(r => new DigestReason(r.Key, r.Key.Length == 0 ? "No reason given" : config.ReasonLabel(r.Key) ?? r.Key, r.Value))
            .ToList();

        var fired = await db.AlertEvents.AsNoTracking()
            .Where(e => e.At >= from && e.At < to && e.ToStatus == AlertStatus.Firing && e.Actor == null)
            .Select(e => new { e.RuleId, e.RuleName })
            .ToListAsync(ct);
        var ruleIds = fired.Select(f => f.RuleId).Distinct().ToList();
        var severities = await db.AlertRules.AsNoTracking().Where(r => ruleIds.Contains(r.Id)).ToDictionaryAsync(r => r.Id, r => r.Severity, ct);
        var alerts = fired
            .GroupBy(f => f.RuleId)
            .Select(g => new DigestAlert(g.Key, g.Last().RuleName, severities.GetValueOrDefault(g.Key, Notifications.NotificationSeverity.Warning), g.Count()))
            .OrderByDescending(a => a.Severity).ThenByDescending(a => a.Count).ThenBy(a => a.RuleName, StringComparer.OrdinalIgnoreCase)
            .ToList();

        var doneThatDay = await db.QueueItems.AsNoTracking()
            .Where(i => i.DoneAt >= from && i.DoneAt < to)
            .GroupBy(i => i.QueueId).Select(g => new { QueueId = g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.QueueId, g => g.Count, ct);
        var queueList = (await queues.ListAsync(ct))
            .Select(q => new DigestQueue(q.Queue.Id, q.Queue.Name, q.Counts.Done, q.Counts.Total, doneThatDay.GetValueOrDefault(q.Queue.Id)))
            .Where(q => q.Done < q.Total || q.DoneThatDay > 0)
            .ToList();

        return new DailyDigest(
            date, zone.Id, from, to,
            new DigestFigure(day.Traces, before.Traces),
            new DigestFigure(day.ErrorRate, before.ErrorRate),
            new DigestFigure(day.AcceptanceRate, before.AcceptanceRate),
            day.Errors, day.Accepted, day.Rejected, reasons, alerts, queueList);
    }
}
