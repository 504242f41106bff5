using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using EvalPlatform.Data.Ingestion;
using Microsoft.EntityFrameworkCore;
using Npgsql;

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

    public virtual async Task InsertAsync<T>(IEvalDbContext db, DbSet<T> table, IReadOnlyList<T> rows, CancellationToken ct = default)
        where T : class
    {
        table.AddRange(rows);
        await db.SaveChangesAsync(ct);
    }
}

/// <summary>
/// PostgreSQL: set-based. The change scan groups to (team, minute) in the database over the <c>UpdatedAt</c> index; a
/// minute's aggregation is four grouped folds in one statement over the (TeamId, StartedAt) index — sums and counts, histogram bucket
/// counts (the bucket index ⌈ln x / ln γ⌉ computed in SQL, as <see cref="LatencyHistogram"/> does), rejection reasons,
/// named scores — so a busy minute's traces never travel to the app one by one.
/// </summary>
internal sealed class PostgresRawMetrics : RawMetrics
{
    public override async Task<IReadOnlyList<TeamMinute>> ChangedMinutesAsync(IEvalDbContext db, DateTimeOffset? since, CancellationToken ct = default)
    {
        var from = since ?? DateTimeOffset.UnixEpoch;
        var rows = await db.Database.SqlQuery<ChangedMinuteRow>($"""
            SELECT DISTINCT "TeamId", date_bin('1 minute', "StartedAt", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS "Minute"
            FROM traces WHERE "UpdatedAt" >= {from}
            """).ToListAsync(ct);
        return rows.Select(r => new TeamMinute(r.TeamId, r.Minute.ToUniversalTime())).ToList();
    }

    public override async Task<IReadOnlyList<RollupCell>> MinuteCellsAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<DateTimeOffset> minutes, CancellationToken ct = default)
    {
        if (minutes.Count == 0)
        {
            return [];
        }

        // The team's traces of those minutes: one index range per run of adjacent minutes (a day's catch-up is one
        // range, a late trace's minute its own), each with its minute and its dimensions ("" for none).
        var ranges = TimeRanges.Merge(minutes, MetricInterval.Minute.Length());
        const string Source = $"""
            (SELECT date_bin('1 minute', "StartedAt", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS "Bucket",
                    coalesce("Model", '') AS "Model", coalesce("Provider", '') AS "Provider", coalesce("Environment", '') AS "Environment",
                    coalesce("Experiment", '') AS "Experiment", coalesce("Variant", '') AS "Variant", {PostgresAggregation.TraceColumns}
             FROM unnest(@froms, @tos) AS r(lo, hi)
             JOIN traces ON "TeamId" = @team AND "StartedAt" >= r.lo AND "StartedAt" < r.hi) AS t
            """;
        var cells = await PostgresAggregation.AggregateAsync(db, Source,
            ["\"Bucket\"", "\"Model\"", "\"Provider\"", "\"Environment\"", "\"Experiment\"", "\"Variant\""],
            r => (r.GetFieldValue<DateTimeOffset>(0).ToUniversalTime(), new RollupDimensions(r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5))),
            [("team", teamId), ("froms", ranges.Select(r => r.From.ToUniversalTime()).ToArray()), ("tos", ranges.Select(r => r.To.ToUniversalTime()).ToArray())],
            teamId, ct);
        return cells.Select(c => new RollupCell(c.Key.Item1, c.Key.Item2, c.Value)).ToList();
    }

    public override async Task InsertAsync<T>(IEvalDbContext db, DbSet<T> table, IReadOnlyList<T> rows, CancellationToken ct = default)
    {
        if (rows.Count == 0)
        {
            return;
        }

        // The connection is the open one of the caller's transaction; COPY runs inside it (as ingestion's does).
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await BinaryCopy.WriteAsync((NpgsqlConnection)db.Database.GetDbConnection(), table.EntityType, rows, ct);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private sealed record ChangedMinuteRow(Guid TeamId, DateTimeOffset Minute);
}
