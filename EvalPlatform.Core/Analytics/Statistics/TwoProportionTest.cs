using MathNet.Numerics.Distributions;

namespace EvalPlatform.Core.Analytics.Statistics;

/// <summary>The outcome of a two-sample test: the difference (second minus first), the statistic and the two-sided p-value.</summary>
public sealed record TestResult(double Before, double After, double Statistic, double PValue, double? DegreesOfFreedom = null)
{
    public double Difference => After - Before;
}

/// <summary>
/// The pooled two-proportion z-test: z = (p₂ − p₁) / √(p̂(1 − p̂)(1/n₁ + 1/n₂)) with p̂ = (x₁ + x₂)/(n₁ + n₂), two-sided
/// p = 2Φ(−|z|). For rates (error rate, acceptance rate) where each trace or review is a yes/no.
/// </summary>
public static class TwoProportionTest
{
    /// <summary>Null when either side has no observations or the successes are out of range.</summary>
    public static TestResult? Test(long successes1, long n1, long successes2, long n2)
    {
        if (n1 <= 0 || n2 <= 0 || successes1 < 0 || successes2 < 0 || successes1 > n1 || successes2 > n2)
        {
            return null;
        }

        var p1 = (double)successes1 / n1;
        var p2 = (double)successes2 / n2;
        var pooled = (double)(successes1 + successes2) / (n1 + n2);
        var variance = pooled * (1 - pooled) * ((1.0 / n1) + (1.0 / n2));
        if (variance <= 0)
        {
            // All successes or none on both sides: no difference to test.
            return new TestResult(p1, p2, 0, 1);
        }

        var z = (p2 - p1) / Math.Sqrt(variance);
        return new TestResult(p1, p2, z, TwoSidedNormal(z));
    }

    /// <summary>2Φ(−|z|), computed in the lower tail so tiny p-values keep their digits.</summary>
    public static double TwoSidedNormal(double z) => Math.Min(1, 2 * Normal.CDF(0, 1, -Math.Abs(z)));
}
