namespace EvalPlatform.Core.Queues;

/// <summary>
/// Agreement between reviewers, from their ratings (categories). Pure functions, no I/O.
/// <list type="bullet">
/// <item><see cref="PercentAgreement"/>: the share of items on which every rating is the same.</item>
/// <item><see cref="CohensKappa(int[,])"/>: two raters, chance-corrected (Cohen 1960): κ = (pₒ − pₑ) / (1 − pₑ).</item>
/// <item><see cref="FleissKappa(int[,])"/>: any fixed number of ratings per item from a pool of raters (Fleiss 1971).</item>
/// </list>
/// Kappa is undefined (null) when chance agreement is already perfect, e.g. everyone always gave the same category.
/// </summary>
public static class Agreement
{
    /// <summary>The share (0–1) of items whose ratings are all the same; null without items.</summary>
    public static double? PercentAgreement(IReadOnlyList<IReadOnlyList<string>> ratingsPerItem)
    {
        var rated = ratingsPerItem.Where(r => r.Count >= 2).ToList();
        return rated.Count == 0 ? null : rated.Count(r => r.Distinct(StringComparer.Ordinal).Count() == 1) / (double)rated.Count;
    }

    /// <summary>Cohen's kappa of two raters, each pair (rater A's category, rater B's category) one item.</summary>
    public static double? CohensKappa(IReadOnlyList<(string A, string B)> pairs)
    {
        var categories = pairs.SelectMany(p => new[] { p.A, p.B }).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var index = categories.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var table = new int[categories.Count, categories.Count];
        foreach (var (a, b) in pairs)
        {
            table[index[a], index[b]]++;
        }

        return CohensKappa(table);
    }

    /// <summary>Cohen's kappa from a square contingency table: rows rater A's category, columns rater B's.</summary>
    public static double? CohensKappa(int[,] table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var k = table.GetLength(0);
        if (k != table.GetLength(1))
        {
            throw new ArgumentException("The table must be square: the same categories for both raters.", nameof(table));
        }

        double n = 0, agreed = 0;
        var rows = new double[k];
        var columns = new double[k];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                n += table[i, j];
                rows[i] += table[i, j];
                columns[j] += table[i, j];
            }

            agreed += table[i, i];
        }

        if (n == 0)
        {
            return null;
        }

        var observed = agreed / n;
        var chance = rows.Zip(columns, (r, c) => r / n * (c / n)).Sum();
        return chance >= 1 ? null : (observed - chance) / (1 - chance);
    }

    /// <summary>Fleiss' kappa from each item's ratings; items must all have the same number (at least 2) of ratings.</summary>
    public static double? FleissKappa(IReadOnlyList<IReadOnlyList<string>> ratingsPerItem)
    {
        var categories = ratingsPerItem.SelectMany(r => r).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var index = categories.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var counts = new int[ratingsPerItem.Count, categories.Count];
        for (var i = 0; i < ratingsPerItem.Count; i++)
        {
            foreach (var rating in ratingsPerItem[i])
            {
                counts[i, index[rating]]++;
            }
        }

        return FleissKappa(counts);
    }

    /// <summary>
    /// Fleiss' kappa from a count table: one row per item, one column per category, each cell the
    /// number of raters who put the item in that category; every row sums to the same n ≥ 2.
    /// </summary>
    public static double? FleissKappa(int[,] counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var items = counts.GetLength(0);
        var k = counts.GetLength(1);
        if (items == 0 || k == 0)
        {
            return null;
        }

        var raters = -1;
        var meanAgreement = 0.0;
        var share = new double[k];
        for (var i = 0; i < items; i++)
        {
            var n = 0;
            var pairs = 0.0;
            for (var j = 0; j < k; j++)
            {
                n += counts[i, j];
                share[j] += counts[i, j];
                pairs += counts[i, j] * (counts[i, j] - 1.0);
            }

            if (raters == -1)
            {
                raters = n;
            }
            else if (n != raters)
            {
                throw new ArgumentException($"Every item needs the same number of ratings (item {i} has {n}, the first {raters}).", nameof(counts));
            }

            if (n < 2)
            {
                throw new ArgumentException("Every item needs at least two ratings.", nameof(counts));
            }

            meanAgreement += pairs / (n * (n - 1.0));
        }

        meanAgreement /= items;
        var total = (double)items * raters;
        var chance = share.Sum(s => (s / total) * (s / total));
        return chance >= 1 ? null : (meanAgreement - chance) / (1 - chance);
    }

    /// <summary>Landis and Koch's (1977) words for a kappa.</summary>
    public static string Describe(double kappa) => kappa switch
    {
        < 0 => "poor",
        <= 0.20 => "slight",
        <= 0.40 => "fair",
        <= 0.60 => "moderate",
        <= 0.80 => "substantial",
        _ => "almost perfect",
    };
}
