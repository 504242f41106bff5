using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.GettingStarted;

/// <summary>
/// The getting-started checklist's steps, each done or not as the team's own data says: nothing is stored for it, so a
/// step ticks itself the moment its data exists (and a team that did it another way, e.g. through the API, sees it done).
/// </summary>
public sealed record GettingStartedStatus(bool KeyCreated, bool TraceSent, bool TraceReviewed, bool ColleagueInvited, bool QueueMade, Guid? NewestTraceId = null)
{
    public int Done => new[] { KeyCreated, TraceSent, TraceReviewed, ColleagueInvited, QueueMade }.Count(x => x);

    public bool AllDone => Done == 5;
}

/// <summary>Computes <see cref="GettingStartedStatus"/> for the current team (the query filters scope every set to it).</summary>
public sealed class GettingStartedQueries(IEvalDbContextFactory dbFactory, ITeamContext team)
{
    public async Task<GettingStartedStatus> StatusAsync(CancellationToken ct = default)
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("The getting-started checklist needs a team role.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        // A revoked key still counts: the step was done. A colleague is a second member or an invitation not revoked.
        var key = await db.ApiKeys.AnyAsync(ct);
        var newest = await db.Traces.AsNoTracking().OrderByDescending(t => t.SortKey).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(ct);
        var trace = newest is not null;
        var reviewed = trace && (await db.ReviewChanges.AnyAsync(ct) || await db.Traces.AnyAsync(t => t.ReviewStatus != ReviewStatus.Pending, ct));
        var colleague = await db.TeamMembers.CountAsync(ct) > 1 || await db.Invitations.AnyAsync(i => i.RevokedAt == null, ct);
        var queue = await db.ReviewQueues.AnyAsync(ct);
        return new GettingStartedStatus(key, trace, reviewed, colleague, queue, newest);
    }
}
