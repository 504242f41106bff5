using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Analytics;

/// <summary>One group of a breakdown: its name (null: traces without it; <see cref="AnalyticsService.Others"/>: the rest merged).</summary>
public sealed record GroupTotal(string? Group, MetricAggregate Aggregate);

/// <summary>A point of a time series: the bucket's start, the metric's value (null where undefined) and what it rests on.</summary>
public sealed record MetricPoint(DateTimeOffset T, double? Value, long N);

/// <summary>One line of a time series: a group (and, stacked, a stack within it), its points.</summary>
public sealed record MetricSeries(string? Group, IReadOnlyList<MetricPoint> Points, string? Stack = null);

/// <summary>One segment of a stacked breakdown: a group of the first dimension, a stack of the second, merged over the range.</summary>
public sealed record StackTotal(string? Group, string? Stack, MetricAggregate Aggregate);

public sealed record TimeSeriesResult(Metric Metric, MetricInterval Interval, IReadOnlyList<MetricSeries> Series);

/// <summary>
/// The current team's metrics for the dashboard, the API, alerts, trends and experiments: reads through
/// <see cref="IMetricsReader"/>, checks the permission and the range, and derives every figure from
/// <see cref="MetricAggregate"/>, so each metric has one definition.
/// </summary>
public sealed class AnalyticsService(IMetricsReader reader, ITeamContext team)
{
    /// <summary>The name of the merged rest of a top-N breakdown.</summary>
    public const string Others = "others";

    public const int DefaultTop = 10;

    /// <summary>The longest range a query may span.</summary>
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(400);

    /// <summary>The most buckets one time series may have (e.g. 5 days by the minute is 7,200 and refused).</summary>
    public const int MaxBuckets = 5000;

    /// <summary>All traces of the range that match the filters, merged.</summary>
    public async Task<MetricAggregate> SummaryAsync(AnalyticsFilter filter, CancellationToken ct = default)
    {
        filter = Check(filter);
        var cells = await reader.ReadAsync(new AnalyticsQuery(filter, MetricInterval.Day), ct);
        return Merge(cells.Select(c => c.Aggregate));
    }

    /// <summary>The cells of a query, as read: what a page uses to draw several charts from one read.</summary>
    public async Task<IReadOnlyList<MetricCell>> CellsAsync(AnalyticsQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filter = Check(query.Filter);
        CheckBuckets(filter, query.Interval);
        if (query.GroupBy == AnalyticsDimension.Metadata && string.IsNullOrWhiteSpace(query.MetadataKey))
        {
            throw new DomainValidationException("metadata_key", "Grouping by metadata needs the metadata key.");
        }

        if (query.StackBy is { } stackBy)
        {
            if (query.GroupBy is not { } groupBy || groupBy == stackBy)
            {
                throw new DomainValidationException("group_by", "Stacking needs two different dimensions: the group and the stack.");
            }

            if (stackBy == AnalyticsDimension.Metadata && string.IsNullOrWhiteSpace(query.MetadataKey))
            {
                throw new DomainValidationException("metadata_key", "Grouping by metadata needs the metadata key.");
            }
        }

        return await reader.ReadAsync(query with { Filter = filter }, ct);
    }

    /// <summary>
    /// One series per group (the <paramref name="top"/> groups with most traces, the rest merged into
    /// <see cref="Others"/>), a point per bucket that has traces.
    /// </summary>
    public async Task<TimeSeriesResult> TimeSeriesAsync(AnalyticsQuery query, Metric metric, int top = DefaultTop, CancellationToken ct = default)
    {
        // Top lets a reader fold the long tail of groups itself; a stacked read keeps every group (the stacks pick their own top).
        var cells = await CellsAsync(query.StackBy is null ? query with { Top = top } : query, ct);
        return ToSeries(cells, query.Interval, metric, top, stacked: query.StackBy is not null);
    }

    /// <summary>Groups by <paramref name="by"/> over the whole range, most traces first, top <paramref name="top"/> plus <see cref="Others"/>.</summary>
    public async Task<IReadOnlyList<GroupTotal>> BreakdownAsync(
        AnalyticsFilter filter, AnalyticsDimension by, string? metadataKey = null, int top = DefaultTop, CancellationToken ct = default)
    {
        var cells = await CellsAsync(new AnalyticsQuery(filter, MetricInterval.Day, by, metadataKey, Top: top), ct);
        return TopGroups(cells, top);
    }

