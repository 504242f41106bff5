namespace EvalPlatform.Core.Analytics;

/// <summary>What can be measured; <see cref="MetricNames"/> gives the API's snake_case names.</summary>
public enum Metric
{
    Traces,
    Errors,
    ErrorRate,
    LatencyP50,
    LatencyP90,
    LatencyP95,
    LatencyP99,
    TimeToFirstTokenP50,
    TimeToFirstTokenP95,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    Cost,
    Reviewed,
    Accepted,
    Rejected,
    NeedsReview,
    AcceptanceRate,
    HumanScore,

    /// <summary>Rejected over decided (accepted + rejected).</summary>
    RejectionRate,

    /// <summary>Rejections with one reason (the metric's key) over decided traces.</summary>
    ReasonRejectionRate,

    /// <summary>The mean of one named numeric score (the metric's key).</summary>
    ScoreMean,
}

/// <summary>The width of a time bucket. Rollups are kept at each.</summary>
public enum MetricInterval
{
    Minute,
    Hour,
    Day,
}

/// <summary>What a breakdown groups by. The first five are rollup dimensions; the rest are read from the traces.</summary>
public enum AnalyticsDimension
{
    Model,
    Provider,
    Environment,
    Experiment,
    Variant,
    UserId,
    Tag,
    Metadata,
}

/// <summary>
/// Which traces count: those started in [<see cref="From"/>, <see cref="To"/>) that match every filter given
/// (the trace list's filters of the same names). A user id, like a tag, is not a rollup dimension: it reads the traces.
/// </summary>
public sealed record AnalyticsFilter(
    DateTimeOffset From, DateTimeOffset To, string? Model = null, string? Provider = null, string? Environment = null,
    string? Tag = null, string? Experiment = null, string? Variant = null, string? UserId = null)
{
    public TimeSpan Length => To - From;

    /// <summary>The period just before, of the same length: what "the change" on a card compares with.</summary>
    public AnalyticsFilter Previous() => this with { From = From - Length, To = From };
}

/// <summary>
/// A read of the metrics: one <see cref="MetricAggregate"/> per bucket of <see cref="Interval"/> (bucket starts are
/// UTC and aligned to the interval) and per group of <see cref="GroupBy"/> (one group, null, when not grouped).
/// <see cref="MetadataKey"/> names the key when grouping by <see cref="AnalyticsDimension.Metadata"/>. <see cref="StackBy"/>,
/// a second dimension (with <see cref="GroupBy"/>, and another one), splits each group further: one cell per bucket, group
/// and stack.
/// <see cref="Top"/>, when set, lets a reader keep only the <see cref="Top"/> groups with most traces over the whole range
/// (ties by name, ordinal, none first: <see cref="AnalyticsService.TopGroups"/>'s order) and merge the rest per bucket
/// into cells marked <see cref="MetricCell.Rest"/>; a reader may also ignore it (PostgreSQL does this for the dimensions
/// read from the raw traces, where a range holds thousands of users). It is not combined with <see cref="StackBy"/>.
/// </summary>
public sealed record AnalyticsQuery(
    AnalyticsFilter Filter, MetricInterval Interval, AnalyticsDimension? GroupBy = null, string? MetadataKey = null,
    AnalyticsDimension? StackBy = null, int? Top = null);

/// <summary>
/// One bucket of one group (and stack). <see cref="Group"/> is null for "not grouped" and for traces without that
/// dimension; <see cref="Stack"/> likewise for the query's <see cref="AnalyticsQuery.StackBy"/>.
/// <see cref="Rest"/>: the merge of every group past a query's <see cref="AnalyticsQuery.Top"/> (its group is
/// <see cref="AnalyticsService.Others"/>).
/// </summary>
public sealed record MetricCell(DateTimeOffset Bucket, string? Group, MetricAggregate Aggregate, string? Stack = null, bool Rest = false);

/// <summary>
/// Reads the current team's metrics: complete buckets from the rollups, the newest (not yet rolled up) from the raw
/// traces, so a trace stored a moment ago already counts. Implemented per database in Data.
/// </summary>
public interface IMetricsReader
{
    /// <summary>
    /// The cells of <paramref name="query"/>, ordered by bucket then group, for the team in context. Buckets without
    /// traces are left out. A tag filter, and grouping by user, tag or metadata, read the traces themselves.
    /// </summary>
    Task<IReadOnlyList<MetricCell>> ReadAsync(AnalyticsQuery query, CancellationToken ct = default);
}

