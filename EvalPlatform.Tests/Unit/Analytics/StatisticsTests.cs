using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Analytics.Statistics;

namespace EvalPlatform.Tests.Unit.Analytics;

/// <summary>The trend statistics against published reference values; each test names its source.</summary>
public sealed class StatisticsTests
{
    // NIST Statistical Reference Datasets, Linear Regression, "Norris" (lower difficulty): 36 observations,
    // https://www.itl.nist.gov/div898/strd/lls/data/Norris.shtml. Certified values are quoted in the test.
    private static readonly double[] NorrisY =
    [
        0.1, 338.8, 118.1, 888.0, 9.2, 228.1, 668.5, 998.5, 449.1, 778.9, 559.2, 0.3, 0.1, 778.1, 668.8, 339.3, 448.9, 10.8,
        557.7, 228.3, 998.0, 888.8, 119.6, 0.3, 0.6, 557.6, 339.3, 888.0, 998.5, 778.9, 10.2, 117.6, 228.9, 668.4, 449.2, 0.2,
    ];

    private static readonly double[] NorrisX =
    [
        0.2, 337.4, 118.2, 884.6, 10.1, 226.5, 666.3, 996.3, 448.6, 777.0, 558.2, 0.4, 0.6, 775.5, 666.9, 338.0, 447.5, 11.6,
        556.0, 228.1, 995.8, 887.6, 120.2, 0.3, 0.3, 556.8, 339.1, 887.2, 999.0, 779.0, 11.1, 118.3, 229.2, 669.1, 448.9, 0.5,
    ];

