using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Reviews;

/// <summary>A trace's review as shown: the current state, who set it, and its history (newest first).</summary>
public sealed record TraceReview(
    Guid TraceId, ReviewStatus Status, string? Reason, string? ReasonLabel, string? Detail, double? Score, string? ScoreLabel, string? Note,
    string? ReviewedBy, string? ReviewedByName, DateTimeOffset? ReviewedAt, int Version, bool CanUndo, IReadOnlyList<ReviewChange> History)
{
    public ReviewState State => new(Status, Reason, Detail, Score, Note);
}

/// <summary>
/// Reviewing traces: accept, reject with a reason, mark for review, reset, score, note, undo. The
/// role is checked here (<see cref="Permission.ReviewTraces"/>: Reviewers, Admins, Owners, keys with
/// the <c>review</c> scope), not only in the UI. Each change updates the state on the trace and
/// appends one history row in the same transaction, then announces <see cref="TraceUpdated"/>.
/// </summary>
public sealed class ReviewService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IMemberDirectory members, ILiveBus liveBus, NotificationOutbox outbox,
    LangSmith.Connector.LangSmithFeedback langSmithFeedback, TimeProvider clock)
{
    /// <summary>The most history rows a trace's review shows (newest first).</summary>
    public const int MaxHistory = 200;

    private const int Attempts = 4;

    public async Task<TraceReview> GetAsync(Guid traceId, CancellationToken ct = default)
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Reading reviews needs a team role, or an API key with the 'read' scope.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var trace = await db.Traces.AsNoTracking().SingleOrDefaultAsync(t => t.Id == traceId, ct)
            ?? throw new NotFoundException($"No trace {traceId} in this team.");
        var config = await ReviewSettingsService.LoadAsync(db, team.TeamId!.Value, clock, ct);
        return await ReadAsync(db, trace, config, ct);
    }

    /// <summary>Applies <paramref name="command"/> to the trace and returns its review afterwards.</summary>
    public async Task<TraceReview> ReviewAsync(Guid traceId, ReviewCommand command, CancellationToken ct = default)
    {
        var teamId = RequireReview();
        if (command.Action == ReviewAction.Undo)
        {
            RequireOnlyAction(command);
            return await UndoAsync(traceId, ct);
        }

        var (actorId, actorName) = await ActorAsync(ct);
        for (var attempt = 1; ; attempt++)
        {
            await using var db = await dbFactory.CreateAsync(ct);
            var trace = await db.Traces.SingleOrDefaultAsync(t => t.Id == traceId, ct) ?? throw new NotFoundException($"No trace {traceId} in this team.");
            var config = await ReviewSettingsService.LoadAsync(db, teamId, clock, ct);
            var before = ReviewState.Of(trace);
            var after = Apply(before, command, config);
            if (after == before)
            {
                return await ReadAsync(db, trace, config, ct);
            }

            Record(db, trace, command.Action ?? ReviewAction.Edit, before, after, actorId, actorName, undone: null);
            await AnnounceAsync(db, trace, before, after, config, actorName, ct);
            await langSmithFeedback.EnqueueAsync(db, trace, before, after, config, ct);
            if (await TrySaveAsync(db, attempt, ct))
            {
                await liveBus.PublishAsync(new TraceUpdated(teamId, traceId), CancellationToken.None);
                return await ReadAsync(db, trace, config, ct);
            }
        }
    }

    /// <summary>
    /// Takes back the actor's own latest change to the trace, restoring the state before it, and
    /// records that as a change of its own. Refused (409) when there is nothing to undo, or when the
    /// latest change still in effect is someone else's (undoing under their feet would lose it).
    /// Repeated undos walk further back through the actor's own changes.
    /// </summary>
    public async Task<TraceReview> UndoAsync(Guid traceId, CancellationToken ct = default)
    {
        var teamId = RequireReview();
        var (actorId, actorName) = await ActorAsync(ct);
        for (var attempt = 1; ; attempt++)
        {
            await using var db = await dbFactory.CreateAsync(ct);
            var trace = await db.Traces.SingleOrDefaultAsync(t => t.Id == traceId, ct) ?? throw new NotFoundException($"No trace {traceId} in this team.");
            var config = await ReviewSettingsService.LoadAsync(db, teamId, clock, ct);
            var history = await HistoryAsync(db, traceId, ct);
            var target = LatestInEffect(history)
                ?? throw new ConflictException("There is no review change on this trace to undo.");
            if (target.ActorId != actorId)
            {
                throw new ConflictException($"The latest review change on this trace is by {target.ActorName}; undo takes back only your own latest change.");
            }

            var undoneFrom = ReviewState.Of(trace);
            Record(db, trace, ReviewAction.Undo, undoneFrom, ReviewState.Before(target), actorId, actorName, undone: target.Version);
            await AnnounceAsync(db, trace, undoneFrom, ReviewState.Of(trace), await ReviewSettingsService.LoadAsync(db, trace.TeamId, clock, ct), actorName, ct);
            await langSmithFeedback.EnqueueAsync(db, trace, undoneFrom, ReviewState.Of(trace), config, ct);
            if (await TrySaveAsync(db, attempt, ct))
            {
                await liveBus.PublishAsync(new TraceUpdated(teamId, traceId), CancellationToken.None);
                return await ReadAsync(db, trace, config, ct);
            }
        }
    }

    /// <summary>The state after <paramref name="command"/>, or field errors for what the team's settings do not allow.</summary>
    internal static ReviewState Apply(ReviewState current, ReviewCommand command, ReviewConfig config)
    {
        var errors = new List<FieldError>();
        var action = command.Action;
        if (action is null && !command.SetsScore && !command.SetsNote)
        {
            errors.Add(new FieldError("action", "Nothing to change: send an action (accept, reject, needs_review, reset, undo), a score or a note."));
        }

        if (action is not (null or ReviewAction.Accept or ReviewAction.Reject or ReviewAction.NeedsReview or ReviewAction.Reset))
        {
            errors.Add(new FieldError("action", "Must be accept, reject, needs_review or reset."));
        }

        var reason = Blank(command.Reason);
        var detail = Blank(command.Detail);
        if (action == ReviewAction.Reject)
        {
            var known = string.Join(", ", config.Reasons.Select(r => r.Key));
            if (reason is null)
            {
                errors.Add(new FieldError("reason", $"A rejection needs a reason: one of {known}."));
            }
            else if (config.FindReason(reason) is null)
            {
                errors.Add(new FieldError("reason", $"Unknown reason '{reason}': one of {known}."));
            }
        }
        else
        {
            if (reason is not null)
            {
                errors.Add(new FieldError("reason", "Only a rejection takes a reason."));
            }

            if (detail is not null)
            {
                errors.Add(new FieldError("detail", "Only a rejection takes a detail."));
            }
        }

        if (detail?.Length > ReviewCommand.MaxDetailLength)
        {
            errors.Add(new FieldError("detail", $"Must be at most {ReviewCommand.MaxDetailLength} characters."));
        }

        if (command.SetsScore && command.Score is { } score)
        {
            if (action == ReviewAction.Reset)
            {
                errors.Add(new FieldError("score", "A reset clears the score; send the score on its own."));
            }
            else if (ReviewScores.Check(config.Scale, score) is { } problem)
            {
                errors.Add(new FieldError("score", problem));
            }
        }

        var note = Blank(command.Note);
        if (command.SetsNote && note?.Length > ReviewCommand.MaxNoteLength)
        {
            errors.Add(new FieldError("note", $"Must be at most {ReviewCommand.MaxNoteLength} characters."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        // On the good/bad scale the verdict is the score: accepted is good, rejected is bad.
        var goodBad = config.Scale == ScoreScale.GoodBad;
        var next = action switch
        {
            ReviewAction.Accept => current with { Status = ReviewStatus.Accepted, Reason = null, Detail = null, Score = goodBad ? ReviewScores.Good : current.Score },
            ReviewAction.Reject => current with { Status = ReviewStatus.Rejected, Reason = reason, Detail = detail, Score = goodBad ? ReviewScores.Bad : current.Score },
            ReviewAction.NeedsReview => current with { Status = ReviewStatus.NeedsReview, Reason = null, Detail = null, Score = goodBad ? null : current.Score },
            ReviewAction.Reset => current with { Status = ReviewStatus.Pending, Reason = null, Detail = null, Score = null },
            _ => current,
        };
        if (command.SetsScore)
        {
            next = next with { Score = command.Score };
        }

        if (command.SetsNote)
        {
            next = next with { Note = note };
        }

        return next;
    }

    /// <summary>
    /// The newest change still in effect: undo rows and the changes they took back cancel out.
    /// Null when every change has been undone (or there are none).
    /// </summary>
    internal static ReviewChange? LatestInEffect(IReadOnlyList<ReviewChange> newestFirst)
    {
        var undone = new HashSet<int>();
        foreach (var change in newestFirst)
        {
            if (change.Action == ReviewAction.Undo)
            {
                undone.Add(change.UndoneVersion!.Value);
            }
            else if (!undone.Contains(change.Version))
            {
                return change;
            }
        }

        return null;
    }

    private void Record(
        IEvalDbContext db, Trace trace, ReviewAction action, ReviewState before, ReviewState after, string actorId, string actorName, int? undone)
    {
        var now = clock.GetUtcNow();
        trace.ReviewStatus = after.Status;
        trace.ReviewReason = after.Reason;
        trace.ReviewDetail = after.Detail;
        trace.HumanScore = after.Score;
        trace.ReviewNote = after.Note;
        trace.ReviewedBy = actorId;
        trace.ReviewedAt = now;
        trace.UpdatedAt = now;
        trace.ReviewVersion++;
        db.ReviewChanges.Add(new ReviewChange
        {
            Id = Uuid7.Create(now), TeamId = trace.TeamId, TraceId = trace.Id, Version = trace.ReviewVersion, Action = action,
            ActorId = actorId, ActorName = actorName, At = now, UndoneVersion = undone,
            FromStatus = before.Status, ToStatus = after.Status, FromReason = before.Reason, ToReason = after.Reason,
            FromDetail = before.Detail, ToDetail = after.Detail, FromScore = before.Score, ToScore = after.Score,
            FromNote = before.Note, ToNote = after.Note,
        });
    }

    /// <summary>
    /// A change of status or reason becomes a <c>trace.reviewed</c> notification in the same unit of work (the outbox
    /// rows commit with the review or not at all). Scores and notes alone do not notify.
    /// </summary>
    private async Task AnnounceAsync(IEvalDbContext db, Trace trace, ReviewState before, ReviewState after, ReviewConfig config, string actorName, CancellationToken ct)
    {
        if (before.Status == after.Status && before.Reason == after.Reason)
        {
            return;
        }

        var status = after.Status switch
        {
            ReviewStatus.Accepted => "accepted",
            ReviewStatus.Rejected => "rejected",
            ReviewStatus.NeedsReview => "needs_review",
            _ => "pending",
        };
        var label = config.ReasonLabel(after.Reason);
        var name = trace.Name ?? trace.ExternalId ?? trace.Id.ToString();
        var title = after.Status == ReviewStatus.Rejected
            ? $"Trace rejected{(label is null ? "" : $": {label}")}"
            : $"Trace {status.Replace('_', ' ')}";
        var text = after.Status == ReviewStatus.Rejected
            ? $"{actorName} rejected \"{name}\"{(label is null ? "" : $" as {label}")}{(string.IsNullOrWhiteSpace(after.Detail) ? "." : $": {after.Detail}")}"
            : $"{actorName} marked \"{name}\" as {status.Replace('_', ' ')}.";
        var data = new System.Text.Json.Nodes.JsonObject
        {
            ["trace_id"] = trace.Id.ToString(),
            ["external_id"] = trace.ExternalId,
            ["name"] = trace.Name,
            ["status"] = status,
            ["previous_status"] = before.Status switch { ReviewStatus.Accepted => "accepted", ReviewStatus.Rejected => "rejected", ReviewStatus.NeedsReview => "needs_review", _ => "pending" },
            ["reason"] = after.Reason,
            ["reason_label"] = label,
            ["detail"] = after.Detail,
            ["score"] = after.Score,
            ["reviewed_by"] = actorName,
            ["reviewed_at"] = trace.ReviewedAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        var severity = after.Status == ReviewStatus.Rejected ? NotificationSeverity.Warning : NotificationSeverity.Info;
        await outbox.EnqueueAsync(db, new NotificationEvent(trace.TeamId, NotificationEventTypes.TraceReviewed, title, text, $"/traces/{trace.Id}", data, severity), ct);
    }

    /// <summary>
    /// Saves; false when another change to the same trace committed first (its history row took our
    /// version number), so the caller reads again and reapplies. Nothing of ours was committed then.
    /// </summary>
    private static async Task<bool> TrySaveAsync(IEvalDbContext db, int attempt, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException) when (attempt < Attempts)
        {
            return false;
        }
    }

    private async Task<TraceReview> ReadAsync(IEvalDbContext db, Trace trace, ReviewConfig config, CancellationToken ct)
    {
        var history = await HistoryAsync(db, trace.Id, ct);
        var actor = team.Can(Permission.ReviewTraces) ? ActorId() : null;
        var latest = LatestInEffect(history);
        var byName = history.FirstOrDefault(h => h.Version == trace.ReviewVersion)?.ActorName;
        return new TraceReview(
            trace.Id, trace.ReviewStatus, trace.ReviewReason, config.ReasonLabel(trace.ReviewReason), trace.ReviewDetail, trace.HumanScore,
            trace.HumanScore is { } s ? ReviewScores.Label(config.Scale, s) : null, trace.ReviewNote, trace.ReviewedBy, byName, trace.ReviewedAt,
            trace.ReviewVersion, actor is not null && latest?.ActorId == actor, history);
    }

    private static async Task<List<ReviewChange>> HistoryAsync(IEvalDbContext db, Guid traceId, CancellationToken ct) =>
        await db.ReviewChanges.AsNoTracking().Where(c => c.TraceId == traceId).OrderByDescending(c => c.Version).Take(MaxHistory).ToListAsync(ct);

    private async Task<(string Id, string Name)> ActorAsync(CancellationToken ct)
    {
        if (team.ApiKeyId is { } keyId)
        {
            await using var db = await dbFactory.CreateAsync(ct);
            var name = await db.ApiKeys.Where(k => k.Id == keyId).Select(k => k.Name).SingleOrDefaultAsync(ct);
            return (ActorId()!, $"API key '{name ?? keyId.ToString()}'");
        }

        var userId = team.UserId!;
        return (userId, await members.FindNameAsync(userId, ct) ?? userId);
    }

    private string? ActorId() => team.ApiKeyId is { } keyId ? $"api-key:{keyId}" : team.UserId;

    private Guid RequireReview()
    {
        if (!team.Can(Permission.ReviewTraces) || team.TeamId is not { } teamId || ActorId() is null)
        {
            throw new PermissionDeniedException("Reviewing traces needs the Reviewer, Admin or Owner role, or an API key with the 'review' scope.");
        }

        return teamId;
    }

    private static void RequireOnlyAction(ReviewCommand command)
    {
        var extra = new List<FieldError>();
        if (command.Reason is not null)
        {
            extra.Add(new FieldError("reason", "Undo takes nothing but the action."));
        }

        if (command.Detail is not null)
        {
            extra.Add(new FieldError("detail", "Undo takes nothing but the action."));
        }

        if (command.SetsScore)
        {
            extra.Add(new FieldError("score", "Undo takes nothing but the action."));
        }

        if (command.SetsNote)
        {
            extra.Add(new FieldError("note", "Undo takes nothing but the action."));
        }

        if (extra.Count > 0)
        {
            throw new InputValidationException(extra);
        }
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
