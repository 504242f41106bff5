namespace EvalPlatform.Core.Analytics;

/// <summary>
/// Everything the dashboard, alerts and experiments measure over a set of traces, kept so that two
/// sets merge by <see cref="Merge"/> (sums, counts and <see cref="LatencyHistogram"/>s only). A rollup
/// row holds one; an hour is the merge of its minutes. The rates and means below are the one
/// definition of each metric in the code.
/// </summary>
public sealed class MetricAggregate
{
    public long Traces { get; set; }

    /// <summary>Traces with an error.</summary>
    public long Errors { get; set; }

    public long PromptTokens { get; set; }

    public long CompletionTokens { get; set; }

    public decimal Cost { get; set; }

    /// <summary>The sum of each trace's cost squared: with <see cref="Cost"/> and <see cref="Traces"/>, the variance of cost per trace.</summary>
    public double CostSquares { get; set; }

    /// <summary>Latency of the traces that have one.</summary>
    public LatencyHistogram Latency { get; init; } = new();

    /// <summary>Time to first token of the traces that have one.</summary>
    public LatencyHistogram TimeToFirstToken { get; init; } = new();

    public long Accepted { get; set; }

    public long Rejected { get; set; }

    public long NeedsReview { get; set; }

    /// <summary>Rejected traces by rejection reason (key); a rejection without a reason counts under "".</summary>
    public Dictionary<string, long> RejectionReasons { get; init; } = new(StringComparer.Ordinal);

    public double HumanScoreSum { get; set; }

    public long HumanScoreCount { get; set; }

    /// <summary>The sum of each human score squared, for the variance of the mean (Welch's test).</summary>
    public double HumanScoreSquares { get; set; }

