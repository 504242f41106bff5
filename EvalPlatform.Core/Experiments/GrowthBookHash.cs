using System.Globalization;

namespace EvalPlatform.Core.Experiments;

/// <summary>
/// GrowthBook-compatible assignment (hash version 2), the one C# copy: the server's assignment, the definitions the SDKs
/// evaluate locally and the tests all use it, so a unit lands in the same variant here as in GrowthBook's SDKs for the
/// same key, weights, coverage and unit id.
/// </summary>
public static class GrowthBookHash
{
    /// <summary>FNV-1a 32-bit over the string's UTF-16 code units (JavaScript's <c>charCodeAt</c>), as GrowthBook hashes.</summary>
    public static uint Fnv1a32(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var hash = 0x811c9dc5u;
        foreach (var unit in value)
        {
            hash ^= unit;
            unchecked
            {
                hash *= 16777619u;
            }
        }

        return hash;
    }

    /// <summary>Version 2: <c>fnv(fnv(seed + value).ToString()) % 10000 / 10000</c>, a number in [0, 1) to four places.</summary>
    public static double HashV2(string seed, string value)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(value);
        var inner = Fnv1a32(seed + value).ToString(CultureInfo.InvariantCulture);
        return Fnv1a32(inner) % 10000 / 10000.0;
    }

    /// <summary>
    /// Each variant's range of hashes: walking the variants with a running sum of the weights, variant i gets
    /// [c_i, c_i + coverage × w_i). Weights that do not add up to 0.99–1.01 (or of the wrong count) fall back to equal weights;
    /// coverage is clamped to [0, 1]. A hash in a gap between ranges is not in the experiment.
    /// </summary>
    public static IReadOnlyList<(double Start, double End)> BucketRanges(int variants, double coverage, IReadOnlyList<double>? weights)
    {
        if (variants <= 0)
        {
            return [];
        }

        coverage = double.IsNaN(coverage) ? 0 : Math.Clamp(coverage, 0, 1);
        var equal = Enumerable.Repeat(1.0 / variants, variants).ToList();
        var w = weights is null || weights.Count != variants ? equal : weights;
        var total = w.Sum();
        if (total is < 0.99 or > 1.01)
        {
            w = equal;
        }

        var ranges = new List<(double, double)>(variants);
        var cumulative = 0.0;
        foreach (var weight in w)
        {
            var start = cumulative;
            cumulative += weight;
            ranges.Add((start, start + (coverage * weight)));
        }

        return ranges;
    }

    /// <summary>The index of the range holding <paramref name="n"/>, or -1 when it falls in none (not in the experiment).</summary>
    public static int ChooseVariant(double n, IReadOnlyList<(double Start, double End)> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        for (var i = 0; i < ranges.Count; i++)
        {
            if (n >= ranges[i].Start && n < ranges[i].End)
            {
                return i;
            }
        }

        return -1;
    }
}
