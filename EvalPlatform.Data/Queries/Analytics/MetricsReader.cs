using System.Data;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace EvalPlatform.Data.Queries.Analytics;

/// <summary>
/// The current team's metrics (ADR 17): whole days, hours and minutes before the rollup's live edge from the rollup
/// rows (never a coarser row than the query's interval, never a row that holds a stale minute), and the rest (from the
/// live edge on, and every minute still marked dirty) from the raw traces, so a trace stored a moment ago counts at
/// once and nothing is counted twice. A tag filter, and grouping by user, tag or metadata, read the raw traces for the
/// whole range. One snapshot (a repeatable-read transaction) for the whole read. Team-scoped by the query filters.
/// </summary>
internal sealed class MetricsReader(IEvalDbContextFactory dbFactory, DatabaseTarget target, ITeamContext team) : IMetricsReader
{
    public async Task<IReadOnlyList<MetricCell>> ReadAsync(AnalyticsQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var f = query.Filter;
        var cells = new Dictionary<(DateTimeOffset Bucket, string? Group, string? Stack), MetricAggregate>();
        if (f.To <= f.From)
        {
            return [];
        }

        await using var db = await dbFactory.CreateAsync(ct);
        await using var snapshot = await db.Database.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        var rawOnly = f.Tag is not null || f.UserId is not null || (query.GroupBy is { } g && !RollupDimensions.IsRollupDimension(g))
            || (query.StackBy is { } st && !RollupDimensions.IsRollupDimension(st));
        var edge = f.From;
        var dirty = new HashSet<DateTimeOffset>();
        if (!rawOnly)
        {
            var state = await db.MetricRollupStates.AsNoTracking().SingleOrDefaultAsync(s => s.Id == MetricRollupState.SingletonId, ct);
            edge = Clamp(state?.RolledThrough ?? f.From, f.From, f.To);
            if (edge > f.From)
            {
                var from = f.From;
                dirty = (await db.MetricDirtyMinutes.Where(m => m.Minute >= from && m.Minute < edge).Select(m => m.Minute).Distinct().ToListAsync(ct))
                    .ToHashSet();
            }
        }

        var plan = Plan(f.From, edge, query.Interval, dirty);
        foreach (var (interval, ranges) in plan.Rollups)
        {
            var rows = Filter(db.MetricRollups.AsNoTracking().Where(r => r.Interval == interval), f)
                .Where(TimeRanges.Within<MetricRollup>(r => r.Bucket, ranges));
            await foreach (var row in rows.AsAsyncEnumerable().WithCancellation(ct))
            {
                var key = (query.Interval.Floor(row.Bucket), query.GroupBy is { } by ? row.Dimensions.Get(by) : null,
                    query.StackBy is { } stackBy ? row.Dimensions.Get(stackBy) : null);
                row.MergeInto(Cell(cells, key));
            }
        }

        var raw = TimeRanges.Merge([.. plan.Raw, (edge, f.To)]);
        if (raw.Count > 0)
        {
            Dictionary<(DateTimeOffset, string?, string?), MetricAggregate> found;
            if (target.Provider == DatabaseProvider.Postgres && team.TeamId is { } teamId)
            {
                found = await PostgresRawAsync(db, teamId, raw, query, ct);
            }
            else
            {
                var traces = Filter(db.Traces.Where(TimeRanges.Within<Trace>(t => t.StartedAt, raw)), f);
                var byGroup = (query.GroupBy is { } by && !RollupDimensions.IsRollupDimension(by))
                    || (query.StackBy is { } sb && !RollupDimensions.IsRollupDimension(sb));
                found = await RawTraceAggregator.AggregateAsync<(DateTimeOffset, string?, string?)>(traces, db.Scores, byGroup,
                    t =>
                    {
                        var bucket = query.Interval.Floor(t.StartedAt);
                        IEnumerable<string?> groups = query.GroupBy is { } d ? RawTraceAggregator.Groups(t, d, query.MetadataKey) : [null];
                        IEnumerable<string?> stacks = query.StackBy is { } e ? RawTraceAggregator.Groups(t, e, query.MetadataKey) : [null];
                        return groups.SelectMany(group => stacks.Select(stack => (bucket, group, stack)));
                    },
                    ct);
            }

            foreach (var (key, aggregate) in found)
            {
                Cell(cells, key).Merge(aggregate);
            }
        }

        return cells
            .OrderBy(c => c.Key.Bucket).ThenBy(c => c.Key.Group is not null).ThenBy(c => c.Key.Group, StringComparer.Ordinal)
            .ThenBy(c => c.Key.Stack is not null).ThenBy(c => c.Key.Stack, StringComparer.Ordinal)
            .Select(c => c.Key.Group == RestGroup
                ? new MetricCell(c.Key.Bucket, AnalyticsService.Others, c.Value, c.Key.Stack, Rest: true)
                : new MetricCell(c.Key.Bucket, c.Key.Group, c.Value, c.Key.Stack))
            .ToList();
    }

    /// <summary>The key of the merged rest of a top-N read: PostgreSQL text never holds a NUL, so no group's own name is this.</summary>
    private const string RestGroup = "\0rest";

