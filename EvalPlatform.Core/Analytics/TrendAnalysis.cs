using System.Globalization;
using EvalPlatform.Core.Analytics.Statistics;

namespace EvalPlatform.Core.Analytics;

/// <summary>
/// The trend findings of a range from its cells, pure: for each metric of <see cref="TrendMeasure.All"/> and each group
/// (all traces, then each of the busiest models) the least-squares slope, the change between two periods with the test
/// that fits the metric, and anomalous buckets by a robust z-score against the buckets before. What counts as a
/// finding, and why, is ADR 0018.
/// </summary>
public static class TrendAnalysis
{
    /// <summary>Below this p-value a change between periods is reported.</summary>
    public const double Significance = 0.05;

    /// <summary>A test needs at least this many observations on each side, so noise is not reported.</summary>
    public const long MinObservationsPerSide = 30;

    /// <summary>A slope needs at least this many buckets with values…</summary>
    public const int MinSlopePoints = 6;

    /// <summary>…resting on at least this many observations in all.</summary>
    public const long MinSlopeObservations = 60;

    /// <summary>A bucket is scored against up to this many buckets before it…</summary>
    public const int AnomalyWindow = 24;

    /// <summary>…and only once it has at least this many.</summary>
    public const int MinAnomalyBaseline = 12;

    /// <summary>A rate, mean or percentile bucket is scored only when it rests on this many observations (a count, when it or its baseline's median reaches it).</summary>
    public const long MinAnomalyObservations = 20;

    /// <summary>|robust z| beyond this is an anomaly (Iglewicz and Hoaglin's limit).</summary>
    public const double AnomalyLimit = RobustZ.OutlierLimit;

    /// <summary>The most anomalies reported per metric and group (the most extreme), so one bad hour does not crowd out the rest.</summary>
    public const int MaxAnomaliesPerSeries = 3;

    /// <summary>How many models are looked at besides all traces: the busiest.</summary>
    public const int MaxModels = 10;

    public const int DefaultMaxFindings = 20;

    /// <summary>Ranges at least this long compare the last week with the week before; shorter ones compare halves.</summary>
    public static readonly TimeSpan WeekOverWeekRange = TimeSpan.FromDays(14);

    private static readonly TimeSpan Week = TimeSpan.FromDays(7);

    /// <summary>
    /// The bucket width trends read a range in: hours up to 60 days (enough points for slopes and anomalies, and bounds
    /// that fall on the hour for the week-over-week split), days beyond.
    /// </summary>
    public static MetricInterval IntervalFor(TimeSpan range) => range <= TimeSpan.FromDays(60) ? MetricInterval.Hour : MetricInterval.Day;

    /// <summary>
    /// The findings, most important first (bad news first, then the smallest p), at most <paramref name="max"/>.
    /// <paramref name="all"/> are the range's cells ungrouped, <paramref name="byModel"/> grouped by model, both in
    /// <paramref name="interval"/> buckets.
    /// </summary>
    public static IReadOnlyList<TrendFinding> Analyze(
        AnalyticsFilter filter, MetricInterval interval, IReadOnlyList<MetricCell> all, IReadOnlyList<MetricCell> byModel, int max = DefaultMaxFindings)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(all);
        ArgumentNullException.ThrowIfNull(byModel);
        var range = new Range(filter.From, filter.To, interval);
        var groups = new List<(string? Group, IReadOnlyList<MetricCell> Cells)> { (null, all) };
        var models = AnalyticsService.TopGroups(byModel, MaxModels)
            .Where(g => g.Group is not null && g.Group != AnalyticsService.Others)
            .Select(g => g.Group!)
            .ToList();
        groups.AddRange(models.Select(m => ((string?)m, (IReadOnlyList<MetricCell>)byModel.Where(c => c.Group == m).ToList())));

        var findings = new List<TrendFinding>();
        var anomalies = new List<TrendFinding>();
        var scored = 0;
        foreach (var (group, cells) in groups)
        {
            var buckets = cells.GroupBy(c => c.Bucket)
                .Select(b => (Bucket: b.Key, Aggregate: AnalyticsService.Merge(b.Select(c => c.Aggregate))))
                .OrderBy(b => b.Bucket)
                .ToList();
            foreach (var measure in TrendMeasure.All)
            {
                var series = Series(measure, buckets, range);
                if (Slope(measure, group, series, range) is { } slope)
                {
                    findings.Add(slope);
                }

                if (PeriodChange(measure, group, buckets, range) is { } change)
                {
                    findings.Add(change);
                }

                anomalies.AddRange(Anomalies(measure, group, series, range, ref scored));
            }
        }

