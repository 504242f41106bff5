using System.Globalization;

namespace EvalPlatform.Client;

/// <summary>
/// GrowthBook-compatible assignment (hash version 2), written here so the SDK needs nothing of the platform: FNV-1a
/// 32-bit over the string's UTF-16 code units (C#'s <see cref="char"/>, JavaScript's <c>charCodeAt</c>), version 2's
/// double hash, and GrowthBook's bucket ranges from weights and coverage. The same unit, key, weights and coverage get
/// the variant GrowthBook's SDKs give.
/// </summary>
public static class GrowthBookHash
{
    /// <summary>FNV-1a 32-bit over the UTF-16 code units (a character outside the BMP is two, a surrogate pair).</summary>
    public static uint Fnv1a32(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var h = 0x811c9dc5u;
        foreach (var unit in text)
        {
            h = unchecked((h ^ unit) * 16777619u);
        }

        return h;
    }

    /// <summary>Version 2: fnv(fnv(seed + value) as invariant decimal) % 10000 / 10000, in [0, 1).</summary>
    public static double HashV2(string seed, string value) =>
        Fnv1a32(Fnv1a32(seed + value).ToString(CultureInfo.InvariantCulture)) % 10000 / 10000.0;

    /// <summary>Version 2, or 1 (legacy: fnv(value + seed) % 1000 / 1000); null for a version GrowthBook does not define.</summary>
    public static double? Hash(string seed, string value, int version) => version switch
    {
        2 => HashV2(seed, value),
        1 => Fnv1a32(value + seed) % 1000 / 1000.0,
        _ => null,
    };

    /// <summary>
    /// Each variant's [start, end): coverage clamped to [0, 1]; weights missing, of the wrong length or not adding up
    /// to 0.99–1.01 become equal; walking the variants with a running sum c of the weights, variant i gets
    /// [c, c + coverage × wᵢ). A hash in a gap (or past the last range) is not in the experiment.
    /// </summary>
    public static IReadOnlyList<(double Start, double End)> BucketRanges(int variants, double coverage, IReadOnlyList<double>? weights)
    {
        coverage = Math.Clamp(coverage, 0, 1);
        var equal = variants > 0 ? Enumerable.Repeat(1.0 / variants, variants).ToList() : [];
        IReadOnlyList<double> w = weights is not null && weights.Count == variants ? weights : equal;
        var total = w.Sum();
        if (total < 0.99 || total > 1.01)
        {
            w = equal;
        }

        var ranges = new List<(double Start, double End)>(w.Count);
        var cumulative = 0.0;
        foreach (var weight in w)
        {
            var start = cumulative;
            cumulative += weight;
            ranges.Add((start, start + (coverage * weight)));
        }

        return ranges;
    }

    /// <summary>The index of the range holding <paramref name="n"/>, or −1: not in the experiment.</summary>
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
