using System.Text.Json;
using System.Text.Json.Serialization;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Experiments;

/// <summary>What an experiment splits on: the trace's user id, its session id, or each trace on its own.</summary>
public enum ExperimentUnit
{
    UserId,
    SessionId,
    Trace,
}

/// <summary>draft → running ⇄ paused → stopped (stopped is final).</summary>
public enum ExperimentStatus
{
    Draft,
    Running,
    Paused,
    Stopped,
}

/// <summary>What the team decided when it stopped the experiment.</summary>
public enum ExperimentDecision
{
    /// <summary>Ship a variant (<see cref="Experiment.ShippedVariant"/>).</summary>
    Ship,

    /// <summary>Keep the control.</summary>
    Rollback,

    Inconclusive,
}

/// <summary>The metrics an experiment can be judged on (one definition each, the analytics' definitions).</summary>
public enum ExperimentMetricType
{
    /// <summary>Accepted over decided (accepted + rejected) traces, as analytics defines it.</summary>
    AcceptanceRate,

    /// <summary>The mean human score of reviewed traces.</summary>
    HumanScore,

    /// <summary>The mean of one named numeric score (<see cref="ExperimentMetric.ScoreName"/>) over its scores.</summary>
    ScoreMean,

    /// <summary>Traces with an error over all traces.</summary>
    ErrorRate,

    /// <summary>Mean latency in milliseconds of traces that report one.</summary>
    Latency,

    /// <summary>Mean cost of traces that report one.</summary>
    CostPerTrace,
}

/// <summary>
/// A metric as the API writes it: <c>acceptance_rate</c>, <c>human_score</c>, <c>error_rate</c>, <c>latency</c>,
/// <c>cost_per_trace</c>, or <c>score:NAME</c> for a named score's mean.
/// </summary>
public sealed record ExperimentMetric(ExperimentMetricType Type, string? ScoreName = null)
{
    public const string ScorePrefix = "score:";

    public static readonly IReadOnlyList<string> Names = ["acceptance_rate", "human_score", "error_rate", "latency", "cost_per_trace", "score:NAME"];

    public ExperimentMetricKind Kind => Type is ExperimentMetricType.AcceptanceRate or ExperimentMetricType.ErrorRate
        ? ExperimentMetricKind.Proportion
        : ExperimentMetricKind.Mean;

    /// <summary>True when a higher value is better (errors, latency and cost are better lower).</summary>
    public bool HigherIsBetter => Type is ExperimentMetricType.AcceptanceRate or ExperimentMetricType.HumanScore or ExperimentMetricType.ScoreMean;

    public string Wire => Type switch
    {
        ExperimentMetricType.AcceptanceRate => "acceptance_rate",
        ExperimentMetricType.HumanScore => "human_score",
        ExperimentMetricType.ScoreMean => ScorePrefix + ScoreName,
        ExperimentMetricType.ErrorRate => "error_rate",
        ExperimentMetricType.Latency => "latency",
        ExperimentMetricType.CostPerTrace => "cost_per_trace",
        _ => throw new InvalidOperationException(),
    };

    public string Label => Type switch
    {
        ExperimentMetricType.AcceptanceRate => "Acceptance rate",
        ExperimentMetricType.HumanScore => "Mean human score",
        ExperimentMetricType.ScoreMean => $"Mean of score \"{ScoreName}\"",
        ExperimentMetricType.ErrorRate => "Error rate",
        ExperimentMetricType.Latency => "Latency (ms, mean)",
        ExperimentMetricType.CostPerTrace => "Cost per trace",
        _ => throw new InvalidOperationException(),
    };

    public override string ToString() => Wire;