        // Every scored bucket is a test: past 3.5, the limit grows with their number (Bonferroni at 5 % for the report),
        // so a week of hourly noise over many series does not produce "anomalies" by chance.
        var limit = AnomalyLimitFor(scored);
        findings.AddRange(anomalies
            .Where(a => Math.Abs(a.Score!.Value) > limit)
            .GroupBy(a => (a.Metric, a.Group))
            .SelectMany(g => g.OrderByDescending(a => Math.Abs(a.Score!.Value)).Take(MaxAnomaliesPerSeries)));

        return findings
            .OrderByDescending(f => f.Worse)
            .ThenBy(RankingP)
            .ThenByDescending(f => Math.Abs(f.Score ?? 0))
            .Take(max)
            .ToList();
    }

    /// <summary>The p-value a finding is ranked by: its own, or for an anomaly the normal tail of its robust z (for ordering only).</summary>
    private static double RankingP(TrendFinding f) => f.PValue ?? TwoProportionTest.TwoSidedNormal(f.Score ?? 0);

    /// <summary>One point per bucket: the metric's value and what it rests on.</summary>
    private readonly record struct Point(DateTimeOffset Bucket, double Value, long Weight, MetricAggregate? Aggregate);

    /// <summary>
    /// The metric per bucket. Traces are counted in every whole bucket of the range (a bucket without traces is a zero;
    /// a bucket cut by the range's ends is left out, or its few traces would look like a drop); the others where they
    /// have observations.
    /// </summary>
    private static List<Point> Series(TrendMeasure measure, List<(DateTimeOffset Bucket, MetricAggregate Aggregate)> buckets, Range range)
    {
        if (measure.Test == TrendTest.Count)
        {
            var counts = buckets.ToDictionary(b => b.Bucket, b => b.Aggregate.Traces);
            return range.WholeBuckets().Select(b => new Point(b, counts.GetValueOrDefault(b), 1, null)).ToList();
        }

        return buckets
            .Select(b => (b.Bucket, Value: measure.Value(b.Aggregate), Weight: measure.Weight(b.Aggregate), b.Aggregate))
            .Where(b => b.Value is not null && b.Weight > 0)
            .Select(b => new Point(b.Bucket, b.Value!.Value, b.Weight, b.Aggregate))
            .ToList();
    }

    private static TrendFinding? Slope(TrendMeasure measure, string? group, List<Point> series, Range range)
    {
        var observations = measure.Test == TrendTest.Count ? (long)series.Sum(p => p.Value) : series.Sum(p => p.Weight);
        if (series.Count < MinSlopePoints || observations < MinSlopeObservations)
        {
            return null;
        }

        var unit = range.SlopeUnit;
        var x = series.Select(p => (p.Bucket - range.From) / unit).ToList();
        // Traces are fitted as a rate per slope unit (a day's worth of hourly counts), as the sentence reads them.
        var scale = measure.Test == TrendTest.Count ? unit / range.Interval.Length() : 1;
        var y = series.Select(p => p.Value * scale).ToList();
        var w = measure.Test == TrendTest.Count ? null : series.Select(p => (double)p.Weight).ToList();
        if (LeastSquares.Fit(x, y, w) is not { } fit || !fit.ExcludesZero)
        {
            return null;
        }

        var span = (range.To - range.From) / unit;
        var start = Clamp(measure, fit.Fitted(0));
        var end = Clamp(measure, fit.Fitted(span));
        // Material with 95 % confidence: even the interval's end nearest zero must change the metric materially over
        // the range (a slope's change over a range is noisier than the halves' difference, and a lumpy week of noise
        // otherwise passes with its interval just clear of zero).
        var nearest = fit.Slope > 0 ? fit.Low : fit.High;
        if (!measure.IsMaterial(start, Clamp(measure, start + (nearest * span))))
        {
            return null;
        }

        var direction = fit.Slope > 0 ? "rose" : "fell";
        var per = (unit == TimeSpan.FromDays(1) ? "a day" : "an hour") + (measure.Test == TrendTest.Count ? " each " + (unit == TimeSpan.FromDays(1) ? "day" : "hour") : "");
        var sentence = $"{Subject(measure, group)} {direction} steadily over the {Describe(range.To - range.From)}, from about "
            + $"{Value(measure, start, range)} to {Value(measure, end, range)} ({measure.FormatDelta(fit.Slope)} {per}, 95 % CI "
            + $"{measure.FormatDelta(fit.Low)} to {measure.FormatDelta(fit.High)})";
        return new TrendFinding(TrendKind.Slope, measure.Metric, group, sentence, measure.IsWorse(start, end), start, end, fit.PValue,
            fit.Slope, fit.Low, fit.High, Score: fit.T);
    }

    /// <summary>
    /// The last week against the week before when the range spans two weeks or more, else the second half against the
    /// first; each side must rest on <see cref="MinObservationsPerSide"/> observations and the difference be significant
    /// and material.
    /// </summary>
    private static TrendFinding? PeriodChange(TrendMeasure measure, string? group, List<(DateTimeOffset Bucket, MetricAggregate Aggregate)> buckets, Range range)
    {
        var (split, beforeFrom, weekly) = range.Split();
        if (split <= beforeFrom || split >= range.To)
        {
            return null;
        }

        var before = AnalyticsService.Merge(buckets.Where(b => b.Bucket >= range.Interval.Floor(beforeFrom) && b.Bucket < split).Select(b => b.Aggregate));
        var after = AnalyticsService.Merge(buckets.Where(b => b.Bucket >= split).Select(b => b.Aggregate));
        TestResult? test;
        double shownBefore, shownAfter;
        switch (measure.Test)
        {
            case TrendTest.Count:
                if (before.Traces < MinObservationsPerSide || after.Traces < MinObservationsPerSide)
                {
                    return null;
                }

                var unit = range.SlopeUnit;
                test = CountTest.Test(before.Traces, (split - Max(beforeFrom, range.From)) / unit, after.Traces, (range.To - split) / unit);
                (shownBefore, shownAfter) = test is null ? (0, 0) : (test.Before, test.After);
                break;
            case TrendTest.Proportion:
                var (s1, n1) = measure.Proportion(before);
                var (s2, n2) = measure.Proportion(after);
                if (n1 < MinObservationsPerSide || n2 < MinObservationsPerSide)
                {
                    return null;
                }

                test = TwoProportionTest.Test(s1, n1, s2, n2);
                (shownBefore, shownAfter) = test is null ? (0, 0) : (test.Before, test.After);
                break;
            default:
                if (measure.Moments(before) is not { } m1 || measure.Moments(after) is not { } m2
                    || m1.Count < MinObservationsPerSide || m2.Count < MinObservationsPerSide)
                {
                    return null;
                }

                test = WelchTest.Test(m1, m2);
                if (measure.Test == TrendTest.Percentile)
                {
                    // Shown as the p95, tested on the mean of the same histogram: report only when both move the same way.
                    if (measure.Value(before) is not { } p1 || measure.Value(after) is not { } p2 || test is null
                        || Math.Sign(p2 - p1) != Math.Sign(test.Difference))
                    {
                        return null;
                    }

                    (shownBefore, shownAfter) = (p1, p2);
                }
                else
                {
                    (shownBefore, shownAfter) = test is null ? (0, 0) : (test.Before, test.After);
                }

                break;
        }

        if (test is null || test.PValue >= Significance || shownAfter == shownBefore || !measure.IsMaterial(shownBefore, shownAfter))
        {
            return null;
        }

        var period = weekly
            ? "week over week"
            : $"in the last {Describe(range.To - split)} against the {Describe(split - Max(beforeFrom, range.From))} before";
        var direction = shownAfter > shownBefore ? "rose" : "fell";
        var sentence = $"{Subject(measure, group)} {direction} from {Value(measure, shownBefore, range)} to {Value(measure, shownAfter, range)} "
            + $"{period} ({FormatP(test.PValue)})";
        return new TrendFinding(TrendKind.WeekOverWeek, measure.Metric, group, sentence, measure.IsWorse(shownBefore, shownAfter),
            shownBefore, shownAfter, test.PValue, Score: test.Statistic);
    }

    /// <summary>
    /// The limit a bucket's |z| must pass when <paramref name="scored"/> buckets were scored in one report:
    /// <see cref="AnomalyLimit"/>, or the two-sided Bonferroni bound for a 5 % chance of any false anomaly, whichever is higher.
    /// </summary>
    public static double AnomalyLimitFor(int scored) =>
        scored <= 0 ? AnomalyLimit : Math.Max(AnomalyLimit, -MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, Significance / (2.0 * scored)));

    /// <summary>
    /// Candidate anomalies: buckets whose z against the up to <see cref="AnomalyWindow"/> buckets before them passes
    /// <see cref="AnomalyLimit"/>. The z is robust, (x − median)/(1.4826 · MAD), except that its scale is never taken
    /// below the sampling error of a bucket of this size drawn like its baseline (<see cref="TrendMeasure.SamplingError"/>):
    /// a MAD from 24 small, lumpy buckets understates the noise.
    /// </summary>
    private static List<TrendFinding> Anomalies(TrendMeasure measure, string? group, List<Point> series, Range range, ref int scoredTotal)
    {
        var scored = measure.Test == TrendTest.Count ? series : series.Where(p => p.Weight >= MinAnomalyObservations).ToList();
        var found = new List<(Point Point, double Median, double Z)>();
        for (var i = MinAnomalyBaseline; i < scored.Count; i++)
        {
            var baseline = scored.Skip(Math.Max(0, i - AnomalyWindow)).Take(Math.Min(i, AnomalyWindow)).Select(p => p.Value).ToList();
            var point = scored[i];
            var median = RobustZ.Median(baseline);
            // A count is scored only where there is traffic to speak of (a quiet hour of 1 against a usual 3 is noise).
            if (measure.Test == TrendTest.Count && Math.Max(point.Value, median) < MinAnomalyObservations)
            {
                continue;
            }

            var mad = RobustZ.MadScale * RobustZ.MedianAbsoluteDeviation(baseline);
            if (mad <= 0)
            {
                continue;
            }

            scoredTotal++;
            var z = (point.Value - median) / mad;
            if (Math.Abs(z) <= AnomalyLimit)
            {
                continue;
            }

            // The floor only ever lowers |z|, so it is worked out for the few candidates only.
            var window = scored.Skip(Math.Max(0, i - AnomalyWindow)).Take(Math.Min(i, AnomalyWindow));
            var pooled = measure.Test == TrendTest.Count ? null : AnalyticsService.Merge(window.Select(p => p.Aggregate!));
            z = (point.Value - median) / Math.Max(mad, measure.SamplingError(point.Weight, pooled, median));
            if (Math.Abs(z) > AnomalyLimit && measure.IsMaterial(median, point.Value))
            {
                found.Add((point, median, z));
            }
        }

        return found
            .Select(a =>
            {
                var direction = a.Z > 0 ? "jumped" : "dropped";
                var sentence = $"{Subject(measure, group)} {direction} to {Value(measure, a.Point.Value, range, perBucket: true)} in the "
                    + $"{range.Interval.Name()} from {a.Point.Bucket.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC, against a usual "
                    + $"{Value(measure, a.Median, range, perBucket: true)} (robust z = {a.Z.ToString("0.0", CultureInfo.InvariantCulture)})";
                return new TrendFinding(TrendKind.Anomaly, measure.Metric, group, sentence, measure.IsWorse(a.Median, a.Point.Value),
                    a.Median, a.Point.Value, At: a.Point.Bucket, Score: a.Z);
            })
            .ToList();
    }

    private static string Subject(TrendMeasure measure, string? group) =>
        group is null ? $"{measure.Label} overall" : $"{measure.Label} for {group}";

    /// <summary>A value as the sentence shows it; traces are a rate per slope unit (or per bucket, for anomalies).</summary>
    private static string Value(TrendMeasure measure, double value, Range range, bool perBucket = false)
    {
        if (measure.Test != TrendTest.Count)
        {
            return measure.Format(value);
        }

        var unit = perBucket ? range.Interval.Name() : range.SlopeUnit == TimeSpan.FromDays(1) ? "day" : "hour";
        return $"{measure.Format(value)} {(unit == "hour" ? "an" : "a")} {unit}";
    }

    private static double Clamp(TrendMeasure measure, double value) => measure.Test switch
    {
        TrendTest.Proportion => Math.Clamp(value, 0, 1),
        _ => Math.Max(0, value),
    };

    public static string FormatP(double p) => p < 0.001 ? "p < 0.001" : $"p = {p.ToString("0.000", CultureInfo.InvariantCulture)}";

    /// <summary>A length as a person says it: "7 days", "3.5 days", "12 hours", "30 minutes".</summary>
    public static string Describe(TimeSpan length)
    {
        static string Plural(double n, string unit) => $"{n.ToString("0.#", CultureInfo.InvariantCulture)} {unit}{(Math.Round(n, 1) == 1 ? "" : "s")}";
        return length >= TimeSpan.FromDays(1) ? Plural(length.TotalDays, "day")
            : length >= TimeSpan.FromHours(1) ? Plural(length.TotalHours, "hour")
            : Plural(length.TotalMinutes, "minute");
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>The range being analysed and its buckets.</summary>
    private sealed record Range(DateTimeOffset From, DateTimeOffset To, MetricInterval Interval)
    {
        /// <summary>Slopes are per day, per hour for ranges under two days.</summary>
        public TimeSpan SlopeUnit => To - From >= TimeSpan.FromDays(2) ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1);

        public IEnumerable<DateTimeOffset> WholeBuckets()
        {
            var step = Interval.Length();
            for (var b = Interval.Floor(From); b + step <= To; b += step)
            {
                if (b >= From)
                {
                    yield return b;
                }
            }
        }

        /// <summary>
        /// Where the later period starts (a bucket bound), where the earlier one starts, and whether this is week over
        /// week (the last 7 days against the 7 before) rather than half against half.
        /// </summary>
        public (DateTimeOffset Split, DateTimeOffset BeforeFrom, bool Weekly) Split()
        {
            if (To - From >= WeekOverWeekRange)
            {
                var split = Interval.Floor(To - Week);
                return (split, split - Week, true);
            }

            var half = Interval.Floor(From + ((To - From) / 2));
            return (half, From, false);
        }
    }
}
