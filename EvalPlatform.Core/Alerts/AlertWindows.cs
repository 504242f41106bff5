using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Core.Alerts;

/// <summary>
/// Turns metric cells into a rule's measurements: window 0 is [to − W, to), window j the j-th before it. A cell counts in
/// the window its bucket starts in (minute cells fit exactly; hour cells, used only for long anomaly baselines, to the hour).
/// </summary>
public static class AlertWindows
{
    /// <summary>The most groups measured per evaluation (the busiest), besides those already pending or firing.</summary>
    public const int MaxGroups = 50;

    /// <summary>How many windows a rule reads: the current one, and the previous one (change_pct) or the baseline (anomaly).</summary>
    public static int WindowsNeeded(AlertRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return rule.ConditionOp switch
        {
            AlertConditionOp.ChangePct => 2,
            AlertConditionOp.Anomaly => 1 + AlertEvaluator.BaselineWindows,
            _ => 1,
        };
    }

    /// <summary>The cells' width: minutes when the whole read fits the analytics' bucket limit, else hours.</summary>
    public static MetricInterval IntervalFor(TimeSpan range) =>
        range.TotalMinutes <= AnalyticsService.MaxBuckets ? MetricInterval.Minute : MetricInterval.Hour;

    /// <summary>The groups an analytics read is grouped by for a rule.</summary>
    public static AnalyticsDimension? Dimension(AlertGroupBy by) => by switch
    {
        AlertGroupBy.Model => AnalyticsDimension.Model,
        AlertGroupBy.Environment => AnalyticsDimension.Environment,
        AlertGroupBy.UserId => AnalyticsDimension.UserId,
        _ => null,
    };

    /// <summary>
    /// The measurements of every group at <paramref name="to"/> (the end of window 0), from cells that cover the windows
    /// needed. <paramref name="keep"/> are groups measured whatever their size (pending or firing ones).
    /// </summary>
    public static IReadOnlyList<AlertMeasurement> Measure(
        AlertRule rule, IEnumerable<MetricCell> cells, DateTimeOffset to, IReadOnlySet<string>? keep = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(cells);
        var width = TimeSpan.FromMinutes(rule.WindowMinutes);
        var windows = WindowsNeeded(rule);
        var from = to - (width * windows);
        var byGroup = new Dictionary<string, MetricAggregate[]>(StringComparer.Ordinal);
        foreach (var cell in cells)
        {
            if (cell.Bucket < from || cell.Bucket >= to)
            {
                continue;
            }

            var index = (int)((to - cell.Bucket).Ticks / width.Ticks);
            index = (to - cell.Bucket).Ticks % width.Ticks == 0 ? index - 1 : index;
            var group = cell.Group ?? "";
            if (!byGroup.TryGetValue(group, out var aggregates))
            {
                byGroup[group] = aggregates = new MetricAggregate[windows];
            }

            (aggregates[index] ??= new MetricAggregate()).Merge(cell.Aggregate);
        }

        var measured = byGroup
            .Select(g => Measurement(rule, g.Key, g.Value))
            .ToList();
        if (rule.GroupBy == AlertGroupBy.None)
        {
            return measured.Count > 0 ? measured : [Measurement(rule, "", new MetricAggregate[windows])];
        }

        return measured
            .Where(m => m.Samples > 0 || (keep?.Contains(m.Group) ?? false))
            .OrderByDescending(m => keep?.Contains(m.Group) ?? false).ThenByDescending(m => m.Samples).ThenBy(m => m.Group, StringComparer.Ordinal)
            .Take(Math.Max(MaxGroups, keep?.Count ?? 0))
            .ToList();
    }

    private static AlertMeasurement Measurement(AlertRule rule, string group, MetricAggregate?[] windows)
    {
        var current = windows[0];
        var counts = AlertEvaluator.IsCount(rule.Metric);
        double? Value(MetricAggregate? a) => a is null ? (counts ? 0 : null) : a.Value(rule.Metric, rule.MetricKey);
        long Samples(MetricAggregate? a) => a?.Observations(rule.Metric, rule.MetricKey) ?? 0;
        return rule.ConditionOp switch
        {
            AlertConditionOp.ChangePct => new AlertMeasurement(group, Value(current), Samples(current), Value(windows[1]), Samples(windows[1])),
            AlertConditionOp.Anomaly => new AlertMeasurement(group, Value(current), Samples(current), Baseline: windows
                .Skip(1).Reverse()
                .Where(w => counts || Samples(w) >= Math.Max(1, rule.MinSamples))
                .Select(Value).OfType<double>().ToList()),
            _ => new AlertMeasurement(group, Value(current), Samples(current)),
        };
    }
}

/// <summary>A rule's filters and channel list as stored (snake_case JSON, the API's names).</summary>
public static class AlertJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string WriteFilters(AlertFilters filters) => JsonSerializer.Serialize(filters, Options);

    public static AlertFilters ReadFilters(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new AlertFilters() : JsonSerializer.Deserialize<AlertFilters>(json, Options) ?? new AlertFilters();
}

