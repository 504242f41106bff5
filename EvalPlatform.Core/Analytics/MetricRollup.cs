using System.Text.Json;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Analytics;

/// <summary>
/// One rollup row: the <see cref="MetricAggregate"/> of a team's traces that started in one bucket
/// (<see cref="Interval"/> wide, starting at <see cref="Bucket"/>) with one combination of the five rollup
/// dimensions. A missing dimension is stored as "" (so the unique key works) and read back as null.
/// Rows are only ever recomputed from the raw traces (minutes) or from the rows below (hours from minutes,
/// days from hours), never added to: running the rollup again cannot count twice.
/// </summary>
public sealed class MetricRollup : ITeamOwned
{
    public Guid TeamId { get; set; }
    public MetricInterval Interval { get; set; }
    public DateTimeOffset Bucket { get; set; }
    public string Model { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Environment { get; set; } = "";
    public string Experiment { get; set; } = "";
    public string Variant { get; set; } = "";

    public long Traces { get; set; }
    public long Errors { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public decimal Cost { get; set; }
    public double CostSquares { get; set; }

    /// <summary><see cref="LatencyHistogram.Serialize"/> text.</summary>
    public string Latency { get; set; } = "";

    /// <summary><see cref="LatencyHistogram.Serialize"/> text.</summary>
    public string TimeToFirstToken { get; set; } = "";

    public long Accepted { get; set; }
    public long Rejected { get; set; }
    public long NeedsReview { get; set; }

    /// <summary>JSON object reason → count; null when there is none.</summary>
    public string? RejectionReasons { get; set; }

    public double HumanScoreSum { get; set; }
    public long HumanScoreCount { get; set; }
    public double HumanScoreSquares { get; set; }

    /// <summary>JSON object score (<see cref="MetricAggregate.HumanScoreKey"/>) → count; null when there is none.</summary>
    public string? HumanScoreCounts { get; set; }

    /// <summary>JSON object name → [sum, count]; null when there is none.</summary>
    public string? Scores { get; set; }

    public RollupDimensions Dimensions => new(Model, Provider, Environment, Experiment, Variant);

    public static MetricRollup From(Guid teamId, MetricInterval interval, DateTimeOffset bucket, RollupDimensions dims, MetricAggregate a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new MetricRollup
        {
            TeamId = teamId, Interval = interval, Bucket = bucket,
            Model = dims.Model, Provider = dims.Provider, Environment = dims.Environment, Experiment = dims.Experiment, Variant = dims.Variant,
            Traces = a.Traces, Errors = a.Errors, PromptTokens = a.PromptTokens, CompletionTokens = a.CompletionTokens,
            Cost = a.Cost, CostSquares = a.CostSquares,
            Latency = a.Latency.Serialize(), TimeToFirstToken = a.TimeToFirstToken.Serialize(),
            Accepted = a.Accepted, Rejected = a.Rejected, NeedsReview = a.NeedsReview,
            RejectionReasons = a.RejectionReasons.Count == 0 ? null : JsonSerializer.Serialize(a.RejectionReasons),
            HumanScoreSum = a.HumanScoreSum, HumanScoreCount = a.HumanScoreCount, HumanScoreSquares = a.HumanScoreSquares,
            HumanScoreCounts = a.HumanScores.Count == 0 ? null : JsonSerializer.Serialize(a.HumanScores),
            Scores = a.Scores.Count == 0 ? null : JsonSerializer.Serialize(a.Scores.ToDictionary(p => p.Key, p => new[] { p.Value.Sum, p.Value.Count })),
        };
    }

    /// <summary>Adds this row to <paramref name="a"/>: <c>a.Merge(ToAggregate())</c> without the aggregate in between (a read merges thousands of rows).</summary>
    public void MergeInto(MetricAggregate a)
    {
        ArgumentNullException.ThrowIfNull(a);
        a.Traces += Traces;
        a.Errors += Errors;
        a.PromptTokens += PromptTokens;
        a.CompletionTokens += CompletionTokens;
        a.Cost += Cost;
        a.CostSquares += CostSquares;
        a.Latency.MergeSerialized(Latency);
        a.TimeToFirstToken.MergeSerialized(TimeToFirstToken);
        a.Accepted += Accepted;
        a.Rejected += Rejected;
        a.NeedsReview += NeedsReview;
        a.HumanScoreSum += HumanScoreSum;
        a.HumanScoreCount += HumanScoreCount;
        a.HumanScoreSquares += HumanScoreSquares;
        if (!string.IsNullOrEmpty(RejectionReasons))
        {
            foreach (var (reason, count) in JsonSerializer.Deserialize<Dictionary<string, long>>(RejectionReasons)!)
            {
                a.RejectionReasons[reason] = a.RejectionReasons.GetValueOrDefault(reason) + count;
            }
        }

        if (!string.IsNullOrEmpty(HumanScoreCounts))
        {
            foreach (var (score, count) in JsonSerializer.Deserialize<Dictionary<string, long>>(HumanScoreCounts)!)
            {
                a.HumanScores[score] = a.HumanScores.GetValueOrDefault(score) + count;
            }
        }

        if (!string.IsNullOrEmpty(Scores))
        {
            foreach (var (name, pair) in JsonSerializer.Deserialize<Dictionary<string, double[]>>(Scores)!)
            {
                a.Scores[name] = a.Scores.GetValueOrDefault(name) + new ScoreTotal(pair[0], (long)pair[1]);
            }
        }
    }

    public MetricAggregate ToAggregate()
    {
        var a = new MetricAggregate();
        MergeInto(a);
        return a;
    }
}

/// <summary>The five rollup dimensions of a trace, "" where the trace has none.</summary>
public readonly record struct RollupDimensions(string Model, string Provider, string Environment, string Experiment, string Variant)
{
    public static RollupDimensions Of(string? model, string? provider, string? environment, string? experiment, string? variant) =>
        new(model ?? "", provider ?? "", environment ?? "", experiment ?? "", variant ?? "");

    /// <summary>The value of one rollup dimension, null for "none".</summary>
    public string? Get(AnalyticsDimension dimension)
    {
        var value = dimension switch
        {
            AnalyticsDimension.Model => Model,
            AnalyticsDimension.Provider => Provider,
            AnalyticsDimension.Environment => Environment,
            AnalyticsDimension.Experiment => Experiment,
            AnalyticsDimension.Variant => Variant,
            _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Not a rollup dimension."),
        };
        return value.Length == 0 ? null : value;
    }

    public static bool IsRollupDimension(AnalyticsDimension dimension) => dimension is AnalyticsDimension.Model or AnalyticsDimension.Provider
        or AnalyticsDimension.Environment or AnalyticsDimension.Experiment or AnalyticsDimension.Variant;
}

/// <summary>
/// A team's minute whose rollup rows are stale: a trace that started in it was stored, changed, reviewed, scored,
/// moved out of it or deleted. Append-only marks (a minute may be marked many times); the rollup recomputes the
/// minute and deletes the marks it read, so a mark added meanwhile survives for the next run. The reader reads a
/// marked minute from the raw traces.
/// </summary>
public sealed class MetricDirtyMinute : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The start of the minute (UTC) of the traces' <c>StartedAt</c>.</summary>
    public DateTimeOffset Minute { get; set; }

    public DateTimeOffset MarkedAt { get; set; }
}

/// <summary>The rollup's progress: one row (<see cref="SingletonId"/>), across all teams.</summary>
public sealed class MetricRollupState
{
    public const int SingletonId = 1;

    public int Id { get; set; } = SingletonId;

    /// <summary>Every trace change with an <c>UpdatedAt</c> before this (less the overlap) has been marked dirty. Null before the first run.</summary>
    public DateTimeOffset? Watermark { get; set; }

    /// <summary>
    /// Minutes before this are in the rollups (or marked dirty); the reader reads every minute from here on from the raw
    /// traces: the live edge.
    /// </summary>
    public DateTimeOffset? RolledThrough { get; set; }

    /// <summary>The last run that looked back over the overlap before the watermark (ADR 17; at least every <c>Analytics:RollupOverlapScanSeconds</c>).</summary>
    public DateTimeOffset? LastRunAt { get; set; }
}
