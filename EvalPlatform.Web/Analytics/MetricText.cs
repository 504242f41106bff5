using System.Globalization;
using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Web.Analytics;

/// <summary>How the dashboard names and prints each metric. Undefined values (a rate without traces) print as "—".</summary>
public static class MetricText
{
    public const string None = "—";

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Label(Metric metric) => metric switch
    {
        Metric.Traces => "Traces",
        Metric.Errors => "Errors",
        Metric.ErrorRate => "Error rate",
        Metric.LatencyP50 => "Latency p50",
        Metric.LatencyP90 => "Latency p90",
        Metric.LatencyP95 => "Latency p95",
        Metric.LatencyP99 => "Latency p99",
        Metric.TimeToFirstTokenP50 => "Time to first token p50",
        Metric.TimeToFirstTokenP95 => "Time to first token p95",
        Metric.PromptTokens => "Prompt tokens",
        Metric.CompletionTokens => "Completion tokens",
        Metric.TotalTokens => "Tokens",
        Metric.Cost => "Cost",
        Metric.Reviewed => "Reviews done",
        Metric.Accepted => "Accepted",
        Metric.Rejected => "Rejected",
        Metric.NeedsReview => "Needs review",
        Metric.AcceptanceRate => "Acceptance rate",
        Metric.HumanScore => "Mean human score",
        Metric.RejectionRate => "Rejection rate",
        Metric.ReasonRejectionRate => "Rejection rate for a reason",
        Metric.ScoreMean => "Mean score",
        _ => metric.ToString(),
    };

    public static string Format(Metric metric, double? value)
    {
        if (value is not { } v || !double.IsFinite(v))
        {
            return None;
        }

        return metric switch
        {
            Metric.ErrorRate or Metric.AcceptanceRate or Metric.RejectionRate or Metric.ReasonRejectionRate => Percent(v),
            Metric.LatencyP50 or Metric.LatencyP90 or Metric.LatencyP95 or Metric.LatencyP99 or Metric.TimeToFirstTokenP50 or Metric.TimeToFirstTokenP95 => Duration(v),
            Metric.Cost => Cost(v),
            Metric.HumanScore or Metric.ScoreMean => v.ToString("0.00", Invariant),
            _ => Count(v),
        };
    }

    public static string Percent(double rate) => (rate * 100).ToString(rate is > 0 and < 0.001 ? "0.00" : "0.#", Invariant) + " %";

    public static string Duration(double ms) => ms >= 10_000 ? (ms / 1000).ToString("0.#", Invariant) + " s"
        : ms >= 1000 ? (ms / 1000).ToString("0.00", Invariant) + " s" : ms.ToString("0", Invariant) + " ms";

    public static string Cost(double cost) => "$" + cost.ToString(cost is > 0 and < 1 ? "0.0000" : "#,0.00", Invariant);

    public static string Count(double count) => count >= 1_000_000 ? (count / 1_000_000).ToString("0.##", Invariant) + "M"
        : count.ToString("#,0.##", Invariant);

    /// <summary>A bucket's start as the axis and the tables show it: time of day for minutes and hours, the date for days (UTC).</summary>
    public static string Bucket(DateTimeOffset bucket, MetricInterval interval, bool withDate) => interval switch
    {
        MetricInterval.Day => bucket.UtcDateTime.ToString("MMM d", Invariant),
        _ when withDate => bucket.UtcDateTime.ToString("MMM d HH:mm", Invariant),
        _ => bucket.UtcDateTime.ToString("HH:mm", Invariant),
    };
}
