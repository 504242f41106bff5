using MathNet.Numerics.Distributions;

namespace EvalPlatform.Core.Analytics.Statistics;

/// <summary>A sample summarised by its size, mean and (unbiased, n − 1) variance: what a rollup can keep.</summary>
public readonly record struct SampleMoments(long Count, double Mean, double Variance)
{
    /// <summary>From a sum and a sum of squares (e.g. human scores, cost per trace); null with fewer than 2 values.</summary>
    public static SampleMoments? FromSums(long count, double sum, double sumOfSquares)
    {
        if (count < 2)
        {
            return null;
        }

        var mean = sum / count;
        // Σx² − n·x̄² can dip below zero by rounding when every value is equal.
        var variance = Math.Max(0, (sumOfSquares - (count * mean * mean)) / (count - 1));
        return new SampleMoments(count, mean, variance);
    }
}

/// <summary>
/// Welch's unequal-variance t-test from summaries: t = (x̄₂ − x̄₁)/√(s₁²/n₁ + s₂²/n₂), degrees of freedom by
/// Welch–Satterthwaite ν = (s₁²/n₁ + s₂²/n₂)² / ((s₁²/n₁)²/(n₁ − 1) + (s₂²/n₂)²/(n₂ − 1)), two-sided p from Student's t.
/// For means (latency, cost per trace, human score), whose two periods need not share a variance.
/// </summary>
public static class WelchTest
{
    /// <summary>Null when a side has fewer than 2 observations or both have no variance.</summary>
    public static TestResult? Test(SampleMoments first, SampleMoments second)
    {
        if (first.Count < 2 || second.Count < 2)
        {
            return null;
        }

        var a = first.Variance / first.Count;
        var b = second.Variance / second.Count;
        if (a + b <= 0)
        {
            return null;
        }

        var t = (second.Mean - first.Mean) / Math.Sqrt(a + b);
        var df = ((a + b) * (a + b)) / ((a * a / (first.Count - 1)) + (b * b / (second.Count - 1)));
        var p = Math.Min(1, 2 * StudentT.CDF(0, 1, df, -Math.Abs(t)));
        return new TestResult(first.Mean, second.Mean, t, p, df);
    }
}
