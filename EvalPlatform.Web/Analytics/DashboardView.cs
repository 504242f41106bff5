using System.Globalization;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Traces;
using Microsoft.AspNetCore.WebUtilities;

namespace EvalPlatform.Web.Analytics;

/// <summary>
/// What the dashboard shows, as it lives in the page's address: the range (a relative one such as "24h", or
/// "custom" with from/to), an interval chosen by hand (else fitted to the range), the trace list's filters (same
/// names as there and in the API), the previous-period overlay and the "break down by" dimension. Reload, share,
/// back and forward all give the same view.
/// </summary>
public sealed record DashboardView(
    string Range = DashboardView.DefaultRange, DateTimeOffset? From = null, DateTimeOffset? To = null, MetricInterval? Interval = null,
    string? Model = null, string? Provider = null, string? Environment = null, string? Tag = null, string? Experiment = null,
    string? Variant = null, bool ComparePrevious = false, AnalyticsDimension? By = null, string? MetadataKey = null,
    AnalyticsDimension? StackBy = null, Metric StackMetric = Metric.Traces)
{
    public const string DefaultRange = "24h";
    public const string Custom = "custom";

    /// <summary>The relative ranges offered, by their name in the address.</summary>
    public static readonly IReadOnlyDictionary<string, (TimeSpan Length, string Label)> Ranges = new Dictionary<string, (TimeSpan, string)>
    {
        ["1h"] = (TimeSpan.FromHours(1), "Last hour"),
        ["24h"] = (TimeSpan.FromHours(24), "Last 24 hours"),
        ["7d"] = (TimeSpan.FromDays(7), "Last 7 days"),
        ["30d"] = (TimeSpan.FromDays(30), "Last 30 days"),
    };

    /// <summary>The dimensions a chart can be broken down by, with their name in the address.</summary>
    public static readonly IReadOnlyDictionary<AnalyticsDimension, (string Name, string Label)> Dimensions = new Dictionary<AnalyticsDimension, (string, string)>
    {
        [AnalyticsDimension.Model] = ("model", "Model"),
        [AnalyticsDimension.Provider] = ("provider", "Provider"),
        [AnalyticsDimension.Environment] = ("environment", "Environment"),
        [AnalyticsDimension.Experiment] = ("experiment", "Experiment"),
        [AnalyticsDimension.Variant] = ("variant", "Variant"),
        [AnalyticsDimension.UserId] = ("user_id", "User"),
        [AnalyticsDimension.Tag] = ("tag", "Tag"),
        [AnalyticsDimension.Metadata] = ("metadata", "Metadata key"),
    };

    /// <summary>What the stacked breakdown can show: figures that add up across stacks, with their name in the address.</summary>
    public static readonly IReadOnlyList<Metric> StackMetrics = [Metric.Traces, Metric.Errors, Metric.TotalTokens, Metric.Cost, Metric.Reviewed];

    public bool IsCustom => Range == Custom;

    /// <summary>The dimensions the "stack by" choice offers for the breakdown: any but the breakdown's own (and metadata, which has one key).</summary>
    public IEnumerable<AnalyticsDimension> StackChoices => Dimensions.Keys.Where(d => d != By && d != AnalyticsDimension.Metadata);

    /// <summary>Reads the view from an absolute address; anything unknown or malformed falls back to the default.</summary>
    public static DashboardView Parse(string uri)
    {
        var query = QueryHelpers.ParseQuery(new Uri(uri).Query);
        string? Get(string name) => query.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v.ToString()) ? v.ToString().Trim() : null;

        var from = Time(Get("from"));
        var to = Time(Get("to"));
        var range = Get("range");
        if (range == Custom || (range is null && from is not null))
        {
            range = from is { } f && (to ?? f.AddTicks(1)) > f ? Custom : DefaultRange;
        }
        else if (range is null || !Ranges.ContainsKey(range))
        {
            range = DefaultRange;
        }

        var by = Dimensions.Where(d => d.Value.Name == Get("by")).Select(d => (AnalyticsDimension?)d.Key).FirstOrDefault();
        var key = Get("key");
        if (by == AnalyticsDimension.Metadata && key is null)
        {
            by = null;
        }

        var stack = Dimensions.Where(d => d.Value.Name == Get("stack")).Select(d => (AnalyticsDimension?)d.Key).FirstOrDefault();
        if (by is null || stack == by || stack == AnalyticsDimension.Metadata)
        {
            stack = null;
        }

        var measure = StackMetrics.Where(m => m.Name() == Get("measure")).Select(m => (Metric?)m).FirstOrDefault() ?? Metric.Traces;
        return new DashboardView(
            range, range == Custom ? from : null, range == Custom ? to : null,
            MetricIntervals.TryParse(Get("interval"), out var interval) ? interval : null,
            Get("model"), Get("provider"), Get("environment"), Get("tag"), Get("experiment"), Get("variant"),
            Get("compare") == "previous", by, by == AnalyticsDimension.Metadata ? key : null, stack, stack is null ? Metric.Traces : measure);
    }

    /// <summary>The view as a query string ("" for the default view, else "?a=b&amp;…"). Defaults are left out.</summary>
    public string ToQuery()
    {
        var pairs = new (string Name, string? Value)[]
        {
            ("range", Range == DefaultRange ? null : Range),
            ("from", IsCustom ? Text(From) : null), ("to", IsCustom ? Text(To) : null),
            ("interval", Interval?.Name()),
            ("model", Model), ("provider", Provider), ("environment", Environment), ("tag", Tag), ("experiment", Experiment), ("variant", Variant),
            ("compare", ComparePrevious ? "previous" : null),
            ("by", By is { } by ? Dimensions[by].Name : null), ("key", By == AnalyticsDimension.Metadata ? MetadataKey : null),
            ("stack", By is not null && StackBy is { } stack ? Dimensions[stack].Name : null),
            ("measure", By is not null && StackBy is not null && StackMetric != Metric.Traces ? StackMetric.Name() : null),
        }.Where(p => !string.IsNullOrEmpty(p.Value)).ToList();
        return pairs.Count == 0 ? "" : "?" + string.Join("&", pairs.Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}"));
    }

    /// <summary>
    /// The range to read at <paramref name="now"/>: a relative range ends at the end of the current bucket (so the
    /// trace sent a moment ago counts, and the previous period lines up bucket for bucket); a custom one is as given
    /// (an open end is now). The interval is the chosen one, else the one that fits.
    /// </summary>
    public (AnalyticsFilter Filter, MetricInterval Interval) Resolve(DateTimeOffset now)
    {
        DateTimeOffset from, to;
        MetricInterval interval;
        if (IsCustom && From is { } start)
        {
            from = start;
            to = To ?? now;
            interval = Interval ?? MetricIntervals.Fit(to - from);
        }
        else
        {
            var length = Ranges[Ranges.ContainsKey(Range) ? Range : DefaultRange].Length;
            interval = Interval ?? MetricIntervals.Fit(length);
            to = interval.Floor(now) + interval.Length();
            from = to - length;
        }

        return (new AnalyticsFilter(from, to, Model, Provider, Environment, Tag, Experiment, Variant), interval);
    }

    public bool HasFilters => Model is not null || Provider is not null || Environment is not null || Tag is not null || Experiment is not null || Variant is not null;

    /// <summary>
    /// The trace list showing the traces behind a figure: the dashboard's filters, the time span [from, to) and, for a
    /// group of a breakdown, that group (when the list can filter by that dimension and the group is a real value).
    /// </summary>
    public string TracesHref(DateTimeOffset from, DateTimeOffset to, AnalyticsDimension? dimension = null, string? group = null, Func<TraceFilter, TraceFilter>? refine = null)
    {
        var filter = new TraceFilter(From: from, To: to, Model: Model, Provider: Provider, Tag: Tag, Environment: Environment, Experiment: Experiment, Variant: Variant);
        filter = WithGroup(filter, dimension, group);
        return "/traces" + Traces.TraceFilterQuery.ToQuery(refine is null ? filter : refine(filter));
    }

    /// <summary>
    /// <paramref name="filter"/> narrowed to a group of a breakdown, when the list can filter by that dimension and the group
    /// is a real value (not "(none)", not the merged "others").
    /// </summary>
    public static TraceFilter WithGroup(TraceFilter filter, AnalyticsDimension? dimension, string? group)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (group is null || group == AnalyticsService.Others)
        {
            return filter;
        }

        return dimension switch
        {
            AnalyticsDimension.Model => filter with { Model = group },
            AnalyticsDimension.Provider => filter with { Provider = group },
            AnalyticsDimension.Environment => filter with { Environment = group },
            AnalyticsDimension.Experiment => filter with { Experiment = group },
            AnalyticsDimension.Variant => filter with { Variant = group },
            AnalyticsDimension.UserId => filter with { UserId = group },
            AnalyticsDimension.Tag => filter with { Tag = group },
            _ => filter,
        };
    }

    private static string? Text(DateTimeOffset? time) => time?.ToUniversalTime().ToString("yyyy-MM-ddTHH:mmZ", CultureInfo.InvariantCulture);

    private static DateTimeOffset? Time(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t.ToUniversalTime() : null;
}
