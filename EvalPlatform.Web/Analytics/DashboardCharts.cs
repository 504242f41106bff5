using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Web.Analytics;

/// <summary>One line of a time chart: a value per bucket of the chart (null: nothing to show there).</summary>
public sealed record ChartLine(string Name, IReadOnlyList<double?> Values, bool Previous = false, string? Group = null, Metric Metric = Metric.Traces);

/// <summary>
/// A time chart of the dashboard, drawn from cells already read: every bucket of the range in order (so empty
/// buckets show as zero or a gap), its lines, and what each line's group is when broken down.
/// </summary>
public sealed record TimeChart(
    string Id, string Title, Metric Unit, MetricInterval Interval, IReadOnlyList<DateTimeOffset> Buckets, IReadOnlyList<ChartLine> Lines,
    IReadOnlyList<Metric> Metrics, AnalyticsDimension? By)
{
    /// <summary>The chart's figures: one row per bucket (its start and end, UTC), one column per line.</summary>
    public string Csv() => AnalyticsCsv.Write(
        ["bucket_start", "bucket_end", .. Lines.Select(l => l.Name)],
        Buckets.Select((b, i) => (IReadOnlyList<object?>)[b, b + Interval.Length(), .. Lines.Select(l => (object?)l.Values[i])]));
}

/// <summary>Builds the dashboard's time charts from one read of cells (and the previous period's, for the overlay).</summary>
public static class DashboardCharts
{
    private sealed record Definition(string Id, string Title, Metric[] Metrics, Metric Grouped);

    private static readonly Definition[] Definitions =
    [
        new("volume", "Volume and errors", [Metric.Traces, Metric.Errors], Metric.Traces),
        new("latency", "Latency", [Metric.LatencyP50, Metric.LatencyP95, Metric.LatencyP99], Metric.LatencyP95),
        new("tokens", "Tokens", [Metric.PromptTokens, Metric.CompletionTokens], Metric.TotalTokens),
        new("cost", "Cost", [Metric.Cost], Metric.Cost),
        new("acceptance", "Acceptance rate", [Metric.AcceptanceRate], Metric.AcceptanceRate),
        new("reviews", "Reviews done", [Metric.Reviewed, Metric.Accepted, Metric.Rejected], Metric.Reviewed),
        new("score", "Mean human score", [Metric.HumanScore], Metric.HumanScore),
    ];

    /// <summary>Every bucket start of the range, in order.</summary>
    public static IReadOnlyList<DateTimeOffset> Buckets(AnalyticsFilter filter, MetricInterval interval)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var buckets = new List<DateTimeOffset>();
        for (var b = interval.Floor(filter.From); b < filter.To; b += interval.Length())
        {
            buckets.Add(b);
        }

        return buckets;
    }

    /// <summary>
    /// The charts. Not broken down, each shows its metrics; broken down (<paramref name="by"/>), each shows its main
    /// metric per group (top 10 plus "others"). <paramref name="previous"/> (the period before, not grouped) adds a
    /// line per metric, shifted onto this period's buckets.
    /// </summary>
    public static IReadOnlyList<TimeChart> Build(
        AnalyticsFilter filter, MetricInterval interval, IReadOnlyList<MetricCell> cells, IReadOnlyList<MetricCell>? previous, AnalyticsDimension? by)
    {
        var buckets = Buckets(filter, interval);
        // Groups keep one order (most traces first) and so one colour across every chart.
        var order = AnalyticsService.TopGroups(cells).Select((g, i) => (g.Group, i)).ToDictionary(p => p.Group ?? "\0", p => p.i);
        var charts = new List<TimeChart>();
        foreach (var definition in Definitions)
        {
            var lines = new List<ChartLine>();
            var metrics = by is null ? definition.Metrics : [definition.Grouped];
            foreach (var metric in metrics)
            {
                foreach (var series in AnalyticsService.ToSeries(cells, interval, metric).Series.OrderBy(s => order.GetValueOrDefault(s.Group ?? "\0", int.MaxValue)))
                {
                    var name = by is null ? MetricText.Label(metric) : GroupName(series.Group);
                    lines.Add(new ChartLine(name, Align(series.Points, buckets, TimeSpan.Zero, metric), Group: series.Group, Metric: metric));
                }

                if (by is null && lines.All(l => l.Metric != metric))
                {
                    lines.Add(new ChartLine(MetricText.Label(metric), Align([], buckets, TimeSpan.Zero, metric), Metric: metric));
                }
            }

            if (previous is not null)
            {
                foreach (var metric in metrics)
                {
                    var points = AnalyticsService.ToSeries(previous, interval, metric).Series.SelectMany(s => s.Points).ToList();
                    var name = (by is null ? MetricText.Label(metric) : "All traces") + " (previous period)";
                    lines.Add(new ChartLine(name, Align(points, buckets, filter.Length, metric), Previous: true, Metric: metric));
                }
            }

            charts.Add(new TimeChart(definition.Id, definition.Title, definition.Grouped, interval, buckets, lines, metrics, by));
        }

        return charts;
    }

    /// <summary>How a group shows: a name, "(none)" for traces without the dimension, "Others" for the merged rest.</summary>
    public static string GroupName(string? group) => group switch
    {
        null => "(none)",
        AnalyticsService.Others => "Others",
        _ => group,
    };

    /// <summary>Points onto the chart's buckets (shifted forward by <paramref name="shift"/>): counts are 0 where nothing happened, rates and quantiles undefined.</summary>
    private static List<double?> Align(IReadOnlyList<MetricPoint> points, IReadOnlyList<DateTimeOffset> buckets, TimeSpan shift, Metric metric)
    {
        var byBucket = points.ToDictionary(p => p.T + shift, p => p.Value);
        var zero = IsCount(metric) ? 0d : (double?)null;
        return buckets.Select(b => byBucket.TryGetValue(b, out var v) ? v : zero).ToList();
    }

    /// <summary>Counts and sums (zero where nothing happened), as opposed to rates, means and quantiles.</summary>
    public static bool IsCount(Metric metric) => metric is Metric.Traces or Metric.Errors or Metric.PromptTokens or Metric.CompletionTokens
        or Metric.TotalTokens or Metric.Cost or Metric.Reviewed or Metric.Accepted or Metric.Rejected or Metric.NeedsReview;
}