    /// <summary>Parses the wire form; false for anything else (a score name must not be empty).</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ExperimentMetric? metric)
    {
        metric = text switch
        {
            "acceptance_rate" => new(ExperimentMetricType.AcceptanceRate),
            "human_score" => new(ExperimentMetricType.HumanScore),
            "error_rate" => new(ExperimentMetricType.ErrorRate),
            "latency" => new(ExperimentMetricType.Latency),
            "cost_per_trace" => new(ExperimentMetricType.CostPerTrace),
            _ when text is not null && text.StartsWith(ScorePrefix, StringComparison.Ordinal) && text.Length > ScorePrefix.Length
                && text.Length <= ScorePrefix.Length + 200 => new(ExperimentMetricType.ScoreMean, text[ScorePrefix.Length..]),
            _ => null,
        };
        return metric is not null;
    }
}

/// <summary>One arm of an experiment. <see cref="Config"/> is a JSON object (model, system prompt, temperature…) the app or the proxy applies.</summary>
public sealed record ExperimentVariant(string Key, string Name, double Weight, string Config = "{}");

/// <summary>
/// Which traces an experiment targets: the trace list's filters of the same names (<see cref="TraceFilter"/>); results
/// count only matching traces, and the SDKs evaluate them against the attributes they are given.
/// </summary>
public sealed record ExperimentFilters(string? Environment = null, string? Model = null, string? Provider = null, string? Tag = null)
{
    public bool IsEmpty => Environment is null && Model is null && Provider is null && Tag is null;

    /// <summary>As the trace list's filter over [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public TraceFilter ToTraceFilter(DateTimeOffset from, DateTimeOffset to) =>
        new(From: from, To: to, Model: Model, Provider: Provider, Tag: Tag, Environment: Environment);

    /// <summary>The set filters by their snake_case names (the API's and the definitions' <c>filters</c> object).</summary>
    public IReadOnlyDictionary<string, string> ToDictionary()
    {
        var d = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Put("environment", Environment);
        Put("model", Model);
        Put("provider", Provider);
        Put("tag", Tag);
        return d;

        void Put(string name, string? value)
        {
            if (value is not null)
            {
                d[name] = value;
            }
        }
    }
}

/// <summary>
/// A team's A/B experiment (ADR 27): variants with weights and configs, split by a GrowthBook-compatible hash of the
/// unit id (seed = key), judged on a primary metric and guardrails from the traces that carry it.
/// Variants, filters and guardrails are stored as JSON (<see cref="ExperimentJson"/>): they are read and written whole.
/// </summary>
public sealed class Experiment : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>Unique per team, an identifier; the hash's seed and what traces carry in <c>experiment</c>. Fixed once it has run.</summary>
    public required string Key { get; set; }

    public required string Name { get; set; }
    public string? Hypothesis { get; set; }

    /// <summary>Fixed once it has run.</summary>
    public ExperimentUnit Unit { get; set; }

    /// <summary>Share of units included, 0–1 (GrowthBook's coverage: it trims each variant's range).</summary>
    public double Coverage { get; set; } = 1;

    public string VariantsJson { get; set; } = "[]";
    public string FiltersJson { get; set; } = "{}";

    /// <summary>The primary metric in its wire form (<see cref="ExperimentMetric.Wire"/>).</summary>
    public string PrimaryMetric { get; set; } = "acceptance_rate";

    public string GuardrailsJson { get; set; } = "[]";

    /// <summary>The planned relative minimum detectable effect (0.05 = 5 %).</summary>
    public double MinimumDetectableEffect { get; set; } = 0.05;

    /// <summary>Alpha (0.05 by default).</summary>
    public double SignificanceLevel { get; set; } = 0.05;

    public ExperimentStatus Status { get; set; }
    public ExperimentDecision? Decision { get; set; }

    /// <summary>The variant shipped, when <see cref="Decision"/> is <see cref="ExperimentDecision.Ship"/>.</summary>
    public string? ShippedVariant { get; set; }

    public string? DecisionNote { get; set; }

    /// <summary>When it first started: results count traces from here (its key, unit and variant keys are fixed from here).</summary>
    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? StoppedAt { get; set; }
    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// Counts the experiment's changes (its history's last <see cref="ExperimentChange.Sequence"/>); a concurrency token, so
    /// two changes made at once from the same version cannot both commit (the second gets a conflict).
    /// </summary>
    public int Version { get; set; }

    /// <summary>The analysis job announced a significant primary result (once per experiment).</summary>
    public bool SignificanceNotified { get; set; }

    /// <summary>The analysis job announced a sample ratio mismatch (once per experiment).</summary>
    public bool SrmNotified { get; set; }

    public bool HasRun => StartedAt is not null;

    public IReadOnlyList<ExperimentVariant> Variants => ExperimentJson.ReadVariants(VariantsJson);
    public ExperimentFilters Filters => ExperimentJson.ReadFilters(FiltersJson);
    public IReadOnlyList<ExperimentMetric> Guardrails => ExperimentJson.ReadMetrics(GuardrailsJson);
    public ExperimentMetric Primary => ExperimentMetric.TryParse(PrimaryMetric, out var m) ? m : new ExperimentMetric(ExperimentMetricType.AcceptanceRate);
}

