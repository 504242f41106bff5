using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Analytics;

/// <summary>One group of a breakdown: its name (null: traces without it; <see cref="AnalyticsService.Others"/>: the rest merged).</summary>
public sealed record GroupTotal(string? Group, MetricAggregate Aggregate);

/// <summary>A point of a time series: the bucket's start, the metric's value (null where undefined) and what it rests on.</summary>
public sealed record MetricPoint(DateTimeOffset T, double? Value, long N);

public sealed record MetricSeries(string? Group, IReadOnlyList<MetricPoint> Points);

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

        return await reader.ReadAsync(query with { Filter = filter }, ct);
    }

    /// <summary>
    /// One series per group (the <paramref name="top"/> groups with most traces, the rest merged into
    /// <see cref="Others"/>), a point per bucket that has traces.
    /// </summary>
    public async Task<TimeSeriesResult> TimeSeriesAsync(AnalyticsQuery query, Metric metric, int top = DefaultTop, CancellationToken ct = default)
    {
        var cells = await CellsAsync(query with { Top = top }, ct);
        return ToSeries(cells, query.Interval, metric, top);
    }

    /// <summary>Groups by <paramref name="by"/> over the whole range, most traces first, top <paramref name="top"/> plus <see cref="Others"/>.</summary>
    public async Task<IReadOnlyList<GroupTotal>> BreakdownAsync(
        AnalyticsFilter filter, AnalyticsDimension by, string? metadataKey = null, int top = DefaultTop, CancellationToken ct = default)
    {
        var cells = await CellsAsync(new AnalyticsQuery(filter, MetricInterval.Day, by, metadataKey, top), ct);
        return TopGroups(cells, top);
    }

    /// <summary>Cells to series: pure, so a page that has the cells draws each chart without reading again.</summary>
    public static TimeSeriesResult ToSeries(IReadOnlyList<MetricCell> cells, MetricInterval interval, Metric metric, int top = DefaultTop)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var keep = TopGroups(cells, top).Select(g => g.Group).ToHashSet();
        var series = cells
            .GroupBy(c => !c.Rest && keep.Contains(c.Group) ? c.Group : Others)
            .Select(g => new MetricSeries(g.Key, g
                .GroupBy(c => c.Bucket)
                .OrderBy(b => b.Key)
                .Select(b =>
                {
                    var merged = Merge(b.Select(c => c.Aggregate));
                    return new MetricPoint(b.Key, merged.Value(metric), merged.Observations(metric));
                })
                .ToList()))
            .OrderByDescending(s => s.Points.Sum(p => p.N))
            .ToList();
        return new TimeSeriesResult(metric, interval, series);
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
