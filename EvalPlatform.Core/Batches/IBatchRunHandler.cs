using EvalPlatform.Core.Teams;

namespace EvalPlatform.Core.Batches;

/// <summary>
/// Runs the batch runs of one <see cref="Kind"/>, a chunk at a time. Registered scoped in DI
/// (<c>services.AddScoped&lt;IBatchRunHandler, MyHandler&gt;()</c>); each chunk gets a fresh scope acting for the run's team
/// (a job's team context), so the handler reads and writes that team's rows only.
/// </summary>
public interface IBatchRunHandler
{
    /// <summary>The kind this handler runs: a short stable name stored with each run.</summary>
    string Kind { get; }

    /// <summary>What a member or key needs to start or cancel a run of this kind; reading a run needs <see cref="Permission.ViewTraces"/>.</summary>
    Permission Permission { get; }

    /// <summary>
    /// Does the next chunk from <see cref="BatchChunk.Cursor"/> (null: the beginning). It must be safe to repeat the chunk after
    /// the saved cursor (a crash between the work and the save): make the item's effect idempotent.
    /// </summary>
    Task<BatchChunkResult> ProcessChunkAsync(BatchChunk chunk, CancellationToken ct);
}

/// <summary>What a handler gets for one chunk.</summary>
public sealed record BatchChunk(Guid RunId, Guid TeamId, Guid? SubjectId, string Payload, string? Cursor, string? CreatedBy);

/// <summary>
/// One chunk's outcome: the cursor after it, how many items it finished and failed, whether the run is finished, the latest
/// failure's reason, and the run's total when the handler learnt it.
/// </summary>
public sealed record BatchChunkResult(string? Cursor, int Done, int Failed, bool Finished, string? LastError = null, int? Total = null);
