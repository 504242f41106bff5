using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Queues;

/// <summary>What an Admin writes to create or change a queue.</summary>
public sealed record QueueDefinition(
    string Name, TraceFilter Filter, int? SamplePercent = null, int RequiredReviews = 1, IReadOnlyList<string>? AssigneeIds = null,
    string? Instructions = null);

/// <summary>A queue as shown: its definition with the assignees' names.</summary>
public sealed record QueueInfo(
    Guid Id, string Name, string? Instructions, TraceFilter Filter, int? SamplePercent, int RequiredReviews, IReadOnlyList<MemberInfo> Assignees,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public QueueDefinition ToDefinition() =>
        new(Name, Filter, SamplePercent, RequiredReviews, Assignees.Select(a => a.UserId).ToList(), Instructions);
}

/// <summary>
/// A queue's counts. <see cref="Remaining"/>: traces that still need a review (matching traces not
/// handed out yet, and items still collecting reviews); <see cref="Disagreements"/> wait for an Admin.
/// </summary>
public sealed record QueueCounts(int Done, int Remaining, int Disagreements)
{
    public int Total => Done + Remaining + Disagreements;
}

/// <summary>A queue in the list: its counts, and what is left for the member asking.</summary>
public sealed record QueueOverview(QueueInfo Queue, QueueCounts Counts, int MyRemaining, bool CanReview);

/// <summary>One reviewer's work in a queue: verdicts given today (the server's day) and in total, and what is left for them.</summary>
public sealed record ReviewerProgress(string UserId, string Name, int DoneToday, int DoneTotal, int Remaining);

/// <summary>
/// Agreement over the items that have all their reviews: percent agreement (all verdicts equal),
/// Cohen's kappa when each item has two reviews (first vs second reviewer), Fleiss' kappa when more.
/// </summary>
public sealed record AgreementSummary(int Items, double? PercentAgreement, double? CohensKappa, double? FleissKappa);

/// <summary>A queue's page: counts, each reviewer's progress, and agreement for multi-review queues.</summary>
public sealed record QueueProgress(QueueInfo Queue, QueueCounts Counts, IReadOnlyList<ReviewerProgress> Reviewers, AgreementSummary? Agreement);

/// <summary>The trace handed to a reviewer, claimed for them until <see cref="ClaimExpiresAt"/> (renewed by activity).</summary>
public sealed record QueueWork(Guid QueueId, Guid ItemId, Guid TraceId, DateTimeOffset ClaimExpiresAt, int VerdictsGiven, int RequiredReviews);

/// <summary>An item after a verdict: where it stands, and (now that the caller has given theirs) every verdict on it.</summary>
public sealed record QueueItemResult(Guid ItemId, Guid TraceId, QueueItemState State, QueueOutcome? Outcome, IReadOnlyList<QueueVerdict> Verdicts);

/// <summary>An item whose reviewers disagree, with their verdicts, for an Admin to settle.</summary>
public sealed record QueueDisagreement(Guid ItemId, Guid TraceId, string? TraceName, string? InputPreview, IReadOnlyList<QueueVerdict> Verdicts);

