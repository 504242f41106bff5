using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Batches;

/// <summary>Where a batch run is. Queued and Running may go on; the last three are final.</summary>
public enum BatchRunStatus
{
    /// <summary>Waiting for its job to fire, or interrupted by a shutdown and waiting to resume from its cursor.</summary>
    Queued = 0,
    Running = 1,

    /// <summary>Someone asked to stop it; it stops after the chunk under way.</summary>
    Cancelling = 2,
    Cancelled = 3,
    Completed = 4,
    Failed = 5,
}

/// <summary>
/// One piece of server-side work over many items (an evaluator over a selection of traces, a prompt over a queue), run in
/// chunks by the <c>batch-run</c> job through the <see cref="IBatchRunHandler"/> of its <see cref="Kind"/>. After each chunk
/// the counts and the <see cref="Cursor"/> are saved, so a run interrupted by a restart resumes where it stopped and never
/// redoes a finished chunk.
/// </summary>
public sealed class BatchRun : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>Which handler runs it (e.g. <c>evaluator</c>); see <see cref="IBatchRunHandler.Kind"/>.</summary>
    public required string Kind { get; set; }

    /// <summary>What the run is about, for listing a thing's runs (an evaluator's id, say); the handler's to define.</summary>
    public Guid? SubjectId { get; set; }

    public required string Title { get; set; }
    public BatchRunStatus Status { get; set; }

    /// <summary>How many items the run has, when known (the handler may set it at its first chunk).</summary>
    public int Total { get; set; }

    /// <summary>Items finished successfully.</summary>
    public int Done { get; set; }

    /// <summary>Items that failed (each with its reason in the handler's own results; the latest in <see cref="LastError"/>).</summary>
    public int Failed { get; set; }

    /// <summary>The member's user id or <c>api-key:{id}</c> that started it.</summary>
    public string? CreatedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? LastError { get; set; }

    /// <summary>The handler's input as JSON (what to run over, with what); never changes after the start.</summary>
    public required string Payload { get; set; }

    /// <summary>Where the handler is: opaque to everything but the handler; null before the first chunk.</summary>
    public string? Cursor { get; set; }

    public bool IsFinal => Status is BatchRunStatus.Cancelled or BatchRunStatus.Completed or BatchRunStatus.Failed;
}