    /// <summary>Cells to series: pure, so a page that has the cells draws each chart without reading again.</summary>
    /// <remarks>
    /// <paramref name="stacked"/> (cells of a query with <see cref="AnalyticsQuery.StackBy"/>): one series per group and
    /// stack, the top groups as above and, within them, the <paramref name="top"/> stacks with most traces over the whole
    /// range (one set of stacks for every group, so a stack keeps its name and colour across groups), the rest of each
    /// group merged into the stack <see cref="Others"/>.
    /// </remarks>
    public static TimeSeriesResult ToSeries(IReadOnlyList<MetricCell> cells, MetricInterval interval, Metric metric, int top = DefaultTop, bool stacked = false)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var keep = TopGroups(cells, top).Select(g => g.Group).ToHashSet();
        var keepStacks = stacked ? TopStackNames(cells, top) : null;
        var series = cells
            .GroupBy(c => (Group: !c.Rest && keep.Contains(c.Group) ? c.Group : Others, Stack: keepStacks is null ? null : keepStacks.Contains(c.Stack) ? c.Stack : Others))
            .Select(g => new MetricSeries(g.Key.Group, g
                .GroupBy(c => c.Bucket)
                .OrderBy(b => b.Key)
                .Select(b =>
                {
                    var merged = Merge(b.Select(c => c.Aggregate));
                    return new MetricPoint(b.Key, merged.Value(metric), merged.Observations(metric));
                })
                .ToList(), g.Key.Stack))
            .OrderByDescending(s => s.Points.Sum(p => p.N))
            .ToList();
        return new TimeSeriesResult(metric, interval, series);
    }

    /// <summary>
    /// Stacked cells merged over time: one total per group and stack, the top <paramref name="top"/> groups (most traces)
    /// plus <see cref="Others"/>, and within them the top <paramref name="top"/> stacks over the range plus <see cref="Others"/>.
    /// Groups in order of traces, stacks likewise within a group.
    /// </summary>
    public static IReadOnlyList<StackTotal> TopStacks(IReadOnlyList<MetricCell> cells, int top = DefaultTop)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var groups = TopGroups(cells, top).Select((g, i) => (g.Group, i)).ToDictionary(p => p.Group ?? "\0", p => p.i);
        var stacks = TopStackNames(cells, top);
        return cells
            .GroupBy(c => (Group: groups.ContainsKey(c.Group ?? "\0") ? c.Group : Others, Stack: stacks.Contains(c.Stack) ? c.Stack : Others))
            .Select(g => new StackTotal(g.Key.Group, g.Key.Stack, Merge(g.Select(c => c.Aggregate))))
            .OrderBy(t => groups.GetValueOrDefault(t.Group ?? "\0", int.MaxValue))
            .ThenByDescending(t => t.Aggregate.Traces).ThenBy(t => t.Stack, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The <paramref name="top"/> stacks with most traces (every stack when there are no more than that).</summary>
    private static HashSet<string?> TopStackNames(IReadOnlyList<MetricCell> cells, int top)
    {
        var ranked = cells.GroupBy(c => c.Stack).Select(g => (Stack: g.Key, Traces: g.Sum(c => c.Aggregate.Traces)))
            .OrderByDescending(s => s.Traces).ThenBy(s => s.Stack, StringComparer.Ordinal).ToList();
        return ranked.Count <= top ? ranked.Select(s => s.Stack).ToHashSet() : ranked.Take(top).Select(s => s.Stack).ToHashSet();
    }

    /// <summary>
    /// Cells merged per group, most traces first; past <paramref name="top"/> groups the rest are one <see cref="Others"/>,
    /// with the cells a reader already merged as the rest (<see cref="MetricCell.Rest"/>).
    /// </summary>
    public static IReadOnlyList<GroupTotal> TopGroups(IReadOnlyList<MetricCell> cells, int top = DefaultTop)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var groups = cells.Where(c => !c.Rest).GroupBy(c => c.Group)
            .Select(g => new GroupTotal(g.Key, Merge(g.Select(c => c.Aggregate))))
            .OrderByDescending(g => g.Aggregate.Traces).ThenBy(g => g.Group, StringComparer.Ordinal)
            .ToList();
        var merged = cells.Where(c => c.Rest).Select(c => c.Aggregate).ToList();
        if (groups.Count <= top && merged.Count == 0)
        {
            return groups;
        }

        var rest = Merge(groups.Skip(top).Select(g => g.Aggregate).Concat(merged));
        return [.. groups.Take(top), new GroupTotal(Others, rest)];
    }

    public static MetricAggregate Merge(IEnumerable<MetricAggregate> aggregates)
    {
        var merged = new MetricAggregate();
        foreach (var aggregate in aggregates)
        {
            merged.Merge(aggregate);
        }

        return merged;
    }

    /// <summary>The range to the minute (rollups are exact at minute bounds), checked; the permission checked.</summary>
    private AnalyticsFilter Check(AnalyticsFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Reading analytics needs an API key with the 'read' scope.");
        }

        filter = filter with { From = MetricInterval.Minute.Floor(filter.From), To = MetricInterval.Minute.Floor(filter.To) };
        if (filter.To <= filter.From)
        {
            throw new DomainValidationException("to", "'to' must be at least a minute after 'from'.");
        }

        if (filter.Length > MaxRange)
        {
            throw new DomainValidationException("from", $"A range may span at most {MaxRange.TotalDays:0} days.");
        }

        return filter;
    }

    private static void CheckBuckets(AnalyticsFilter filter, MetricInterval interval)
    {
        var buckets = Math.Ceiling(filter.Length / interval.Length());
        if (buckets > MaxBuckets)
        {
            throw new DomainValidationException("interval", $"'{interval.Name()}' gives {buckets:0} points over this range; at most {MaxBuckets} are drawn. Pick a wider interval.");
        }
    }
}
