using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Batches;

/// <summary>What a feature asks to run: its handler's kind, a title for people, the item count when known, and the payload.</summary>
public sealed record BatchRunStart(string Kind, string Title, string Payload, int Total = 0, Guid? SubjectId = null);

/// <summary>
/// The current team's batch runs: start one (stored queued, then scheduled), ask one to stop, read progress. Starting and
/// cancelling need the permission of the run's handler (<see cref="IBatchRunHandler.Permission"/>); reading needs
/// <see cref="Permission.ViewTraces"/>. Another team's run is not found (the query filter), never refused.
/// </summary>
public sealed class BatchRuns(IEvalDbContextFactory dbFactory, ITeamContext team, IEnumerable<IBatchRunHandler> handlers, IBatchRunScheduler scheduler, TimeProvider clock)
{
    public const int MaxTitle = 200;

    /// <summary>Stores the run (queued) and schedules it; returns its id.</summary>
    public async Task<Guid> StartAsync(BatchRunStart start, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        var handler = Handler(start.Kind) ?? throw new DomainValidationException("kind", $"There is no batch run handler of kind '{start.Kind}'.");
        var teamId = Require(handler.Permission);
        var now = clock.GetUtcNow();
        var run = new BatchRun
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            Kind = handler.Kind,
            SubjectId = start.SubjectId,
            Title = Common.Require.Text("title", start.Title, MaxTitle),
            Status = BatchRunStatus.Queued,
            Total = Math.Max(0, start.Total),
            CreatedBy = team.ApiKeyId is { } keyId ? $"api-key:{keyId}" : team.UserId,
            CreatedAt = now,
            Payload = start.Payload,
        };
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            db.BatchRuns.Add(run);
            await db.SaveChangesAsync(ct);
        }

        await scheduler.ScheduleAsync(teamId, run.Id, ct);
        return run.Id;
    }

    /// <summary>The run, or <see cref="NotFoundException"/> (also for another team's).</summary>
    public async Task<BatchRun> GetAsync(Guid id, CancellationToken ct = default)
    {
        Require(Permission.ViewTraces);
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.BatchRuns.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id, ct) ?? throw new NotFoundException("No batch run with this id.");
    }

    /// <summary>The newest runs of a kind (and subject, when given), newest first.</summary>
    public async Task<IReadOnlyList<BatchRun>> ListAsync(string kind, Guid? subjectId = null, int take = 20, CancellationToken ct = default)
    {
        Require(Permission.ViewTraces);
        await using var db = await dbFactory.CreateAsync(ct);
        var runs = db.BatchRuns.AsNoTracking().Where(r => r.Kind == kind);
        if (subjectId is { } subject)
        {
            runs = runs.Where(r => r.SubjectId == subject);
        }

        return await runs.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(Math.Clamp(take, 1, 200)).ToListAsync(ct);
    }

    /// <summary>
    /// Asks the run to stop: a queued run is cancelled at once, a running one stops after its current chunk (the executor
    /// checks between chunks). A finished run stays as it is. Returns the run as it now is.
    /// </summary>
    public async Task<BatchRun> CancelAsync(Guid id, CancellationToken ct = default)
    {
        var run = await GetAsync(id, ct);
        Require(Handler(run.Kind)?.Permission ?? Permission.ManageTeam);
        await using var db = await dbFactory.CreateAsync(ct);
        var now = clock.GetUtcNow();
        // Conditional updates, so a transition of the executor's in between is never undone: a queued run (nothing under way) is
        // cancelled at once; the executor takes a run from queued to running only conditionally, so it then finds it cancelled.
        await db.BatchRuns.Where(r => r.Id == id && r.Status == BatchRunStatus.Queued)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, BatchRunStatus.Cancelled).SetProperty(r => r.FinishedAt, now), ct);
        await db.BatchRuns.Where(r => r.Id == id && r.Status == BatchRunStatus.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, BatchRunStatus.Cancelling), ct);
        return await db.BatchRuns.AsNoTracking().SingleAsync(r => r.Id == id, ct);
    }

    private IBatchRunHandler? Handler(string kind) => handlers.FirstOrDefault(h => string.Equals(h.Kind, kind, StringComparison.Ordinal));

    private Guid Require(Permission permission) =>
        team.TeamId is { } teamId && team.Can(permission) ? teamId : throw new PermissionDeniedException($"This needs the {permission} permission.");
}
