namespace EvalPlatform.Core.Analytics.Statistics;

/// <summary>
/// The robust z-score of a point against a baseline: (x − median) / (1.4826 · MAD), where MAD is the median absolute
/// deviation from the median and 1.4826 = 1/Φ⁻¹(0.75) makes it estimate σ for normal data (Iglewicz and Hoaglin's
/// modified z-score, whose usual outlier limit is 3.5). Unlike mean and standard deviation, one earlier spike in the
/// baseline barely moves either, so it does not mask the next one.
/// </summary>
public static class RobustZ
{
    /// <summary>Makes the MAD a consistent estimator of the standard deviation of normal data.</summary>
    public const double MadScale = 1.4826;

    /// <summary>Makes the mean absolute deviation one of σ (√(π/2)), used when more than half the baseline is equal.</summary>
    public const double MeanAbsoluteDeviationScale = 1.253314;

    /// <summary>The usual limit beyond which a point is an outlier (Iglewicz and Hoaglin).</summary>
    public const double OutlierLimit = 3.5;

    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("The median of nothing is undefined.", nameof(values));
        }

        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The median absolute deviation from the median (unscaled).</summary>
    public static double MedianAbsoluteDeviation(IReadOnlyList<double> values)
    {
        var median = Median(values);
        return Median(values.Select(v => Math.Abs(v - median)).ToArray());
    }

    /// <summary>
    /// The robust z-score of <paramref name="value"/> against <paramref name="baseline"/>. When the MAD is zero (more
    /// than half the baseline equal) the scale falls back to 1.2533 × the mean absolute deviation from the median;
    /// null when that is zero too (a constant baseline gives no scale to measure a departure by) or the baseline is empty.
    /// </summary>
    public static double? Score(double value, IReadOnlyList<double> baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        if (baseline.Count == 0)
        {
            return null;
        }

        var median = Median(baseline);
        var scale = MadScale * MedianAbsoluteDeviation(baseline);
        if (scale <= 0)
        {
            scale = MeanAbsoluteDeviationScale * baseline.Average(v => Math.Abs(v - median));
        }

        return scale <= 0 ? null : (value - median) / scale;
    }
}
