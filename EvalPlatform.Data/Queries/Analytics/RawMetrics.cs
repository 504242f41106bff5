using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

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

/// <summary>
/// PostgreSQL: set-based. The change scan groups to (team, minute) in the database over the <c>UpdatedAt</c> index; a
/// minute's aggregation is four grouped queries over the (TeamId, StartedAt) index — sums and counts, histogram bucket
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

        var set = minutes.Select(m => m.ToUniversalTime()).Distinct().ToArray();
        var lo = set.Min();
        var hi = set.Max() + MetricInterval.Minute.Length();
        var logGamma = Math.Log(LatencyHistogram.Gamma);
        var zero = LatencyHistogram.MinValue;
        // The team's traces of those minutes, each with its minute and its dimensions ("" for none).
        const string Source = """
            (SELECT date_bin('1 minute', "StartedAt", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS "Bucket",
                    coalesce("Model", '') AS "Model", coalesce("Provider", '') AS "Provider", coalesce("Environment", '') AS "Environment",
                    coalesce("Experiment", '') AS "Experiment", coalesce("Variant", '') AS "Variant",
                    "Id", "Error", "PromptTokens", "CompletionTokens", "Cost", "LatencyMs", "TimeToFirstTokenMs", "ReviewStatus", "ReviewReason", "HumanScore"
             FROM traces WHERE "TeamId" = @team AND "StartedAt" >= @lo AND "StartedAt" < @hi) AS t
            """;
        const string Dims = "\"Bucket\", \"Model\", \"Provider\", \"Environment\", \"Experiment\", \"Variant\"";
        const string InMinutes = "\"Bucket\" = ANY(@minutes)";

        var cells = new Dictionary<(DateTimeOffset, RollupDimensions), MetricAggregate>();
        MetricAggregate Cell(DimensionRow r)
        {
            var key = (r.Bucket.ToUniversalTime(), new RollupDimensions(r.Model, r.Provider, r.Environment, r.Experiment, r.Variant));
            if (!cells.TryGetValue(key, out var a))
            {
                cells[key] = a = new MetricAggregate();
            }

            return a;
        }

        var connection = (Npgsql.NpgsqlConnection)db.Database.GetDbConnection();
        var transaction = (Npgsql.NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var batch = new Npgsql.NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(Command($"""
                SELECT {Dims}, count(*), count("Error"), coalesce(sum("PromptTokens"), 0)::bigint, coalesce(sum("CompletionTokens"), 0)::bigint,
                       coalesce(sum("Cost"), 0), coalesce(sum(("Cost" * "Cost")::float8), 0),
                       count(*) FILTER (WHERE "ReviewStatus" = 1), count(*) FILTER (WHERE "ReviewStatus" = 2), count(*) FILTER (WHERE "ReviewStatus" = 3),
                       coalesce(sum("HumanScore"), 0), count("HumanScore"), coalesce(sum("HumanScore" * "HumanScore"), 0)
                FROM {Source} WHERE {InMinutes} GROUP BY {Dims}
                """));
            batch.BatchCommands.Add(Command($"""
                SELECT {Dims}, h.kind, CASE WHEN h.v <= @zero THEN NULL ELSE ceil(ln(h.v) / @loggamma)::int END, count(*)
                FROM {Source} CROSS JOIN LATERAL (VALUES (0, t."LatencyMs"), (1, t."TimeToFirstTokenMs")) AS h(kind, v)
                WHERE {InMinutes} AND h.v IS NOT NULL
                GROUP BY {Dims}, 7, 8
                """));
            batch.BatchCommands.Add(Command($"""
                SELECT {Dims}, coalesce("ReviewReason", ''), count(*) FROM {Source} WHERE {InMinutes} AND "ReviewStatus" = 2 GROUP BY {Dims}, 7
                """));
            batch.BatchCommands.Add(Command($"""
                SELECT {Dims}, s."Name", sum(s."NumericValue"), count(*)
                FROM {Source} JOIN scores s ON s."TraceId" = t."Id" AND s."TeamId" = @team
                WHERE {InMinutes} AND s."NumericValue" IS NOT NULL GROUP BY {Dims}, 7
                """));

            Npgsql.NpgsqlBatchCommand Command(string sql)
            {
                var command = new Npgsql.NpgsqlBatchCommand(sql);
                command.Parameters.AddWithValue("team", teamId);
                command.Parameters.AddWithValue("lo", lo);
                command.Parameters.AddWithValue("hi", hi);
                command.Parameters.AddWithValue("minutes", set);
                command.Parameters.AddWithValue("zero", zero);
                command.Parameters.AddWithValue("loggamma", logGamma);
                return command;
            }

            await using var reader = await batch.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var a = Cell(Dimensions(reader));
                a.Traces = reader.GetInt64(6);
                a.Errors = reader.GetInt64(7);
                a.PromptTokens = reader.GetInt64(8);
                a.CompletionTokens = reader.GetInt64(9);
                a.Cost = reader.GetDecimal(10);
                a.CostSquares = reader.GetDouble(11);
                a.Accepted = reader.GetInt64(12);
                a.Rejected = reader.GetInt64(13);
                a.NeedsReview = reader.GetInt64(14);
                a.HumanScoreSum = reader.GetDouble(15);
                a.HumanScoreCount = reader.GetInt64(16);
                a.HumanScoreSquares = reader.GetDouble(17);
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var a = Cell(Dimensions(reader));
                var histogram = reader.GetInt32(6) == 0 ? a.Latency : a.TimeToFirstToken;
                histogram.AddToBucket(reader.IsDBNull(7) ? null : reader.GetInt32(7), reader.GetInt64(8));
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                Cell(Dimensions(reader)).RejectionReasons[reader.GetString(6)] = reader.GetInt64(7);
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                Cell(Dimensions(reader)).Scores[reader.GetString(6)] = new ScoreTotal(reader.GetDouble(7), reader.GetInt64(8));
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        return cells.Select(c => new RollupCell(c.Key.Item1, c.Key.Item2, c.Value)).ToList();
    }

    private static DimensionRow Dimensions(System.Data.Common.DbDataReader r) =>
        new(r.GetFieldValue<DateTimeOffset>(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5));

    private sealed record DimensionRow(DateTimeOffset Bucket, string Model, string Provider, string Environment, string Experiment, string Variant);

    private sealed record ChangedMinuteRow(Guid TeamId, DateTimeOffset Minute);
}