/// <summary>One entry of an experiment's history: who changed what, when.</summary>
public sealed class ExperimentChange : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid ExperimentId { get; set; }
    public DateTimeOffset At { get; set; }

    /// <summary>The experiment's <see cref="Experiment.Version"/> this change made: the history's order, even within one tick.</summary>
    public int Sequence { get; set; }

    /// <summary>A member's display name, "API key {id}", or the job's name.</summary>
    public required string Actor { get; set; }

    /// <summary>created, updated, started, paused, resumed, stopped.</summary>
    public required string Action { get; set; }

    /// <summary>What changed, in words ("weights 0.5/0.5 → 0.7/0.3").</summary>
    public string? Detail { get; set; }
}

/// <summary>
/// The stored first assignment of a unit (sticky: it wins over the hash after a weight change), with its exposures counted
/// on the row (not a row per call). One per experiment and unit.
/// </summary>
public sealed class ExperimentAssignment : ITeamOwned
{
    public Guid TeamId { get; set; }
    public Guid ExperimentId { get; set; }
    public required string UnitId { get; set; }
    public required string Variant { get; set; }
    public DateTimeOffset AssignedAt { get; set; }
    public long Exposures { get; set; }
    public DateTimeOffset FirstExposedAt { get; set; }
    public DateTimeOffset LastExposedAt { get; set; }
}

/// <summary>How an experiment's JSON columns are written and read (snake_case, as the API writes them).</summary>
public static class ExperimentJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record StoredVariant(string Key, string Name, double Weight, JsonElement? Config);

    public static string WriteVariants(IEnumerable<ExperimentVariant> variants) =>
        JsonSerializer.Serialize(variants.Select(v => new StoredVariant(v.Key, v.Name, v.Weight, JsonDocument.Parse(v.Config).RootElement.Clone())), Options);

    public static IReadOnlyList<ExperimentVariant> ReadVariants(string? json) =>
        string.IsNullOrWhiteSpace(json)
            ? []
            : (JsonSerializer.Deserialize<List<StoredVariant>>(json, Options) ?? [])
                .Select(v => new ExperimentVariant(v.Key, v.Name, v.Weight, v.Config is { } c ? c.GetRawText() : "{}")).ToList();

    public static string WriteFilters(ExperimentFilters filters) => JsonSerializer.Serialize(filters, Options);

    public static ExperimentFilters ReadFilters(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new ExperimentFilters() : JsonSerializer.Deserialize<ExperimentFilters>(json, Options) ?? new ExperimentFilters();

    public static string WriteMetrics(IEnumerable<ExperimentMetric> metrics) => JsonSerializer.Serialize(metrics.Select(m => m.Wire), Options);

    public static IReadOnlyList<ExperimentMetric> ReadMetrics(string? json) =>
        string.IsNullOrWhiteSpace(json)
            ? []
            : (JsonSerializer.Deserialize<List<string>>(json, Options) ?? []).Select(s => ExperimentMetric.TryParse(s, out var m) ? m : null)
                .OfType<ExperimentMetric>().ToList();
}
