namespace EvalPlatform.Core.Analytics;

public enum TrendKind
{
    /// <summary>The metric's least-squares slope over the range, when its 95 % interval excludes zero.</summary>
    Slope,

    /// <summary>The last 7 days against the 7 before, when the test fitting the metric finds a difference.</summary>
    WeekOverWeek,

    /// <summary>A bucket beyond the robust z-score limit against its rolling baseline.</summary>
    Anomaly,
}

/// <summary>
/// One thing that changed, as a sentence a person can act on ("Acceptance rate for gpt-4o fell from 91 % to 78 % week
/// over week (p = 0.003)") and as data. <see cref="Group"/> is the model (null: all traces). <see cref="At"/> is the
/// bucket of an anomaly. <see cref="Worse"/> says whether the change is bad news for the team.
/// </summary>
public sealed record TrendFinding(
    TrendKind Kind, Metric Metric, string? Group, string Sentence, bool Worse,
    double? Before = null, double? After = null, double? PValue = null,
    double? Slope = null, double? SlopeLow = null, double? SlopeHigh = null,
    DateTimeOffset? At = null, double? Score = null);

/// <summary>The findings for one filter and range, and when they were computed (the hourly job, or on demand).</summary>
public sealed record TrendReport(AnalyticsFilter Filter, DateTimeOffset ComputedAt, IReadOnlyList<TrendFinding> Findings);
