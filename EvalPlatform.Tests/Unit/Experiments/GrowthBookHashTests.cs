using EvalPlatform.Core.Experiments;
using MathNet.Numerics.Distributions;

namespace EvalPlatform.Tests.Unit.Experiments;

/// <summary>The hash and bucket ranges against GrowthBook's own outputs (computed with @growthbook/growthbook 1.8.0), and the split they give.</summary>
public sealed class GrowthBookHashTests
{
    [Theory]
    [InlineData("checkout-test", "user-1", 0.6947)]
    [InlineData("checkout-test", "user-2", 0.472)]
    [InlineData("checkout-test", "42", 0.8101)]
    [InlineData("prompt-v2", "session-abc", 0.687)]
    [InlineData("prompt-v2", "usér-é", 0.2465)]
    [InlineData("prompt-v2", "id-😀", 0.1595)]
    public void HashV2_EqualsGrowthBooks(string seed, string id, double expected) =>
        Assert.Equal(expected, GrowthBookHash.HashV2(seed, id), 10);

    [Fact]
    public void BucketRanges_CoverageTrimsEachVariantsRange()
    {
        var ranges = GrowthBookHash.BucketRanges(3, 0.9, [0.5, 0.3, 0.2]);
        Assert.Equal([(0, 0.45), (0.5, 0.77), (0.8, 0.98)], ranges.Select(r => (Math.Round(r.Start, 10), Math.Round(r.End, 10))));
    }

    [Fact]
    public void BucketRanges_WeightsNotAddingUpToOne_FallBackToEqualWeights()
    {
        Assert.Equal([(0, 0.5), (0.5, 1.0)], GrowthBookHash.BucketRanges(2, 1, [0.7, 0.7]));
        Assert.Equal([(0, 0.5), (0.5, 1.0)], GrowthBookHash.BucketRanges(2, 1, [1.0]));
        Assert.Equal([(0, 0.25), (0.5, 0.75)], GrowthBookHash.BucketRanges(2, 0.5, null));
        Assert.Empty(GrowthBookHash.BucketRanges(0, 1, null));
    }

    [Theory]
    [InlineData("user-1", 1)]
    [InlineData("user-2", -1)]
    [InlineData("user-3", 1)]
    [InlineData("user-4", 2)]
    [InlineData("user-5", -1)]
    [InlineData("usér-é", 1)]
    public void ChooseVariant_MatchesGrowthBooksAssignments(string id, int expected)
    {
        var ranges = GrowthBookHash.BucketRanges(3, 0.9, [0.5, 0.3, 0.2]);
        Assert.Equal(expected, GrowthBookHash.ChooseVariant(GrowthBookHash.HashV2("checkout-test", id), ranges));
    }

    /// <summary>
    /// 100,000 fixed ids split 0.5/0.3/0.2 at full coverage: a chi-square goodness-of-fit test of the counts against the weights
    /// does not reject at 0.001 (the same threshold as the SRM check), and each share is within 1 point of its weight.
    /// </summary>
    [Fact]
    public void HundredThousandUnits_SplitAsTheWeights()
    {
        double[] weights = [0.5, 0.3, 0.2];
        var ranges = GrowthBookHash.BucketRanges(3, 1, weights);
        var counts = new long[3];
        for (var i = 0; i < 100_000; i++)
        {
            var v = GrowthBookHash.ChooseVariant(GrowthBookHash.HashV2("split-test", $"user-{i}"), ranges);
            Assert.InRange(v, 0, 2);
            counts[v]++;
        }

        var chi = counts.Select((c, i) => Math.Pow(c - (100_000 * weights[i]), 2) / (100_000 * weights[i])).Sum();
        var p = 1 - ChiSquared.CDF(2, chi);
        Assert.True(p > 0.001, $"counts {string.Join("/", counts)}, chi-square {chi}, p {p}");
        for (var i = 0; i < 3; i++)
        {
            Assert.InRange(counts[i] / 100_000.0, weights[i] - 0.01, weights[i] + 0.01);
        }
    }

    [Fact]
    public void HundredThousandUnits_CoverageKeepsItsShare()
    {
        var ranges = GrowthBookHash.BucketRanges(2, 0.4, [0.5, 0.5]);
        var included = Enumerable.Range(0, 100_000).Count(i => GrowthBookHash.ChooseVariant(GrowthBookHash.HashV2("coverage-test", $"u{i}"), ranges) >= 0);
        // Binomial(100000, 0.4): sd ≈ 155, so ±1000 is over 6 sd.
        Assert.InRange(included, 39_000, 41_000);
    }
}
