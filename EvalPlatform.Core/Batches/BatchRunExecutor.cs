using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Batches;

/// <summary>How one execution of a run ended.</summary>
public enum BatchRunOutcome
{
    /// <summary>Nothing to do: the run is gone, final, or not this execution's (already cancelled).</summary>
    Skipped,
    Completed,
    Cancelled,
    Failed,

    /// <summary>The node is stopping: the run is queued again with its cursor and resumes on the next execution.</summary>
    Interrupted,
}

/// <summary>
/// Executes batch runs: the one call of the <c>batch-run</c> job (one job per run) and of the recovery sweep. A run goes
/// chunk by chunk through its kind's <see cref="IBatchRunHandler"/>, each chunk in a fresh scope acting for the run's team;
/// after each chunk the counts and cursor are saved and the status re-read, so a cancel takes effect between chunks and a
/// stop of the node loses at most the chunk under way (the handler's items are idempotent). Status changes are conditional
/// updates, so a cancel and the executor never undo each other.
/// </summary>
public sealed class BatchRunExecutor(IServiceScopeFactory scopes, TimeProvider clock, ILogger<BatchRunExecutor> logger)
{
    public const string JobName = "batch-run";

    public async Task<BatchRunOutcome> RunAsync(Guid teamId, Guid runId, CancellationToken ct)
    {
        if (!await TakeAsync(teamId, runId, ct))
        {
            return BatchRunOutcome.Skipped;
        }

        try
        {
            string? previousCursor = null;
            var first = true;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var run = await ReadAsync(teamId, runId, ct);
                if (run is null)
                {
                    return BatchRunOutcome.Skipped;
                }

                if (run.Status == BatchRunStatus.Cancelling)
                {
                    await FinishAsync(teamId, runId, BatchRunStatus.Cancelled, null, CancellationToken.None);
                    return BatchRunOutcome.Cancelled;
                }

                if (run.Status != BatchRunStatus.Running)
                {
                    return BatchRunOutcome.Skipped;
                }

                if (!first && run.Cursor == previousCursor)
                {
                    await FinishAsync(teamId, runId, BatchRunStatus.Failed, "The run's handler made no progress (its cursor did not move).", CancellationToken.None);
                    return BatchRunOutcome.Failed;
                }

                first = false;
                previousCursor = run.Cursor;
                var result = await ChunkAsync(run, ct);
                await SaveChunkAsync(teamId, runId, result, ct);
                if (result.Finished)
                {
                    await FinishAsync(teamId, runId, BatchRunStatus.Completed, null, CancellationToken.None);
                    return BatchRunOutcome.Completed;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The node is stopping: queued again (cursor kept), so the next execution resumes after the last saved chunk.
            await WithDbAsync(teamId, db => db.BatchRuns.Where(r => r.Id == runId && r.Status == BatchRunStatus.Running)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, BatchRunStatus.Queued), CancellationToken.None));
            logger.LogInformation("Batch run {RunId} of team {TeamId} was interrupted by a shutdown; it resumes from its cursor", runId, teamId);
            return BatchRunOutcome.Interrupted;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Batch run {RunId} of team {TeamId} failed", runId, teamId);
            await FinishAsync(teamId, runId, BatchRunStatus.Failed, $"{e.GetType().Name}: {e.Message}", CancellationToken.None);
            return BatchRunOutcome.Failed;
        }
    }

    /// <summary>
    /// Schedules every unfinished run of every team that has no job in <paramref name="scheduler"/> (its node stopped, or it
    /// was started on a node without jobs). Called at start-up and each minute; returns how many it scheduled.
    /// </summary>
    public async Task<int> RecoverAsync(IBatchRunScheduler scheduler, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        // Across teams on purpose: the sweep runs for the whole installation (it only schedules; each run acts for its team).
        var open = await db.BatchRuns.IgnoreQueryFilters().AsNoTracking()
            .Where(r => r.Status == BatchRunStatus.Queued || r.Status == BatchRunStatus.Running || r.Status == BatchRunStatus.Cancelling)
            .OrderBy(r => r.CreatedAt).Select(r => new { r.TeamId, r.Id }).ToListAsync(ct);
        var scheduled = 0;
        foreach (var run in open)
        {
            if (!await scheduler.IsScheduledAsync(run.Id, ct))
            {
                await scheduler.ScheduleAsync(run.TeamId, run.Id, ct);
                scheduled++;
            }
        }

        if (scheduled > 0)
        {
            logger.LogInformation("Scheduled {Count} unfinished batch runs that had no job", scheduled);
        }

        return scheduled;
    }

    // Queued or running (a node died with it) → running; a cancel that came first wins.
    private async Task<bool> TakeAsync(Guid teamId, Guid runId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return await WithDbAsync(teamId, async db =>
        {
            var taken = await db.BatchRuns.Where(r => r.Id == runId && (r.Status == BatchRunStatus.Queued || r.Status == BatchRunStatus.Running))
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, BatchRunStatus.Running).SetProperty(r => r.StartedAt, r => r.StartedAt ?? now), ct);
            if (taken == 1)
            {
                return true;
            }

            // Cancelled while a node was down between chunks: nothing is under way, so it is final now.
            await db.BatchRuns.Where(r => r.Id == runId && r.Status == BatchRunStatus.Cancelling)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, BatchRunStatus.Cancelled).SetProperty(r => r.FinishedAt, now), ct);
            return false;
        });
    }

    private async Task<BatchRun?> ReadAsync(Guid teamId, Guid runId, CancellationToken ct)
    {
        return await WithDbAsync(teamId, db => db.BatchRuns.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId, ct));
    }

    private async Task<BatchChunkResult> ChunkAsync(BatchRun run, CancellationToken ct)
    {
        await using var scope = Scope(run.TeamId);
        var handler = scope.ServiceProvider.GetServices<IBatchRunHandler>().FirstOrDefault(h => string.Equals(h.Kind, run.Kind, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"No batch run handler of kind '{run.Kind}' is registered on this node.");
        var result = await handler.ProcessChunkAsync(new BatchChunk(run.Id, run.TeamId, run.SubjectId, run.Payload, run.Cursor, run.CreatedBy), ct);
        return result.Done < 0 || result.Failed < 0
            ? throw new InvalidOperationException($"The batch run handler '{run.Kind}' reported negative counts.")
            : result;
    }

    private async Task SaveChunkAsync(Guid teamId, Guid runId, BatchChunkResult result, CancellationToken ct)
    {
        // One statement: the counts grow by the chunk's and the cursor moves with them (never one without the other).
        await WithDbAsync(teamId, db => db.BatchRuns.Where(r => r.Id == runId).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.Done, r => r.Done + result.Done)
            .SetProperty(r => r.Failed, r => r.Failed + result.Failed)
            .SetProperty(r => r.Cursor, result.Cursor)
            .SetProperty(r => r.LastError, r => Clip(result.LastError) ?? r.LastError)
            .SetProperty(r => r.Total, r => result.Total ?? r.Total), ct));
    }

    private async Task FinishAsync(Guid teamId, Guid runId, BatchRunStatus status, string? error, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await WithDbAsync(teamId, db => db.BatchRuns.Where(r => r.Id == runId && (r.Status == BatchRunStatus.Running || r.Status == BatchRunStatus.Cancelling))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, status).SetProperty(r => r.FinishedAt, now)
                .SetProperty(r => r.LastError, r => Clip(error) ?? r.LastError), ct));
    }

    /// <summary>The longest error kept (<c>batch_runs.LastError</c>).</summary>
    public const int MaxError = 2000;

    private static string? Clip(string? text) => text is { Length: > MaxError } ? text[..MaxError] : text;

    private AsyncServiceScope Scope(Guid teamId)
    {
        var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
        return scope;
    }

    private async Task<T> WithDbAsync<T>(Guid teamId, Func<IEvalDbContext, Task<T>> work)
    {
        await using var scope = Scope(teamId);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(CancellationToken.None);
        return await work(db);
    }
}