public static class MetricNames
{
    private static readonly Dictionary<Metric, string> Names = new()
    {
        [Metric.Traces] = "traces",
        [Metric.Errors] = "errors",
        [Metric.ErrorRate] = "error_rate",
        [Metric.LatencyP50] = "latency_p50",
        [Metric.LatencyP90] = "latency_p90",
        [Metric.LatencyP95] = "latency_p95",
        [Metric.LatencyP99] = "latency_p99",
        [Metric.TimeToFirstTokenP50] = "ttft_p50",
        [Metric.TimeToFirstTokenP95] = "ttft_p95",
        [Metric.PromptTokens] = "prompt_tokens",
        [Metric.CompletionTokens] = "completion_tokens",
        [Metric.TotalTokens] = "total_tokens",
        [Metric.Cost] = "cost",
        [Metric.Reviewed] = "reviewed",
        [Metric.Accepted] = "accepted",
        [Metric.Rejected] = "rejected",
        [Metric.NeedsReview] = "needs_review",
        [Metric.AcceptanceRate] = "acceptance_rate",
        [Metric.HumanScore] = "human_score",
        [Metric.RejectionRate] = "rejection_rate",
        [Metric.ReasonRejectionRate] = "reason_rejection_rate",
        [Metric.ScoreMean] = "score_mean",
    };

    private static readonly Dictionary<string, Metric> ByName = Names.ToDictionary(p => p.Value, p => p.Key, StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyCollection<string> All => Names.Values;

    public static string Name(this Metric metric) => Names[metric];

    public static bool TryParse(string? name, out Metric metric) => ByName.TryGetValue(name ?? "", out metric);

    /// <summary>Rates and means (bounded, compared as proportions or means), not counts.</summary>
    public static bool IsRate(this Metric metric) => metric is Metric.ErrorRate or Metric.AcceptanceRate or Metric.RejectionRate or Metric.ReasonRejectionRate;

    /// <summary>Metrics of one named thing (a rejection reason, a score's name), given as the metric's key; without one their value is undefined.</summary>
    public static bool NeedsKey(this Metric metric) => metric is Metric.ReasonRejectionRate or Metric.ScoreMean;

    /// <summary>Whether a rise is bad news (errors, latency, cost): how trends word a change.</summary>
    public static bool HigherIsWorse(this Metric metric) => metric is Metric.Errors or Metric.ErrorRate or Metric.LatencyP50
        or Metric.LatencyP90 or Metric.LatencyP95 or Metric.LatencyP99 or Metric.TimeToFirstTokenP50 or Metric.TimeToFirstTokenP95
        or Metric.Cost or Metric.Rejected or Metric.NeedsReview or Metric.RejectionRate or Metric.ReasonRejectionRate;
}

public static class MetricIntervals
{
    public static TimeSpan Length(this MetricInterval interval) => interval switch
    {
        MetricInterval.Minute => TimeSpan.FromMinutes(1),
        MetricInterval.Hour => TimeSpan.FromHours(1),
        _ => TimeSpan.FromDays(1),
    };

    /// <summary>The start of the bucket holding <paramref name="time"/> (UTC).</summary>
    public static DateTimeOffset Floor(this MetricInterval interval, DateTimeOffset time)
    {
        var ticks = time.UtcTicks - (time.UtcTicks % interval.Length().Ticks);
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    /// <summary>The interval that gives a chart of a range between ~30 and ~1,500 points: minutes up to 6 h, hours up to 14 d, then days.</summary>
    public static MetricInterval Fit(TimeSpan range) =>
        range <= TimeSpan.FromHours(6) ? MetricInterval.Minute : range <= TimeSpan.FromDays(14) ? MetricInterval.Hour : MetricInterval.Day;

    public static string Name(this MetricInterval interval) => interval switch
    {
        MetricInterval.Minute => "minute",
        MetricInterval.Hour => "hour",
        _ => "day",
    };

    public static bool TryParse(string? name, out MetricInterval interval)
    {
        foreach (var candidate in Enum.GetValues<MetricInterval>())
        {
            if (string.Equals(candidate.Name(), name, StringComparison.OrdinalIgnoreCase))
            {
                interval = candidate;
                return true;
            }
        }

        interval = default;
        return false;
    }
}

/// <summary>Keeps the rollups current: the minute job's one call, also run on demand. Idempotent: a bucket is recomputed from the raw rows, never added to.</summary>
public interface IMetricsRollup
{
    /// <summary>Recomputes every bucket that traces, reviews or scores touched since the last run, for every team.</summary>
    Task<RollupRun> RollUpAsync(CancellationToken ct = default);
}

/// <summary>What a rollup run did: the buckets (team × hour) it recomputed, those that failed (kept for the next run), and the traces it read.</summary>
public sealed record RollupRun(int HoursRecomputed, int HoursFailed, long TracesRead);
