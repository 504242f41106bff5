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
    /// The robust z-score of <paramref name="value"/> against <paramref name="baseline"/>; null when the baseline is empty
    /// or its MAD is zero (more than half of it equal, e.g. hours without traffic): such a baseline has no spread to
    /// measure a departure by, and scoring against a substitute flags every busy hour of sparse traffic.
    /// </summary>
    public static double? Score(double value, IReadOnlyList<double> baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        if (baseline.Count == 0)
        {
            return null;
        }

        var scale = MadScale * MedianAbsoluteDeviation(baseline);
        return scale > 0 ? (value - Median(baseline)) / scale : null;
    }
}