    /// <summary>
    /// PostgreSQL: the raw part folded in the database (<see cref="PostgresAggregation"/>), bucketed by
    /// <c>date_bin</c> (UTC days, hours, minutes, as <see cref="MetricIntervals.Floor"/>), grouped by the dimension
    /// (a trace under each of its distinct tags; a metadata key read as text), with the trace list's filters. The team
    /// is the scope's, as the query filter's.
    /// </summary>
    private static async Task<Dictionary<(DateTimeOffset, string?, string?), MetricAggregate>> PostgresRawAsync(
        IEvalDbContext db, Guid teamId, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> ranges, AnalyticsQuery query, CancellationToken ct)
    {
        var f = query.Filter;
        var parameters = new List<(string Name, object Value)> { ("team", teamId), ("width", query.Interval.Length()) };
        var within = string.Join(" OR ", ranges.Select((r, i) =>
        {
            parameters.Add(($"f{i}", r.From.ToUniversalTime()));
            parameters.Add(($"t{i}", r.To.ToUniversalTime()));
            return $"(\"StartedAt\" >= @f{i} AND \"StartedAt\" < @t{i})";
        }));
        var filters = new List<string>();
        foreach (var (column, value) in new[] { ("Model", f.Model), ("Provider", f.Provider), ("Environment", f.Environment), ("Experiment", f.Experiment), ("Variant", f.Variant), ("UserId", f.UserId) })
        {
            if (value is not null)
            {
                parameters.Add((column.ToLowerInvariant(), value));
                filters.Add($" AND \"{column}\" = @{column.ToLowerInvariant()}");
            }
        }

        if (f.Tag is not null)
        {
            parameters.Add(("tag", f.Tag));
            filters.Add(" AND @tag = ANY(\"Tags\")");
        }

        var join = "";
        var group = GroupColumn(query.GroupBy);
        var stack = GroupColumn(query.StackBy);
        if (query.GroupBy == AnalyticsDimension.Tag || query.StackBy == AnalyticsDimension.Tag)
        {
            join = " LEFT JOIN LATERAL unnest(CASE WHEN cardinality(\"Tags\") = 0 THEN ARRAY[NULL::text] ELSE ARRAY(SELECT DISTINCT x FROM unnest(\"Tags\") AS x) END) AS g(tag) ON true";
        }

        if (query.GroupBy == AnalyticsDimension.Metadata || query.StackBy == AnalyticsDimension.Metadata)
        {
            parameters.Add(("metakey", query.MetadataKey ?? ""));
        }

        var where = $"\"TeamId\" = @team AND ({within}){string.Concat(filters)}";
        var rest = "false";
        if (query.Top is { } top && query.GroupBy is { } by && !RollupDimensions.IsRollupDimension(by))
        {
            // Top N: the groups with most traces over the whole range, in TopGroups' order (traces, then the name
            // byte-wise, which is ordinal; none first), read first in the same snapshot; every other group is folded
            // into one rest group per bucket in the database, so a day of 2,000 users is 11 groups, not 2,000.
            var (names, withNone, more) = await TopGroupsAsync(db, $"SELECT {group} AS g FROM traces{join} WHERE {where}", parameters, top, ct);
            if (more)
            {
                parameters.Add(("topnames", names));
                parameters.Add(("topnone", withNone));
                rest = $"CASE WHEN ({group}) IS NULL THEN NOT @topnone ELSE NOT (({group}) = ANY(@topnames)) END";
                group = $"CASE WHEN {rest} THEN NULL ELSE {group} END";
            }
        }

        var source = $"""
            (SELECT date_bin(@width, "StartedAt", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS "Bucket", {group} AS "Group", {stack} AS "Stack", {rest} AS "Rest",
                    {PostgresAggregation.TraceColumns}
             FROM traces{join} WHERE {where}) AS t
            """;
        return await PostgresAggregation.AggregateAsync(db, source, ["\"Bucket\"", "\"Group\"", "\"Stack\"", "\"Rest\""],
            r => (r.GetFieldValue<DateTimeOffset>(0).ToUniversalTime(), r.GetBoolean(3) ? RestGroup : PostgresAggregation.NullableString(r, 1),
                PostgresAggregation.NullableString(r, 2)),
            parameters, teamId, ct);
    }

    /// <summary>
    /// The <paramref name="top"/> groups of <paramref name="groups"/> (a query of one column <c>g</c>) with most rows, ties by
    /// name byte-wise (UTF-8 bytes order as ordinal UTF-16 does outside the surrogate range), none first; whether "none"
    /// is among them, and whether there are more groups than that.
    /// </summary>
    private static async Task<(string[] Names, bool WithNone, bool More)> TopGroupsAsync(
        IEvalDbContext db, string groups, IReadOnlyList<(string Name, object Value)> parameters, int top, CancellationToken ct)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var transaction = (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await using var command = new NpgsqlCommand(
                $"SELECT g FROM ({groups}) AS s GROUP BY g ORDER BY count(*) DESC, g COLLATE \"C\" NULLS FIRST LIMIT @limit", connection, transaction);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            command.Parameters.AddWithValue("limit", top + 1);
            var names = new List<string>();
            var withNone = false;
            var rows = 0;
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                if (++rows > top)
                {
                    break;
                }

                if (reader.IsDBNull(0))
                {
                    withNone = true;
                }
                else
                {
                    names.Add(reader.GetString(0));
                }
            }