/// <summary>How alerts put their figures into words (notifications, events, the pages).</summary>
public static class AlertText
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Metric(Metric metric, string? key) => metric switch
    {
        Analytics.Metric.Traces => "Traces",
        Analytics.Metric.Errors => "Errors",
        Analytics.Metric.ErrorRate => "Error rate",
        Analytics.Metric.LatencyP50 => "Latency p50",
        Analytics.Metric.LatencyP90 => "Latency p90",
        Analytics.Metric.LatencyP95 => "Latency p95",
        Analytics.Metric.LatencyP99 => "Latency p99",
        Analytics.Metric.TimeToFirstTokenP50 => "Time to first token p50",
        Analytics.Metric.TimeToFirstTokenP95 => "Time to first token p95",
        Analytics.Metric.PromptTokens => "Prompt tokens",
        Analytics.Metric.CompletionTokens => "Completion tokens",
        Analytics.Metric.TotalTokens => "Tokens",
        Analytics.Metric.Cost => "Cost",
        Analytics.Metric.Reviewed => "Reviews",
        Analytics.Metric.Accepted => "Accepted traces",
        Analytics.Metric.Rejected => "Rejected traces",
        Analytics.Metric.NeedsReview => "Traces needing review",
        Analytics.Metric.AcceptanceRate => "Acceptance rate",
        Analytics.Metric.HumanScore => "Mean human score",
        Analytics.Metric.RejectionRate => "Rejection rate",
        Analytics.Metric.ReasonRejectionRate => $"Rejection rate for \"{key}\"",
        Analytics.Metric.ScoreMean => $"Mean score \"{key}\"",
        _ => metric.ToString(),
    };

    public static string Value(Metric metric, double? value)
    {
        if (value is not { } v || !double.IsFinite(v))
        {
            return "no value";
        }

        return metric switch
        {
            _ when metric.IsRate() => (v * 100).ToString(v is > 0 and < 0.001 ? "0.00" : "0.#", Invariant) + " %",
            Analytics.Metric.LatencyP50 or Analytics.Metric.LatencyP90 or Analytics.Metric.LatencyP95 or Analytics.Metric.LatencyP99
                or Analytics.Metric.TimeToFirstTokenP50 or Analytics.Metric.TimeToFirstTokenP95 =>
                v >= 1000 ? (v / 1000).ToString("0.00", Invariant) + " s" : v.ToString("0", Invariant) + " ms",
            Analytics.Metric.Cost => "$" + v.ToString(v is > 0 and < 1 ? "0.0000" : "#,0.00", Invariant),
            Analytics.Metric.HumanScore or Analytics.Metric.ScoreMean => v.ToString("0.00", Invariant),
            _ => v.ToString("#,0.##", Invariant),
        };
    }

    public static string Window(int minutes) => minutes switch
    {
        1440 => "24 h",
        _ when minutes % 60 == 0 => $"{minutes / 60} h",
        _ => $"{minutes} min",
    };

    public static string Group(AlertGroupBy by, string group) => by switch
    {
        AlertGroupBy.None => "",
        AlertGroupBy.UserId => group.Length == 0 ? " for traces without a user" : $" for user {group}",
        AlertGroupBy.Model => group.Length == 0 ? " for traces without a model" : $" for model {group}",
        _ => group.Length == 0 ? " for traces without an environment" : $" in environment {group}",
    };

    /// <summary>"above 20 %", "10 % above the previous window's 12 %", "beyond 3 robust SDs of the baseline's 120 ms".</summary>
    public static string Condition(AlertRule rule, double? threshold, double? baseline)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var k = rule.ConditionValue.ToString("0.##", Invariant);
        return rule.ConditionOp switch
        {
            AlertConditionOp.Above => $"above {Value(rule.Metric, rule.ConditionValue)}",
            AlertConditionOp.Below => $"below {Value(rule.Metric, rule.ConditionValue)}",
            AlertConditionOp.ChangePct => baseline is null
                ? $"a {(rule.ConditionValue >= 0 ? "rise" : "fall")} of more than {Math.Abs(rule.ConditionValue).ToString("0.##", Invariant)} % against the previous window"
                : $"{(rule.ConditionValue >= 0 ? "rise" : "fall")} of more than {Math.Abs(rule.ConditionValue).ToString("0.##", Invariant)} % from {Value(rule.Metric, baseline)} in the previous window",
            _ => baseline is null
                ? $"more than {k} robust SDs from the baseline"
                : $"more than {k} robust SDs from the baseline's {Value(rule.Metric, baseline)}, bound {Value(rule.Metric, threshold)}",
        };
    }

    /// <summary>"Error rate for user 123 is 34 % (above 20 %) over the last 15 min, 57 traces."</summary>
    public static string Sentence(AlertRule rule, string group, double? value, long samples, double? threshold, double? baseline)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return $"{Metric(rule.Metric, rule.MetricKey)}{Group(rule.GroupBy, group)} is {Value(rule.Metric, value)} " +
               $"({Condition(rule, threshold, baseline)}) over the last {Window(rule.WindowMinutes)}, {samples.ToString("#,0", Invariant)} {SampleNoun(rule.Metric, samples)}.";
    }

    public static string SampleNoun(Metric metric, long samples) => metric switch
    {
        Analytics.Metric.AcceptanceRate or Analytics.Metric.RejectionRate or Analytics.Metric.ReasonRejectionRate => samples == 1 ? "decided trace" : "decided traces",
        Analytics.Metric.HumanScore or Analytics.Metric.ScoreMean => samples == 1 ? "score" : "scores",
        _ => samples == 1 ? "trace" : "traces",
    };

    public static string Status(AlertStatus status) => status switch
    {
        AlertStatus.Ok => "OK",
        AlertStatus.Pending => "Pending",
        AlertStatus.Firing => "Firing",
        AlertStatus.Resolved => "Resolved",
        _ => "No data",
    };

    public static string Decision(AlertDecision decision) => decision switch
    {
        AlertDecision.Breaching => "breaching",
        AlertDecision.Clear => "clear",
        AlertDecision.NoData => "no data",
        AlertDecision.TooFewSamples => "too few samples",
        _ => "no baseline",
    };

    /// <summary>The API's names: snake_case of the enum member.</summary>
    public static string Wire<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (string.Equals(Wire(candidate), text, StringComparison.OrdinalIgnoreCase))
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }
}
