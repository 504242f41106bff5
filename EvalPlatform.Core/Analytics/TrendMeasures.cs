using System.Globalization;
using EvalPlatform.Core.Analytics.Statistics;

namespace EvalPlatform.Core.Analytics;

/// <summary>How a metric is compared between two periods: which test fits it.</summary>
internal enum TrendTest
{
    /// <summary>Event counts over time (traces): the conditional test for two Poisson rates.</summary>
    Count,

    /// <summary>A share of yes/no observations (error rate, acceptance rate): the pooled two-proportion z-test.</summary>
    Proportion,

    /// <summary>A mean of values (cost per trace, human score): Welch's t-test from sums and squares.</summary>
    Mean,

    /// <summary>A latency percentile: shown as the p95, tested by Welch on the mean of the same histogram.</summary>
    Percentile,
}

/// <summary>
/// One metric as trends read it: its value and weight per bucket, how two periods are compared, what counts as a
/// material change, and how its values read in a sentence. The values come from <see cref="MetricAggregate"/>, the
/// one definition of each metric.
/// </summary>
internal sealed record TrendMeasure(
    Metric Metric, string Label, TrendTest Test, Func<MetricAggregate, double?> Value, Func<MetricAggregate, long> Weight,
    double MaterialChange, Func<double, string> Format, Func<double, string> FormatDelta)
{
    /// <summary>What matters to a team running an LLM application, in the order a report reads them.</summary>
    public static readonly IReadOnlyList<TrendMeasure> All =
    [
        new(Metric.Traces, "Trace volume", TrendTest.Count, a => a.Traces, a => a.Traces, 0.10, Count, d => Signed(d, Count)),
        new(Metric.ErrorRate, "Error rate", TrendTest.Proportion, a => a.ErrorRate, a => a.Traces, 0.02, Percent, d => Signed(d, Points)),
        new(Metric.LatencyP95, "p95 latency", TrendTest.Percentile, a => a.Latency.Quantile(0.95), a => a.Latency.Count, 0.10, Millis, d => Signed(d, Millis)),
        new(Metric.Cost, "Cost per trace", TrendTest.Mean, a => a.Traces == 0 ? null : (double)a.Cost / a.Traces, a => a.Traces, 0.10, Dollars, d => Signed(d, Dollars)),
        new(Metric.AcceptanceRate, "Acceptance rate", TrendTest.Proportion, a => a.AcceptanceRate, a => a.Accepted + a.Rejected, 0.02, Percent, d => Signed(d, Points)),
        new(Metric.HumanScore, "Mean human score", TrendTest.Mean, a => a.HumanScoreMean, a => a.HumanScoreCount, 0.05, Score, d => Signed(d, Score)),
        new(Metric.TimeToFirstTokenP95, "p95 time to first token", TrendTest.Percentile, a => a.TimeToFirstToken.Quantile(0.95), a => a.TimeToFirstToken.Count, 0.10, Millis, d => Signed(d, Millis)),
    ];

    /// <summary>
    /// Whether a change from <paramref name="before"/> to <paramref name="after"/> is worth a person's attention:
    /// rates by at least <see cref="MaterialChange"/> (absolute: 0.02 is two points), or by a quarter of their value and
    /// at least half a point (an error rate going from 2 % to 2.6 %); everything else by <see cref="MaterialChange"/> as
    /// a share of the value before.
    /// </summary>
    public bool IsMaterial(double before, double after)
    {
        const double Rounding = 1e-12;
        var change = Math.Abs(after - before);
        if (Test == TrendTest.Proportion)
        {
            return change >= MaterialChange - Rounding
                || (change >= MinRateChange - Rounding && change >= (RelativeRateChange * Math.Abs(before)) - Rounding);
        }

        return before == 0 ? change > 0 : change >= (MaterialChange * Math.Abs(before)) - Rounding;
    }

    /// <summary>A smaller move of a rate is material when it is at least this share of the rate…</summary>
    public const double RelativeRateChange = 0.25;

    /// <summary>…and at least this much (half a point).</summary>
    public const double MinRateChange = 0.005;

    /// <summary>Whether the move from <paramref name="before"/> to <paramref name="after"/> is bad news.</summary>
    public bool IsWorse(double before, double after) => Metric.HigherIsWorse() ? after > before : after < before;

    /// <summary>The moments a Welch test compares, for the mean and percentile measures.</summary>
    public SampleMoments? Moments(MetricAggregate a) => Metric switch
    {
        Metric.Cost => SampleMoments.FromSums(a.Traces, (double)a.Cost, a.CostSquares),
        Metric.HumanScore => SampleMoments.FromSums(a.HumanScoreCount, a.HumanScoreSum, a.HumanScoreSquares),
        Metric.LatencyP95 => Histogram(a.Latency),
        Metric.TimeToFirstTokenP95 => Histogram(a.TimeToFirstToken),
        _ => null,
    };

    /// <summary>
    /// The standard error of a bucket of <paramref name="n"/> observations drawn like its baseline (the baseline's buckets
    /// merged, <paramref name="baseline"/>; their median value <paramref name="median"/>): the least spread a departure
    /// is measured against. Counts: √median (Poisson); proportions: √(m(1 − m)/n); means: s/√n with the baseline's s;
    /// percentiles: √(q(1 − q)/n) over the density around the quantile, read from the baseline histogram's spread
    /// between its 92.5th and 97.5th percentiles. Taken from the baseline, not the bucket, so one odd bucket cannot
    /// shrink its own yardstick.
    /// </summary>
    public double SamplingError(long n, MetricAggregate? baseline, double median)
    {
        if (Test == TrendTest.Count || baseline is null)
        {
            return Math.Sqrt(Math.Max(median, 1));
        }

        if (n <= 0)
        {
            return 0;
        }

        switch (Test)
        {
            case TrendTest.Proportion:
                var m = Math.Clamp(median, 1.0 / (n + 1), 1 - (1.0 / (n + 1)));
                return Math.Sqrt(m * (1 - m) / n);
            case TrendTest.Percentile:
                var h = Metric == Metric.LatencyP95 ? baseline.Latency : baseline.TimeToFirstToken;
                if (h.Quantile(0.975) is not { } high || h.Quantile(0.925) is not { } low)
                {
                    return 0;
                }

                return Math.Sqrt(0.95 * 0.05 / n) * (high - low) / 0.05;
            default:
                return Moments(baseline) is { } moments ? Math.Sqrt(moments.Variance / n) : 0;
        }
    }

    /// <summary>Successes and trials, for the proportion measures.</summary>
    public (long Successes, long Trials) Proportion(MetricAggregate a) => Metric switch
    {
        Metric.ErrorRate => (a.Errors, a.Traces),
        Metric.AcceptanceRate => (a.Accepted, a.Accepted + a.Rejected),
        _ => (0, 0),
    };

    private static SampleMoments? Histogram(LatencyHistogram h) =>
        h.Mean is { } mean && h.Variance is { } variance ? new SampleMoments(h.Count, mean, variance) : null;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Count(double v) => Math.Abs(v) >= 100 || v == Math.Round(v)
        ? v.ToString("N0", Invariant)
        : v.ToString("0.#", Invariant);

    public static string Percent(double v)
    {
        var percent = v * 100;
        return (Math.Abs(percent) < 10 && Math.Round(percent) != percent ? percent.ToString("0.0", Invariant) : percent.ToString("0", Invariant)) + " %";
    }

    private static string Points(double v)
    {
        var points = v * 100;
        return (Math.Abs(points) < 10 ? points.ToString("0.0", Invariant) : points.ToString("0", Invariant)) + " points";
    }

    public static string Millis(double v) => Math.Abs(v) >= 1000
        ? (v / 1000).ToString("0.00", Invariant) + " s"
        : v.ToString("0", Invariant) + " ms";

    public static string Dollars(double v)
    {
        var a = Math.Abs(v);
        var digits = a >= 1 ? "0.00" : a >= 0.01 ? "0.000" : a >= 0.0001 ? "0.00000" : "0.########";
        return (v < 0 ? "-$" : "$") + a.ToString(digits, Invariant);
    }

    public static string Score(double v) => v.ToString("0.00", Invariant);

    private static string Signed(double v, Func<double, string> format) => v >= 0 ? "+" + format(v) : format(v);
}