            return ([.. names], withNone, rows > top);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>The SQL of a dimension's value per trace (NULL when not grouped); a tag comes from the lateral join <c>g</c>.</summary>
    private static string GroupColumn(AnalyticsDimension? dimension) => dimension switch
    {
        null => "NULL::text",
        AnalyticsDimension.Model => "\"Model\"",
        AnalyticsDimension.Provider => "\"Provider\"",
        AnalyticsDimension.Environment => "\"Environment\"",
        AnalyticsDimension.Experiment => "\"Experiment\"",
        AnalyticsDimension.Variant => "\"Variant\"",
        AnalyticsDimension.UserId => "\"UserId\"",
        AnalyticsDimension.Tag => "g.tag",
        AnalyticsDimension.Metadata => "(\"Metadata\"::jsonb ->> @metakey)",
        _ => throw new ArgumentOutOfRangeException(nameof(dimension)),
    };

    /// <summary>
    /// How [<paramref name="from"/>, <paramref name="edge"/>) is read: greedily the widest whole bucket allowed (a day,
    /// then an hour, at most the query's interval) that holds no dirty minute, else the minute's row, else (dirty) the raw
    /// minute. Adjacent pieces of one kind merge into one range, so a clean month is a handful of ranges.
    /// </summary>
    internal static ReadPlan Plan(DateTimeOffset from, DateTimeOffset edge, MetricInterval interval, IReadOnlySet<DateTimeOffset> dirty)
    {
        var dirtyHours = dirty.Select(m => MetricInterval.Hour.Floor(m)).ToHashSet();
        var dirtyDays = dirty.Select(m => MetricInterval.Day.Floor(m)).ToHashSet();
        var pieces = new Dictionary<MetricInterval, List<(DateTimeOffset, DateTimeOffset)>>
        {
            [MetricInterval.Minute] = [], [MetricInterval.Hour] = [], [MetricInterval.Day] = [],
        };
        var raw = new List<(DateTimeOffset, DateTimeOffset)>();
        var t = from;
        while (t < edge)
        {
            var step = MetricInterval.Minute;
            if (interval >= MetricInterval.Day && Fits(t, edge, MetricInterval.Day) && !dirtyDays.Contains(t))
            {
                step = MetricInterval.Day;
            }
            else if (interval >= MetricInterval.Hour && Fits(t, edge, MetricInterval.Hour) && !dirtyHours.Contains(t))
            {
                step = MetricInterval.Hour;
            }

            var next = t + step.Length();
            if (step == MetricInterval.Minute && dirty.Contains(t))
            {
                raw.Add((t, next));
            }
            else
            {
                pieces[step].Add((t, next));
            }

            t = next;
        }

        return new ReadPlan(
            pieces.Where(p => p.Value.Count > 0).Select(p => (p.Key, TimeRanges.Merge(p.Value))).ToList(),
            TimeRanges.Merge(raw));
    }

    internal sealed record ReadPlan(
        IReadOnlyList<(MetricInterval Interval, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Ranges)> Rollups,
        IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Raw);

    private static bool Fits(DateTimeOffset t, DateTimeOffset edge, MetricInterval interval) =>
        interval.Floor(t) == t && t + interval.Length() <= edge;

    private static DateTimeOffset Clamp(DateTimeOffset t, DateTimeOffset min, DateTimeOffset max) => t < min ? min : t > max ? max : t;

    private static MetricAggregate Cell(Dictionary<(DateTimeOffset, string?, string?), MetricAggregate> cells, (DateTimeOffset, string?, string?) key)
    {
        if (!cells.TryGetValue(key, out var aggregate))
        {
            cells[key] = aggregate = new MetricAggregate();
        }

        return aggregate;
    }

    private static IQueryable<MetricRollup> Filter(IQueryable<MetricRollup> rows, AnalyticsFilter f)
    {
        if (f.Model is { } model)
        {
            rows = rows.Where(r => r.Model == model);
        }

        if (f.Provider is { } provider)
        {
            rows = rows.Where(r => r.Provider == provider);
        }

        if (f.Environment is { } environment)
        {
            rows = rows.Where(r => r.Environment == environment);
        }

        if (f.Experiment is { } experiment)
        {
            rows = rows.Where(r => r.Experiment == experiment);
        }

        if (f.Variant is { } variant)
        {
            rows = rows.Where(r => r.Variant == variant);
        }

        return rows;
    }

    /// <summary>The trace list's filters of the same names, for the raw reads (the range is applied by the caller).</summary>
    private static IQueryable<Trace> Filter(IQueryable<Trace> traces, AnalyticsFilter f) => TraceQueries.Apply(traces, new TraceFilter(
        Model: f.Model, Provider: f.Provider, Tag: f.Tag, Environment: f.Environment, Experiment: f.Experiment, Variant: f.Variant, UserId: f.UserId));
}
