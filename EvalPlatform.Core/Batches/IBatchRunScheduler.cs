namespace EvalPlatform.Core.Batches;

/// <summary>
/// Has a stored batch run executed in the background (Web: a one-off Quartz trigger carrying the run's id, in the clustered
/// store on PostgreSQL). Scheduling a run that already has its job is a no-op.
/// </summary>
public interface IBatchRunScheduler
{
    /// <summary>False on a node with <c>Jobs:Enabled=false</c>: runs it starts wait until a node with jobs picks them up.</summary>
    bool Enabled { get; }

    Task ScheduleAsync(Guid teamId, Guid runId, CancellationToken ct);

    /// <summary>True when the run's job is stored in the scheduler (waiting or executing, on any node sharing the store).</summary>
    Task<bool> IsScheduledAsync(Guid runId, CancellationToken ct);
}

/// <summary>The scheduler of a node without background jobs: runs stay queued until a node with jobs recovers them.</summary>
public sealed class DisabledBatchRunScheduler : IBatchRunScheduler
{
    public bool Enabled => false;

    public Task ScheduleAsync(Guid teamId, Guid runId, CancellationToken ct) => Task.CompletedTask;

    public Task<bool> IsScheduledAsync(Guid runId, CancellationToken ct) => Task.FromResult(false);
}
