using System.Globalization;
using System.Text;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Ingestion;

/// <summary>What the issue list may be filtered by; every field optional. <see cref="Since"/> is clamped to the retention.</summary>
public sealed record IngestionIssueFilter(
    IngestionDoor? Door = null, IngestionIssueKind? Kind = null, string? TraceKey = null, string? SpanKey = null, DateTimeOffset? Since = null);

public sealed record IngestionIssueItem(
    Guid Id, IngestionDoor Door, IngestionIssueKind Kind, string Field, string Reason, string? TraceKey, string? SpanKey, int Count,
    DateTimeOffset FirstSeenAt, DateTimeOffset LastSeenAt);

public sealed record IngestionIssuePage(IReadOnlyList<IngestionIssueItem> Items, string? NextCursor);

/// <summary>How often one door refused or adjusted anything in the range.</summary>
public sealed record IngestionIssueTotal(IngestionDoor Door, IngestionIssueKind Kind, long Count);

/// <summary>How often one issue (door, kind, field, reason; any trace) happened in the range.</summary>
public sealed record IngestionIssueGroup(IngestionDoor Door, IngestionIssueKind Kind, string Field, string Reason, long Count, DateTimeOffset LastSeenAt);

public sealed record IngestionIssueSummary(DateTimeOffset Since, IReadOnlyList<IngestionIssueTotal> Totals, IReadOnlyList<IngestionIssueGroup> Groups);

