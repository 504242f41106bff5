using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Queries.Analytics;

/// <summary>
/// The rollup's reads of raw traces (<see cref="IRawMetrics"/>), in EF for every database; PostgreSQL overrides the
/// change scan with SQL that truncates to the minute in the database. These read across teams: only the rollup calls them.
/// </summary>
internal class RawMetrics : IRawMetrics
{
    public virtual async Task<IReadOnlyList<TeamMinute>> ChangedMinutesAsync(IEvalDbContext db, DateTimeOffset? since, CancellationToken ct = default)
    {
        var changed = db.Traces.IgnoreQueryFilters();
        if (since is { } s)
        {
            changed = changed.Where(t => t.UpdatedAt >= s);
        }

        var seen = new HashSet<TeamMinute>();
        await foreach (var row in changed.Select(t => new { t.TeamId, t.StartedAt }).AsAsyncEnumerable().WithCancellation(ct))
        {
            seen.Add(new TeamMinute(row.TeamId, MetricInterval.Minute.Floor(row.StartedAt)));
        }

        return [.. seen];
    }

    public virtual async Task<IReadOnlyList<RollupCell>> MinuteCellsAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<DateTimeOffset> minutes, CancellationToken ct = default)
    {
        var within = TimeRanges.Within<Core.Traces.Trace>(t => t.StartedAt, TimeRanges.Merge(minutes, MetricInterval.Minute.Length()));
        var traces = db.Traces.IgnoreQueryFilters().Where(t => t.TeamId == teamId).Where(within);
        var scores = db.Scores.IgnoreQueryFilters().Where(s => s.TeamId == teamId);
        var cells = await RawTraceAggregator.AggregateAsync<(DateTimeOffset, RollupDimensions)>(traces, scores, withGroupFields: false,
            t => [(MetricInterval.Minute.Floor(t.StartedAt), RollupDimensions.Of(t.Model, t.Provider, t.Environment, t.Experiment, t.Variant))], ct);
        return cells.Select(c => new RollupCell(c.Key.Item1, c.Key.Item2, c.Value)).ToList();
    }
}

/// <summary>PostgreSQL: the change scan groups to (team, minute) in the database over the <c>UpdatedAt</c> index.</summary>
internal sealed class PostgresRawMetrics : RawMetrics
{
    public override async Task<IReadOnlyList<TeamMinute>> ChangedMinutesAsync(IEvalDbContext db, DateTimeOffset? since, CancellationToken ct = default)
    {
        var from = since ?? DateTimeOffset.UnixEpoch;
        var rows = await db.Database.SqlQuery<ChangedMinuteRow>($"""
            SELECT DISTINCT "TeamId", to_timestamp(floor(extract(epoch FROM "StartedAt") / 60) * 60) AS "Minute"
            FROM traces WHERE "UpdatedAt" >= {from}
            """).ToListAsync(ct);
        return rows.Select(r => new TeamMinute(r.TeamId, r.Minute.ToUniversalTime())).ToList();
    }

    private sealed record ChangedMinuteRow(Guid TeamId, DateTimeOffset Minute);
}
