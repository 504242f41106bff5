using EvalPlatform.Core.Queues;

namespace EvalPlatform.Tests.Unit.Queues;

/// <summary>The agreement statistics against published worked examples.</summary>
public sealed class AgreementTests
{
    /// <summary>
    /// Fleiss' kappa, the worked example of the Fleiss (1971) method as published (e.g. Wikipedia,
    /// "Fleiss' kappa"): 10 subjects, 14 raters each, 5 categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
    /// </summary>
    private static readonly int[,] FleissExample =
    {
        { 0, 0, 0, 0, 14 },
        { 0, 2, 6, 4, 2 },
        { 0, 0, 3, 5, 6 },
        { 0, 3, 9, 2, 0 },
        { 2, 2, 8, 1, 1 },
        { 7, 7, 0, 0, 0 },
        { 3, 2, 6, 3, 0 },
        { 2, 5, 3, 2, 2 },
        { 6, 5, 2, 1, 0 },
        { 0, 2, 2, 3, 7 },
    };

    [Fact]
    public void FleissKappa_OfThePublishedExample_Is0210()
    {
        Assert.Equal(0.210, Agreement.FleissKappa(FleissExample)!.Value, 3);
    }

    [Fact]
    public void FleissKappa_FromRatings_EqualsTheCountTable()
    {
        var ratings = new List<IReadOnlyList<string>>();
        for (var i = 0; i < FleissExample.GetLength(0); i++)
        {
            var item = new List<string>();
            for (var j = 0; j < FleissExample.GetLength(1); j++)
            {
                item.AddRange(Enumerable.Repeat($"category {j + 1}", FleissExample[i, j]));
            }

            ratings.Add(item);
        }

        Assert.Equal(Agreement.FleissKappa(FleissExample)!.Value, Agreement.FleissKappa(ratings)!.Value, 12);
    }

    /// <summary>Cohen's kappa, the textbook 2×2 tables (Wikipedia, "Cohen's kappa"): rows rater A yes/no, columns rater B yes/no.</summary>
    [Theory]
    [InlineData(20, 5, 10, 15, 0.4)] // pₒ = 0.70, pₑ = 0.50
    [InlineData(45, 15, 25, 15, 0.1304)] // pₒ = 0.60, pₑ = 0.54
    [InlineData(25, 35, 5, 35, 0.2593)] // pₒ = 0.60, pₑ = 0.46
    public void CohensKappa_OfTextbookTables(int yesYes, int yesNo, int noYes, int noNo, double kappa)
    {
        var table = new[,] { { yesYes, yesNo }, { noYes, noNo } };

        Assert.Equal(kappa, Agreement.CohensKappa(table)!.Value, 4);
    }

    [Fact]
    public void CohensKappa_FromPairs_EqualsTheTable()
    {
        var pairs = Enumerable.Repeat(("yes", "yes"), 20).Concat(Enumerable.Repeat(("yes", "no"), 5))
            .Concat(Enumerable.Repeat(("no", "yes"), 10)).Concat(Enumerable.Repeat(("no", "no"), 15)).ToList();

        Assert.Equal(0.4, Agreement.CohensKappa(pairs)!.Value, 10);
    }

    [Fact]
    public void PerfectAgreement_IsOne_AndUndefinedWhenEveryoneAlwaysSaysTheSame()
    {
        Assert.Equal(1.0, Agreement.CohensKappa([("a", "a"), ("b", "b"), ("a", "a")])!.Value, 10);
        Assert.Equal(1.0, Agreement.FleissKappa([["a", "a", "a"], ["b", "b", "b"]])!.Value, 10);
        Assert.Null(Agreement.CohensKappa([("a", "a"), ("a", "a")]));
        Assert.Null(Agreement.FleissKappa([["a", "a", "a"], ["a", "a", "a"]]));
        Assert.Null(Agreement.CohensKappa([]));
    }

    [Fact]
    public void PercentAgreement_IsTheShareOfUnanimousItems()
    {
        Assert.Equal(0.5, Agreement.PercentAgreement([["a", "a"], ["a", "b"]]));
        Assert.Equal(2.0 / 3, Agreement.PercentAgreement([["a", "a", "a"], ["b", "b", "b"], ["a", "a", "b"]])!.Value, 10);
        Assert.Null(Agreement.PercentAgreement([]));
    }

    [Fact]
    public void SystematicDisagreement_IsBelowZero()
    {
        Assert.Equal(-1.0, Agreement.CohensKappa([("a", "b"), ("b", "a")])!.Value, 10);
    }

    [Fact]
    public void FleissKappa_NeedsTheSameNumberOfRatingsPerItem()
    {
        Assert.Throws<ArgumentException>(() => Agreement.FleissKappa([["a", "a"], ["a", "b", "b"]]));
        Assert.Throws<ArgumentException>(() => Agreement.CohensKappa(new int[2, 3]));
    }

    [Theory]
    [InlineData(-0.1, "poor")]
    [InlineData(0.21, "fair")]
    [InlineData(0.61, "substantial")]
    [InlineData(0.95, "almost perfect")]
    public void Describe_UsesLandisAndKoch(double kappa, string words) => Assert.Equal(words, Agreement.Describe(kappa));
}