    private static void Close(double expected, double actual, double relative) =>
        Assert.True(Math.Abs(actual - expected) <= relative * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");

    [Fact]
    public void LeastSquares_MatchesNistNorrisCertifiedValues()
    {
        var fit = LeastSquares.Fit(NorrisX, NorrisY)!;

        // Certified: beta(1) = 1.00211681802045, its standard deviation 0.429796848199937E-03;
        // beta(0) = -0.262323073774029; residual standard deviation 0.884796396144373.
        Close(1.00211681802045, fit.Slope, 1e-10);
        Close(0.429796848199937E-03, fit.StandardError, 1e-8);
        Close(-0.262323073774029, fit.Intercept, 1e-8);
        Close(0.884796396144373, fit.ResidualStandardDeviation, 1e-8);
        Assert.Equal(34, fit.DegreesOfFreedom);

        // The 95 % interval uses t(0.975, 34) = 2.032 (NIST/SEMATECH e-Handbook, 1.3.6.7.2, critical values of Student's t).
        Close(2.032, (fit.High - fit.Slope) / fit.StandardError, 5e-4);
        Close(2.032, (fit.Slope - fit.Low) / fit.StandardError, 5e-4);
        Assert.True(fit.ExcludesZero);
    }

    [Fact]
    public void LeastSquares_EqualWeightsGiveTheUnweightedFit()
    {
        var plain = LeastSquares.Fit(NorrisX, NorrisY)!;
        var weighted = LeastSquares.Fit(NorrisX, NorrisY, Enumerable.Repeat(7.0, NorrisX.Length).ToArray())!;

        Close(plain.Slope, weighted.Slope, 1e-12);
        Close(plain.StandardError, weighted.StandardError, 1e-10);
        Close(plain.ResidualStandardDeviation, weighted.ResidualStandardDeviation, 1e-10);
    }

    [Fact]
    public void LeastSquares_IntegerWeightsGiveTheSlopeOfRepeatedPoints()
    {
        double[] x = [1, 2, 3, 4, 5, 6];
        double[] y = [2.1, 3.9, 6.2, 7.8, 10.1, 12.2];
        double[] w = [1, 3, 2, 1, 4, 2];
        var repeatedX = x.SelectMany((v, i) => Enumerable.Repeat(v, (int)w[i])).ToArray();
        var repeatedY = y.SelectMany((v, i) => Enumerable.Repeat(v, (int)w[i])).ToArray();

        var weighted = LeastSquares.Fit(x, y, w)!;
        var repeated = LeastSquares.Fit(repeatedX, repeatedY)!;

        Close(repeated.Slope, weighted.Slope, 1e-12);
        Close(repeated.Intercept, weighted.Intercept, 1e-12);
    }

    [Fact]
    public void LeastSquares_RefusesWhatCannotBeFitted()
    {
        Assert.Null(LeastSquares.Fit([1.0, 2.0], [1.0, 2.0]));
        Assert.Null(LeastSquares.Fit([3.0, 3.0, 3.0], [1.0, 2.0, 3.0]));
        Assert.Null(LeastSquares.Fit([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0]));
    }

    [Fact]
    public void TwoProportionTest_MatchesTextbookExamples()
    {
        // Chap T. Le, Introductory Biostatistics (Wiley, 2003), Example 6.6: shipyard employment among non-smoking
        // lung cancer cases 11/61 and controls 35/238; pooled proportion 0.154 and z = 0.64.
        var shipyard = TwoProportionTest.Test(35, 238, 11, 61)!;
        Close(0.64, shipyard.Statistic, 0.01);

        // Usable Stats worked answer (usablestats.com/askstats/question/866): 118 of 3,303 against 80 of 3,303,
        // pooled 0.02997, z = 2.74195, two-sided p = 0.00611.
        var cancer = TwoProportionTest.Test(80, 3303, 118, 3303)!;
        Close(2.74195, cancer.Statistic, 1e-5);
        Close(0.00611, cancer.PValue, 2e-3);
        Assert.Equal(118.0 / 3303, cancer.After, 12);
    }

    [Fact]
    public void TwoProportionTest_NoVariationIsNoDifference()
    {
        var result = TwoProportionTest.Test(0, 50, 0, 70)!;
        Assert.Equal(1, result.PValue);
        Assert.Null(TwoProportionTest.Test(1, 0, 1, 10));
    }

    [Fact]
    public void WelchTest_MatchesNistAutoMpgExample()
    {
        // NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.5.3 "Two-Sample t-Test for Equal Means" (AUTO83B.DAT):
        // US cars n = 249, mean 20.14458, sd 6.41470; Japanese cars n = 79, mean 30.48101, sd 6.10771. Unequal variances:
        // T = -12.94627, ν = 136.8750. Boost.Math's example of the same data (example/students_t_two_samples.cpp) prints
        // the one-sided probability 7.855e-26, so the two-sided p is 1.571e-25.
        var us = new SampleMoments(249, 20.14458, 6.41470 * 6.41470);
        var japan = new SampleMoments(79, 30.48101, 6.10771 * 6.10771);

        var result = WelchTest.Test(japan, us)!;

        Close(-12.94627, result.Statistic, 1e-5);
        Close(136.8750, result.DegreesOfFreedom!.Value, 1e-5);
        Close(2 * 7.855e-26, result.PValue, 1e-3);
    }

    [Fact]
    public void SampleMoments_FromSumsGiveTheSampleVariance()
    {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, so the (n − 1) variance is 32/7.
        double[] values = [2, 4, 4, 4, 5, 5, 7, 9];
        var moments = SampleMoments.FromSums(values.Length, values.Sum(), values.Sum(v => v * v))!.Value;

        Assert.Equal(5, moments.Mean, 12);
        Assert.Equal(32.0 / 7, moments.Variance, 12);
        Assert.Null(SampleMoments.FromSums(1, 3, 9));
    }

    [Fact]
    public void CountTest_EqualPeriodsCompareTheCounts()
    {
        // Given 244 events in two equal periods, 144 in the second is Binomial(244, ½): z = (144 − 100)/√244.
        var result = CountTest.Test(100, 7, 144, 7)!;

        Close(44 / Math.Sqrt(244), result.Statistic, 1e-12);
        Close(100.0 / 7, result.Before, 1e-12);

        // A longer second period expects more: 100 over 7 days against 200 over 14 is no change at all.
        Assert.Equal(0, CountTest.Test(100, 7, 200, 14)!.Statistic, 12);
    }

    [Fact]
    public void RobustZ_UsesTheMedianAndScaledMad()
    {
        // Wikipedia, "Median absolute deviation": for 1, 1, 2, 2, 4, 6, 9 the median is 2 and the MAD is 1.
        double[] data = [1, 1, 2, 2, 4, 6, 9];
        Assert.Equal(2, RobustZ.Median(data));
        Assert.Equal(1, RobustZ.MedianAbsoluteDeviation(data));

        // Iglewicz and Hoaglin's modified z-score: (x − median)/(1.4826 · MAD).
        Assert.Equal((9 - 2) / 1.4826, RobustZ.Score(9, data)!.Value, 12);
        Assert.Equal(3.5, RobustZ.OutlierLimit);
    }

    [Fact]
    public void RobustZ_OneEarlierSpikeDoesNotMaskTheNext()
    {
        double[] baseline = [10, 11, 9, 10, 12, 10, 9, 11, 10, 500];
        Assert.True(RobustZ.Score(60, baseline) > 3.5);
    }

    [Fact]
    public void RobustZ_BaselineWithoutSpreadCannotScore()
    {
        Assert.Null(RobustZ.Score(40, [0, 0, 0, 0, 12, 0, 0]));
        Assert.Null(RobustZ.Score(40, []));
    }

    [Fact]
    public void LatencyHistogram_MeanAndVarianceAreWithinItsAccuracy()
    {
        var rng = new Random(7);
        var values = Enumerable.Range(0, 20_000).Select(_ => 50 * Math.Exp(2 * rng.NextDouble())).Append(0).ToList();
        var histogram = new LatencyHistogram();
        values.ForEach(v => histogram.Add(v));

        var mean = values.Average();
        var variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);

        Close(mean, histogram.Mean!.Value, LatencyHistogram.RelativeAccuracy);
        Close(variance, histogram.Variance!.Value, 2 * LatencyHistogram.RelativeAccuracy);
        Assert.Null(new LatencyHistogram().Mean);
    }
}
