using System.Globalization;
using System.Text;

namespace EvalPlatform.Core.Analytics;

/// <summary>
/// A mergeable distribution of non-negative durations (milliseconds): log-spaced buckets whose
/// bounds grow by <see cref="Gamma"/>, so any quantile read from it is within
/// <see cref="RelativeAccuracy"/> of a value of the exact sample at that rank (DDSketch's rule).
/// Two histograms merge by adding counts: an hour is the merge of its minutes, a month of its days,
/// with no loss beyond the bucket width. Values at or below <see cref="MinValue"/> share one zero bucket.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Half a percent: quantiles stay well inside the 1 % the dashboard promises.</summary>
    public const double RelativeAccuracy = 0.005;

    /// <summary>Below a microsecond a duration is counted as zero.</summary>
    public const double MinValue = 0.001;

    public static readonly double Gamma = (1 + RelativeAccuracy) / (1 - RelativeAccuracy);
    private static readonly double LogGamma = Math.Log(Gamma);

    // A hash map, not a sorted one: rollup reads parse and merge thousands of these per query, and only a quantile
    // or the stored text needs the indexes in order (sorted then, once).
    private readonly Dictionary<int, long> _buckets = [];

    public long Count { get; private set; }

    public long ZeroCount { get; private set; }

    public bool IsEmpty => Count == 0;

    /// <summary>Bucket index to count, in no particular order (the zero bucket not included).</summary>
    public IReadOnlyDictionary<int, long> Buckets => _buckets;

    public void Add(double value, long count = 1)
    {
        if (count <= 0 || double.IsNaN(value))
        {
            return;
        }

        Count += count;
        if (value <= MinValue)
        {
            ZeroCount += count;
            return;
        }

        var index = IndexOf(value);
        _buckets[index] = _buckets.GetValueOrDefault(index) + count;
    }

    /// <summary>
    /// Adds <paramref name="count"/> values already bucketed elsewhere (a database computing ⌈ln x / ln γ⌉ as
    /// <see cref="IndexOf"/> does): <paramref name="index"/> null is the zero bucket.
    /// </summary>
    public void AddToBucket(int? index, long count)
    {
        if (count <= 0)
        {
            return;
        }

        Count += count;
        if (index is not { } i)
        {
            ZeroCount += count;
            return;
        }

        _buckets[i] = _buckets.GetValueOrDefault(i) + count;
    }

    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Count += other.Count;
        ZeroCount += other.ZeroCount;
        _buckets.EnsureCapacity(_buckets.Count + other._buckets.Count);
        foreach (var (index, count) in other._buckets)
        {
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_buckets, index, out _) += count;
        }
    }

    /// <summary>
    /// The value at quantile <paramref name="q"/> (0–1) by the nearest-rank rule (rank ⌈q·n⌉, at least 1),
    /// the rule <see cref="ExactQuantile"/> uses on raw values; null when empty.
    /// </summary>
    public double? Quantile(double q)
    {
        if (Count == 0)
        {
            return null;
        }

        var rank = Rank(q, Count);
        if (rank <= ZeroCount)
        {
            return 0;
        }

        var seen = ZeroCount;
        var indexes = Sorted();
        foreach (var index in indexes)
        {
            seen += _buckets[index];
            if (seen >= rank)
            {
                return ValueOf(index);
            }
        }

        return ValueOf(indexes[^1]);
    }

    /// <summary>
    /// The mean, read from the bucket values (each value taken as its bucket's point, zeros as 0): within
    /// <see cref="RelativeAccuracy"/> of the exact mean, since every value is. Null when empty.
    /// </summary>
    public double? Mean
    {
        get
        {
            if (Count == 0)
            {
                return null;
            }

            var sum = 0.0;
            foreach (var (index, count) in _buckets)
            {
                sum += count * ValueOf(index);
            }

            return sum / Count;
        }
    }

    /// <summary>
    /// The sample variance (n − 1), read from the bucket values like <see cref="Mean"/>: approximate (the bucket width
    /// adds at most about ±1 % of each squared value), enough for Welch's test on latency. Null with fewer than 2 values.
    /// </summary>
    public double? Variance
    {
        get
        {
            if (Count < 2 || Mean is not { } mean)
            {
                return null;
            }

            var squares = ZeroCount * mean * mean;
            foreach (var (index, count) in _buckets)
            {
                var d = ValueOf(index) - mean;
                squares += count * d * d;
            }

            return squares / (Count - 1);
        }
    }

    /// <summary>The nearest-rank quantile of raw values, the reference the histogram is held to.</summary>
    public static double? ExactQuantile(IReadOnlyList<double> sorted, double q) =>
        sorted.Count == 0 ? null : sorted[(int)Rank(q, sorted.Count) - 1];

    private static long Rank(double q, long n) => Math.Clamp((long)Math.Ceiling(Math.Clamp(q, 0, 1) * n), 1, n);

    internal static int IndexOf(double value) => (int)Math.Ceiling(Math.Log(value) / LogGamma);

    /// <summary>The point of bucket <paramref name="index"/> (γ^(i-1), γ^i] equally far, relatively, from both bounds.</summary>
    internal static double ValueOf(int index) => 2 * Math.Pow(Gamma, index) / (Gamma + 1);

    /// <summary>Compact text for storage: "z:ZERO;i:c;i:c…" (empty for an empty histogram).</summary>
    public string Serialize()
    {
        if (Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        text.Append("z:").Append(ZeroCount.ToString(CultureInfo.InvariantCulture));
        foreach (var index in Sorted())
        {
            text.Append(';').Append(index.ToString(CultureInfo.InvariantCulture)).Append(':').Append(_buckets[index].ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    private int[] Sorted()
    {
        var indexes = _buckets.Keys.ToArray();
        Array.Sort(indexes);
        return indexes;
    }

    public static LatencyHistogram Parse(string? text)
    {
        var histogram = new LatencyHistogram();
        histogram.MergeSerialized(text);
        return histogram;
    }

    /// <summary>Adds a histogram stored by <see cref="Serialize"/> to this one: <see cref="Merge"/> without building it first.</summary>
    public void MergeSerialized(string? text)
    {
        var histogram = this;
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        // "z:ZERO;i:c;i:c…" read in place: no string per part (a dashboard read parses thousands of these).
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf(';');
            var part = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 1)..];
            var colon = part.IndexOf(':');
            var count = long.Parse(part[(colon + 1)..], CultureInfo.InvariantCulture);
            histogram.Count += count;
            if (part[..colon] is "z")
            {
                histogram.ZeroCount += count;
            }
            else
            {
                var index = int.Parse(part[..colon], CultureInfo.InvariantCulture);
                System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(histogram._buckets, index, out _) += count;
            }
        }
    }
}