/// <summary>
/// Review queues: Admins define them (<see cref="Permission.ManageTeam"/>); members who may review
/// (<see cref="Permission.ReviewTraces"/>, and the queue's assignees when it has some) are handed one
/// trace at a time under a claim (<see cref="NextAsync"/>) and give a verdict (<see cref="CompleteAsync"/>);
/// anyone in the team may follow a queue's progress. Every rule is checked here, not only in the UI.
/// Verdicts reach the trace only through <see cref="ReviewService"/>, so the trace's state, history
/// and live updates are exactly those of a review in the trace view.
/// </summary>
public sealed partial class QueueService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IMemberDirectory members, ReviewService reviews, IOptions<ReviewQueueOptions> options,
    Notifications.NotificationOutbox outbox, Audit.AuditLog audit, TimeProvider clock)
{
    public const int MaxNameLength = 100;
    public const int MaxInstructionsLength = 5_000;
    public const int MaxRequiredReviews = 5;

    public async Task<IReadOnlyList<QueueOverview>> ListAsync(CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var queues = await db.ReviewQueues.AsNoTracking().Include(q => q.Assignees).OrderBy(q => q.Name).ToListAsync(ct);
        var directory = await members.ListMembersAsync(ct);
        var me = team.UserId;
        var result = new List<QueueOverview>(queues.Count);
        foreach (var queue in queues)
        {
            var filter = await FilterOfAsync(queue, ct);
            var tally = await TallyAsync(db, queue, filter, ct);
            var mine = me is null ? 0 : await RemainingForAsync(db, queue.Id, tally, me, ct);
            result.Add(new QueueOverview(Info(queue, filter, directory), tally.Counts, mine, MayWork(queue)));
        }

        return result;
    }

    public async Task<QueueInfo> GetAsync(Guid queueId, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var queue = await LoadQueueAsync(db, queueId, ct);
        return Info(queue, QueueFilterJson.Read(queue.FilterJson), await members.ListMembersAsync(ct));
    }

    public async Task<QueueInfo> CreateAsync(QueueDefinition definition, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var directory = await members.ListMembersAsync(ct);
        var clean = await ValidateAsync(db, definition, directory, except: null, ct);
        var now = clock.GetUtcNow();
        var queue = new ReviewQueue
        {
            Id = Uuid7.Create(now), TeamId = teamId, Name = clean.Name, Instructions = clean.Instructions, FilterJson = QueueFilterJson.Write(clean.Filter),
            SamplePercent = clean.SamplePercent, RequiredReviews = clean.RequiredReviews, CreatedBy = team.UserId, CreatedAt = now, UpdatedAt = now,
        };
        queue.Assignees.AddRange(clean.AssigneeIds!.Select(id => new ReviewQueueAssignee { QueueId = queue.Id, TeamId = teamId, UserId = id }));
        db.ReviewQueues.Add(queue);
        await SaveUniqueNameAsync(db, clean.Name, ct);
        await audit.RecordAsync(Audit.AuditActions.QueueCreated, queue.Name, AuditDetails(queue), ct);
        return Info(queue, clean.Filter, directory);
    }

    /// <summary>
    /// Changes a queue. Its filter, sample, assignees and instructions may change at any time (membership
    /// is evaluated when work is handed out; traces already handed out stay). The number of reviews may
    /// not change once verdicts exist: it would change what the verdicts already given mean.
    /// </summary>
    public async Task<QueueInfo> UpdateAsync(Guid queueId, QueueDefinition definition, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var queue = await db.ReviewQueues.Include(q => q.Assignees).SingleOrDefaultAsync(q => q.Id == queueId, ct)
            ?? throw new NotFoundException("No such review queue in this team.");
        var directory = await members.ListMembersAsync(ct);
        var clean = await ValidateAsync(db, definition, directory, except: queueId, ct);
        if (clean.RequiredReviews != queue.RequiredReviews && await db.QueueVerdicts.AnyAsync(v => v.QueueId == queueId, ct))
        {
            throw new DomainValidationException("required_reviews",
                $"This queue already has reviews given under {queue.RequiredReviews} review(s) per trace; create a new queue to change that.");
        }

        queue.Name = clean.Name;
        queue.Instructions = clean.Instructions;
        queue.FilterJson = QueueFilterJson.Write(clean.Filter);
        queue.SamplePercent = clean.SamplePercent;
        queue.RequiredReviews = clean.RequiredReviews;
        queue.UpdatedAt = clock.GetUtcNow();
        queue.Assignees.RemoveAll(a => !clean.AssigneeIds!.Contains(a.UserId));
        foreach (var id in clean.AssigneeIds!.Where(id => queue.Assignees.All(a => a.UserId != id)))
        {
            queue.Assignees.Add(new ReviewQueueAssignee { QueueId = queue.Id, TeamId = teamId, UserId = id });
        }

        await SaveUniqueNameAsync(db, clean.Name, ct);
        await audit.RecordAsync(Audit.AuditActions.QueueUpdated, queue.Name, AuditDetails(queue), ct);
        return Info(queue, clean.Filter, directory);
    }

    /// <summary>Deletes a queue with its items, claims and verdicts. Verdicts already applied stay on the traces (and in their history).</summary>
    public async Task DeleteAsync(Guid queueId, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var queue = await db.ReviewQueues.SingleOrDefaultAsync(q => q.Id == queueId, ct) ?? throw new NotFoundException("No such review queue in this team.");
        db.ReviewQueues.Remove(queue);
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(Audit.AuditActions.QueueDeleted, queue.Name, ct: ct);
    }

    private static Dictionary<string, string?> AuditDetails(ReviewQueue queue) => new()
    {
        ["filter"] = queue.FilterJson,
        ["sample_percent"] = FormattableString.Invariant($"{queue.SamplePercent}"),
        ["required_reviews"] = queue.RequiredReviews.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["assignees"] = queue.Assignees.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static async Task<QueueDefinition> ValidateAsync(
        IEvalDbContext db, QueueDefinition d, IReadOnlyList<MemberInfo> directory, Guid? except, CancellationToken ct)
    {
        var name = Require.Text("name", d.Name, MaxNameLength);
        var names = await db.ReviewQueues.Where(q => q.Id != except).Select(q => q.Name).ToListAsync(ct);
        if (names.Any(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new DomainValidationException("name", $"There is already a queue called '{name}'.");
        }

        if (d.SamplePercent is < 1 or > 100)
        {
            throw new DomainValidationException("sample_percent", "A sample is 1 to 100 percent of new traces.");
        }

        if (d.RequiredReviews is < 1 or > MaxRequiredReviews)
        {
            throw new DomainValidationException("required_reviews", $"Each trace needs 1 to {MaxRequiredReviews} reviews.");
        }

        var reviewers = directory.Where(m => TeamPermissions.RoleHas(m.Role, Permission.ReviewTraces)).ToDictionary(m => m.UserId);
        var assignees = (d.AssigneeIds ?? []).Distinct(StringComparer.Ordinal).ToList();
        foreach (var id in assignees.Where(id => !reviewers.ContainsKey(id)))
        {
            var who = directory.FirstOrDefault(m => m.UserId == id);
            throw new DomainValidationException("assignees", who is null
                ? "Assignees must be members of this team."
                : $"{who.Name} is a {who.Role} and cannot review; make them a Reviewer first.");
        }

        var pool = assignees.Count > 0 ? assignees.Count : reviewers.Count;
        if (d.RequiredReviews > pool)
        {
            throw new DomainValidationException("required_reviews", assignees.Count > 0
                ? $"{d.RequiredReviews} independent reviews need at least {d.RequiredReviews} assignees; this queue has {assignees.Count}."
                : $"{d.RequiredReviews} independent reviews need at least {d.RequiredReviews} members who can review; the team has {reviewers.Count}.");
        }

        var instructions = string.IsNullOrWhiteSpace(d.Instructions) ? null : d.Instructions.Trim();
        if (instructions?.Length > MaxInstructionsLength)
        {
            throw new DomainValidationException("instructions", $"Instructions must be at most {MaxInstructionsLength} characters.");
        }

        return new QueueDefinition(name, d.Filter ?? new TraceFilter(), d.SamplePercent, d.RequiredReviews, assignees, instructions);
    }

    private static async Task SaveUniqueNameAsync(IEvalDbContext db, string name, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Two Admins saving the same new name at once: the unique index lets one through.
            throw new DomainValidationException("name", $"There is already a queue called '{name}'.");
        }
    }

    private static QueueInfo Info(ReviewQueue q, TraceFilter filter, IReadOnlyList<MemberInfo> directory) => new(
        q.Id, q.Name, q.Instructions, filter, q.SamplePercent, q.RequiredReviews,
        q.Assignees.Select(a => directory.FirstOrDefault(m => m.UserId == a.UserId) ?? new MemberInfo(a.UserId, a.UserId, TeamRole.Viewer))
            .OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase).ToList(),
        q.CreatedAt, q.UpdatedAt);

    private static async Task<ReviewQueue> LoadQueueAsync(IEvalDbContext db, Guid queueId, CancellationToken ct) =>
        await db.ReviewQueues.AsNoTracking().Include(q => q.Assignees).SingleOrDefaultAsync(q => q.Id == queueId, ct)
        ?? throw new NotFoundException("No such review queue in this team.");

    /// <summary>The queue's filter with a reviewer e-mail resolved, exactly as the trace list resolves it.</summary>
    private Task<TraceFilter> FilterOfAsync(ReviewQueue queue, CancellationToken ct) =>
        TraceQueries.ResolveReviewerAsync(QueueFilterJson.Read(queue.FilterJson), members, ct);

    /// <summary>True when the acting member may work this queue (role, and assignment when it has assignees).</summary>
    private bool MayWork(ReviewQueue queue) =>
        team.Can(Permission.ReviewTraces) && team.UserId is { } me && (queue.Assignees.Count == 0 || queue.Assignees.Any(a => a.UserId == me));

    private void RequireView()
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Seeing review queues needs a team role, or an API key with the 'read' scope.");
        }
    }

    private Guid RequireManage()
    {
        if (!team.Can(Permission.ManageTeam) || team.TeamId is not { } teamId || team.UserId is null)
        {
            throw new PermissionDeniedException("Managing review queues needs the Admin or Owner role.");
        }

        return teamId;
    }

    /// <summary>The acting member's id when they may review; Viewers and API keys are refused.</summary>
    private string RequireReviewer()
    {
        if (!team.Can(Permission.ReviewTraces) || team.UserId is not { } me || team.TeamId is null)
        {
            throw new PermissionDeniedException("Working a review queue needs the Reviewer, Admin or Owner role.");
        }

        return me;
    }

    private static void RequireAssigned(ReviewQueue queue, string me)
    {
        if (queue.Assignees.Count > 0 && queue.Assignees.All(a => a.UserId != me))
        {
            throw new PermissionDeniedException($"The queue '{queue.Name}' is assigned to other reviewers.");
        }
    }
}