/// <summary>
/// Reads the current team's ingestion issue log (the team query filter applies), for the API and the
/// Settings → Ingestion page alike. Whoever may view the team's traces may read it.
/// Keyset paging: newest last-seen first; (last seen, group key) is unique within a team, because a
/// row's last-seen time lies within its hour and its group key is unique within that hour.
/// </summary>
public sealed class IngestionIssueQueries(IEvalDbContextFactory dbFactory, ITeamContext team, TimeProvider time)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>Groups the summary lists at most (the most frequent).</summary>
    public const int MaxSummaryGroups = 200;

    /// <summary>The earliest time the log can answer for: now minus the retention.</summary>
    public DateTimeOffset Earliest => time.GetUtcNow() - IngestionIssueLimits.Retention;

    public async Task<IngestionIssuePage> ListAsync(IngestionIssueFilter filter, string? cursor, int limit = DefaultPageSize, CancellationToken ct = default)
    {
        RequireView();
        var after = cursor is null ? ((long Ticks, string GroupKey)?)null : DecodeCursor(cursor);
        await using var db = await dbFactory.CreateAsync(ct);
        var query = Apply(db.IngestionIssues.AsNoTracking(), filter);
        if (after is { } a)
        {
            var at = new DateTimeOffset(a.Ticks, TimeSpan.Zero);
            var key = a.GroupKey;
#pragma warning disable CA1309 // EF translates only the two-argument form (to SQL '<'); group keys are lower-case hex.
            query = query.Where(i => i.LastSeenAt < at || (i.LastSeenAt == at && string.Compare(i.GroupKey, key) < 0));
#pragma warning restore CA1309
        }

        var rows = await query
            .OrderByDescending(i => i.LastSeenAt).ThenByDescending(i => i.GroupKey)
            .Take(limit + 1)
            .ToListAsync(ct);
        var next = rows.Count > limit ? EncodeCursor(rows[limit - 1].LastSeenAt, rows[limit - 1].GroupKey) : null;
        return new IngestionIssuePage(
            rows.Take(limit).Select(i => new IngestionIssueItem(i.Id, i.Door, i.Kind, i.Field, i.Reason, i.TraceKey, i.SpanKey, i.Count, i.FirstSeenAt, i.LastSeenAt)).ToList(),
            next);
    }

    /// <summary>Totals per door and kind, and the most frequent issues, over the filter's range.</summary>
    public async Task<IngestionIssueSummary> SummarizeAsync(IngestionIssueFilter filter, CancellationToken ct = default)
    {
        RequireView();
        var since = SinceOf(filter);
        await using var db = await dbFactory.CreateAsync(ct);
        var query = Apply(db.IngestionIssues.AsNoTracking(), filter);
        var totals = await TotalsOf(query, ct);
        var groups = await query
            .GroupBy(i => new { i.Door, i.Kind, i.Field, i.Reason })
            .Select(g => new { g.Key.Door, g.Key.Kind, g.Key.Field, g.Key.Reason, Count = g.Sum(i => (long)i.Count), LastSeenAt = g.Max(i => i.LastSeenAt) })
            .OrderByDescending(g => g.Count)
            .Take(MaxSummaryGroups)
            .ToListAsync(ct);
        return new IngestionIssueSummary(
            since,
            totals,
            groups.Select(g => new IngestionIssueGroup(g.Door, g.Kind, g.Field, g.Reason, g.Count, g.LastSeenAt))
                .OrderByDescending(g => g.Count).ThenByDescending(g => g.LastSeenAt).ToList());
    }

    /// <summary>How many issues each door refused and adjusted over the filter's range (the page's summary line).</summary>
    public async Task<IReadOnlyList<IngestionIssueTotal>> TotalsAsync(IngestionIssueFilter filter, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        return await TotalsOf(Apply(db.IngestionIssues.AsNoTracking(), filter), ct);
    }

    private static async Task<IReadOnlyList<IngestionIssueTotal>> TotalsOf(IQueryable<IngestionIssue> query, CancellationToken ct)
    {
        var totals = await query
            .GroupBy(i => new { i.Door, i.Kind })
            .Select(g => new IngestionIssueTotal(g.Key.Door, g.Key.Kind, g.Sum(i => (long)i.Count)))
            .ToListAsync(ct);
        return totals.OrderBy(t => t.Door).ThenBy(t => t.Kind).ToList();
    }

    /// <summary>The stored traces (of this team) among the clients' trace ids: external id → trace id, for links.</summary>
    public async Task<IReadOnlyDictionary<string, Guid>> FindStoredTracesAsync(IReadOnlyCollection<string> traceKeys, CancellationToken ct = default)
    {
        RequireView();
        var keys = traceKeys.Distinct(StringComparer.Ordinal).ToList();
        if (keys.Count == 0)
        {
            return new Dictionary<string, Guid>();
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var found = await db.Traces.AsNoTracking().Where(t => t.ExternalId != null && keys.Contains(t.ExternalId))
            .Select(t => new { t.ExternalId, t.Id }).ToListAsync(ct);
        return found.GroupBy(t => t.ExternalId!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Id, StringComparer.Ordinal);
    }

    private IQueryable<IngestionIssue> Apply(IQueryable<IngestionIssue> query, IngestionIssueFilter filter)
    {
        var since = SinceOf(filter);
        query = query.Where(i => i.LastSeenAt >= since);
        if (filter.Door is { } door)
        {
            query = query.Where(i => i.Door == door);
        }

        if (filter.Kind is { } kind)
        {
            query = query.Where(i => i.Kind == kind);
        }

        if (!string.IsNullOrWhiteSpace(filter.TraceKey))
        {
            var trace = filter.TraceKey.Trim();
            query = query.Where(i => i.TraceKey == trace);
        }

        if (!string.IsNullOrWhiteSpace(filter.SpanKey))
        {
            var span = filter.SpanKey.Trim();
            query = query.Where(i => i.SpanKey == span);
        }

        return query;
    }

    private DateTimeOffset SinceOf(IngestionIssueFilter filter)
    {
        var earliest = Earliest;
        return filter.Since is { } since && since > earliest ? since.ToUniversalTime() : earliest;
    }

    public static string EncodeCursor(DateTimeOffset lastSeenAt, string groupKey) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{lastSeenAt.UtcTicks:D19}.{groupKey}")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static (long Ticks, string GroupKey) DecodeCursor(string cursor)
    {
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(b64));
            if (text.Length == 19 + 1 + 64 && text[19] == '.' && text[20..].All(char.IsAsciiHexDigitLower)
                && long.TryParse(text.AsSpan(0, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks)
            {
                return (ticks, text[20..]);
            }
        }
        catch (FormatException)
        {
        }

        throw new DomainValidationException("cursor", "Not a cursor this API gave out; pass next_cursor unchanged.");
    }

    private void RequireView()
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Reading the ingestion issue log needs an API key with the 'read' scope, or membership of the team.");
        }
    }
}