    /// <summary>
    /// How many traces have each human score, keyed by <see cref="HumanScoreKey"/> (the score to the hundredth, as text:
    /// "1"…"5", "0", "1", "0.75"): the distribution the dashboard draws. Adds up to <see cref="HumanScoreCount"/>.
    /// </summary>
    public Dictionary<string, long> HumanScores { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Numeric scores by name (API, evaluators, LangSmith feedback): their sum and count.</summary>
    public Dictionary<string, ScoreTotal> Scores { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Traces with any review decision (accepted, rejected or needs review).</summary>
    public long Reviewed => Accepted + Rejected + NeedsReview;

    /// <summary>Errors over traces; null without traces.</summary>
    public double? ErrorRate => Traces == 0 ? null : (double)Errors / Traces;

    /// <summary>Accepted over decided (accepted + rejected); null before any decision.</summary>
    public double? AcceptanceRate => Accepted + Rejected == 0 ? null : (double)Accepted / (Accepted + Rejected);

    public double? HumanScoreMean => HumanScoreCount == 0 ? null : HumanScoreSum / HumanScoreCount;

    /// <summary>
    /// Counts one human score in <see cref="HumanScores"/> (not in the sum and count; the caller adds those).
    /// </summary>
    public void CountHumanScore(double score, long count = 1)
    {
        var key = HumanScoreKey(HumanScoreHundredths(score));
        HumanScores[key] = HumanScores.GetValueOrDefault(key) + count;
    }

    /// <summary>
    /// A score to the nearest hundredth (halves away from zero), as a whole number of hundredths. The score is read as a
    /// decimal of 15 significant digits first, as PostgreSQL's <c>round("HumanScore"::numeric * 100)</c> reads a
    /// <c>float8</c>, so the rollup and the raw reads bin every score alike (0.145 → 15, not 14 as binary arithmetic gives).
    /// </summary>
    public static long HumanScoreHundredths(double score) => (long)Math.Round((decimal)score * 100, 0, MidpointRounding.AwayFromZero);

    /// <summary>The key of a score's hundredths: "4", "0.5", "0.75" (invariant, no trailing zeros).</summary>
    public static string HumanScoreKey(long hundredths) => (hundredths / 100m).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The human score distribution as numbers, lowest score first.</summary>
    public IReadOnlyList<(double Score, long Count)> HumanScoreDistribution() => HumanScores
        .Select(p => ((double)decimal.Parse(p.Key, System.Globalization.CultureInfo.InvariantCulture), p.Value))
        .OrderBy(p => p.Item1)
        .ToList();

    /// <summary>Rejected over decided (accepted + rejected); null before any decision.</summary>
    public double? RejectionRate => Accepted + Rejected == 0 ? null : (double)Rejected / (Accepted + Rejected);

    /// <summary>Rejections with <paramref name="reason"/> over decided traces; null before any decision.</summary>
    public double? ReasonRejectionRate(string reason) =>
        Accepted + Rejected == 0 ? null : (double)RejectionReasons.GetValueOrDefault(reason) / (Accepted + Rejected);

    /// <summary>The mean of the numeric score <paramref name="name"/>; null without one.</summary>
    public double? ScoreMean(string name) => Scores.GetValueOrDefault(name).Mean;

    public void Merge(MetricAggregate other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Traces += other.Traces;
        Errors += other.Errors;
        PromptTokens += other.PromptTokens;
        CompletionTokens += other.CompletionTokens;
        Cost += other.Cost;
        CostSquares += other.CostSquares;
        Latency.Merge(other.Latency);
        TimeToFirstToken.Merge(other.TimeToFirstToken);
        Accepted += other.Accepted;
        Rejected += other.Rejected;
        NeedsReview += other.NeedsReview;
        foreach (var (reason, count) in other.RejectionReasons)
        {
            RejectionReasons[reason] = RejectionReasons.GetValueOrDefault(reason) + count;
        }

        HumanScoreSum += other.HumanScoreSum;
        HumanScoreCount += other.HumanScoreCount;
        HumanScoreSquares += other.HumanScoreSquares;
        foreach (var (score, count) in other.HumanScores)
        {
            HumanScores[score] = HumanScores.GetValueOrDefault(score) + count;
        }

        foreach (var (name, total) in other.Scores)
        {
            Scores[name] = Scores.GetValueOrDefault(name) + total;
        }
    }

    /// <summary>
    /// The value of <paramref name="metric"/> over this set, null where undefined (a rate without traces). <paramref name="key"/>
    /// names the reason or score of a metric that <see cref="MetricNames.NeedsKey"/>; without it theirs is undefined.
    /// </summary>
    public double? Value(Metric metric, string? key = null) => metric switch
    {
        Metric.Traces => Traces,
        Metric.Errors => Errors,
        Metric.ErrorRate => ErrorRate,
        Metric.LatencyP50 => Latency.Quantile(0.50),
        Metric.LatencyP90 => Latency.Quantile(0.90),
        Metric.LatencyP95 => Latency.Quantile(0.95),
        Metric.LatencyP99 => Latency.Quantile(0.99),
        Metric.TimeToFirstTokenP50 => TimeToFirstToken.Quantile(0.50),
        Metric.TimeToFirstTokenP95 => TimeToFirstToken.Quantile(0.95),
        Metric.PromptTokens => PromptTokens,
        Metric.CompletionTokens => CompletionTokens,
        Metric.TotalTokens => PromptTokens + CompletionTokens,
        Metric.Cost => (double)Cost,
        Metric.Reviewed => Reviewed,
        Metric.Accepted => Accepted,
        Metric.Rejected => Rejected,
        Metric.NeedsReview => NeedsReview,
        Metric.AcceptanceRate => AcceptanceRate,
        Metric.HumanScore => HumanScoreMean,
        Metric.RejectionRate => RejectionRate,
        Metric.ReasonRejectionRate => key is null ? null : ReasonRejectionRate(key),
        Metric.ScoreMean => key is null ? null : ScoreMean(key),
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, null),
    };

    /// <summary>How many observations <see cref="Value"/> rests on: its denominator, for weights and significance.</summary>
    public long Observations(Metric metric, string? key = null) => metric switch
    {
        Metric.LatencyP50 or Metric.LatencyP90 or Metric.LatencyP95 or Metric.LatencyP99 => Latency.Count,
        Metric.TimeToFirstTokenP50 or Metric.TimeToFirstTokenP95 => TimeToFirstToken.Count,
        Metric.AcceptanceRate or Metric.RejectionRate or Metric.ReasonRejectionRate => Accepted + Rejected,
        Metric.ScoreMean => key is null ? 0 : Scores.GetValueOrDefault(key).Count,
        Metric.HumanScore => HumanScoreCount,
        Metric.Reviewed or Metric.Accepted or Metric.Rejected or Metric.NeedsReview => Reviewed,
        _ => Traces,
    };
}

/// <summary>A sum and a count that add up.</summary>
public readonly record struct ScoreTotal(double Sum, long Count)
{
    public double? Mean => Count == 0 ? null : Sum / Count;

    public static ScoreTotal operator +(ScoreTotal a, ScoreTotal b) => new(a.Sum + b.Sum, a.Count + b.Count);

    public static ScoreTotal Add(ScoreTotal a, ScoreTotal b) => a + b;
}
