namespace EvalPlatform.Core.Analytics.Statistics;

/// <summary>
/// Two event counts over periods (traces last week against the week before): under "same rate", and given the total
/// N, the second count is Binomial(N, q) with q = t₂/(t₁ + t₂) the second period's share of the time. Tested by the
/// normal approximation z = (c₂ − Nq)/√(Nq(1 − q)) (the conditional test for two Poisson rates), two-sided; with equal
/// periods z = (c₂ − c₁)/√(c₁ + c₂). <see cref="TestResult.Before"/> and <see cref="TestResult.After"/> are rates per
/// unit of the exposures given.
/// </summary>
public static class CountTest
{
    /// <summary>Null when there are no events at all or an exposure is not positive.</summary>
    public static TestResult? Test(long before, double beforeExposure, long after, double afterExposure)
    {
        if (before < 0 || after < 0 || before + after == 0 || !(beforeExposure > 0) || !(afterExposure > 0))
        {
            return null;
        }

        var total = before + after;
        var q = afterExposure / (beforeExposure + afterExposure);
        var z = (after - (total * q)) / Math.Sqrt(total * q * (1 - q));
        return new TestResult(before / beforeExposure, after / afterExposure, z, TwoProportionTest.TwoSidedNormal(z));
    }
}
