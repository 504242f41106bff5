using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Evaluators;

/// <summary>What a judge answers. Wire names: pass_fail, scale_1_5, unit_0_1.</summary>
public enum EvaluatorOutput
{
    /// <summary>"pass" or "fail": a boolean score (1 or 0).</summary>
    PassFail = 0,

    /// <summary>An integer from 1 to 5: a numeric score.</summary>
    Scale1To5 = 1,

    /// <summary>A number from 0 to 1: a numeric score.</summary>
    Unit0To1 = 2,
}

/// <summary>
/// An LLM judge: a rubric prompt sent with one of the team's provider connections and a model, read back as a verdict of
/// <see cref="Output"/>'s kind and stored as a score named <see cref="Name"/> (source evaluator, author <c>evaluator:{id}</c>)
/// with the judge's reasoning. It runs on new traces matching <see cref="FilterJson"/> (sampled), and on selections as batch runs.
/// </summary>
public sealed class Evaluator : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>Unique in the team: the name of the scores it gives.</summary>
    public required string Name { get; set; }

    public Guid ConnectionId { get; set; }
    public required string Model { get; set; }

    /// <summary>The rubric, with <c>{{input}}</c>, <c>{{output}}</c>, <c>{{functions}}</c>, <c>{{metadata}}</c> filled from the trace.</summary>
    public required string Prompt { get; set; }

    public EvaluatorOutput Output { get; set; }

    /// <summary>Whether the minute job judges new traces matching the filter.</summary>
    public bool OnNewTraces { get; set; }

    /// <summary>The trace list's own <see cref="TraceFilter"/> as JSON (the list's parameter names), as review queues store it.</summary>
    public string FilterJson { get; set; } = "{}";

    /// <summary>Percent of matching new traces judged (1–100), chosen by a stable hash of (evaluator, trace).</summary>
    public int SamplePercent { get; set; } = 100;

    /// <summary>Most the judge may spend per UTC day, in USD; null for no limit. Items past it are skipped ("budget reached").</summary>
    public decimal? DailyBudgetUsd { get; set; }

    /// <summary>Off: no new traces are judged and no batch runs start.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>What the judge spent on <see cref="SpentDay"/> (UTC day start); counted by single-statement updates.</summary>
    public double SpentToday { get; set; }

    public DateTimeOffset SpentDay { get; set; }

    /// <summary>New traces created up to here were considered; the minute job moves it on.</summary>
    public DateTimeOffset Watermark { get; set; }

    /// <summary>The latest failure of a new-trace judgement (or "budget reached"), for the evaluator's page.</summary>
    public string? LastError { get; set; }

    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>The author of its scores.</summary>
    public static string AuthorOf(Guid evaluatorId) => $"evaluator:{evaluatorId}";
}

/// <summary>An evaluator as created or replaced (every field; the API's and the editor's).</summary>
public sealed record EvaluatorInput(
    string? Name,
    Guid? ConnectionId,
    string? Model,
    string? Prompt,
    EvaluatorOutput Output,
    bool OnNewTraces = false,
    TraceFilter? Filter = null,
    int SamplePercent = 100,
    decimal? DailyBudgetUsd = null,
    bool Enabled = true);

/// <summary>What a batch run of an evaluator goes over: listed traces, or a review queue's traces.</summary>
public sealed record EvaluatorSelection(IReadOnlyList<Guid>? TraceIds, Guid? QueueId, Traces.TraceFilter? Filter = null);
