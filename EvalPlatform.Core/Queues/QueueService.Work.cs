using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Queues;

// Handing out work under claims, verdicts (blind until given), agreement and settling.
public sealed partial class QueueService
{
    /// <summary>Candidates tried per round of <see cref="NextAsync"/>.</summary>
    private const int Batch = 20;

    /// <summary>Traces read per page when a sample queue looks for new members (the sample is decided in code).</summary>
    private const int ScanPage = 500;

    private const int MaxScanPages = 40;

    /// <summary>
    /// The next trace for the acting reviewer, claimed for them, or null when nothing is left for them.
    /// A reviewer who already holds a live claim in the queue gets that trace again (a reload resumes).
    /// Items already in the queue come first (those with reviews in progress before untouched ones),
    /// then matching traces not handed out yet, oldest first. A reviewer is never handed a trace they
    /// have reviewed in this queue, nor one another reviewer holds a live claim on.
    /// </summary>
    /// <param name="queueId">The queue.</param>
    /// <param name="skip">Items the reviewer skipped in this session (release them first with <see cref="ReleaseAsync"/>).</param>
    /// <param name="ct">Cancellation.</param>
    public async Task<QueueWork?> NextAsync(Guid queueId, IReadOnlyCollection<Guid>? skip = null, CancellationToken ct = default)
    {
        var me = RequireReviewer();
        var skipped = (skip ?? []).ToArray();
        await using var db = await dbFactory.CreateAsync(ct);
        var queue = await LoadQueueAsync(db, queueId, ct);
        RequireAssigned(queue, me);
        var filter = await FilterOfAsync(queue, ct);

        var now = clock.GetUtcNow();
        var held = await db.QueueClaims.AsNoTracking()
            .Where(c => c.QueueId == queueId && c.UserId == me && c.ExpiresAt > now && !skipped.Contains(c.QueueItemId))
            .Join(db.QueueItems.Where(i => i.State == QueueItemState.Open), c => c.QueueItemId, i => i.Id, (c, i) => i.Id)
            .FirstOrDefaultAsync(ct);
        if (held != Guid.Empty && await TryTakeAsync(queue, held, me, ct) is { } resumed)
        {
            return resumed;
        }

        for (var round = 0; round < 50; round++)
        {
            now = clock.GetUtcNow();
            var open = await db.QueueItems.AsNoTracking()
                .Where(i => i.QueueId == queueId && i.State == QueueItemState.Open && !skipped.Contains(i.Id)
                    && !db.QueueVerdicts.Any(v => v.QueueItemId == i.Id && v.ReviewerId == me)
                    && !db.QueueClaims.Any(c => c.QueueItemId == i.Id && c.UserId != me && c.ExpiresAt > now))
                .Join(db.Traces, i => i.TraceId, t => t.Id, (i, t) => new { i.Id, i.VerdictCount, t.SortKey })
                .OrderByDescending(x => x.VerdictCount).ThenBy(x => x.SortKey)
                .Take(Batch)
                .Select(x => x.Id)
                .ToListAsync(ct);
            foreach (var itemId in open)
            {
                if (await TryTakeAsync(queue, itemId, me, ct) is { } work)
                {
                    return work;
                }
            }

            var fresh = await NewMembersAsync(db, queue, filter, Batch, ct);
            foreach (var traceId in fresh)
            {
                var itemId = await EnsureItemAsync(queue, traceId, ct);
                if (!skipped.Contains(itemId) && await TryTakeAsync(queue, itemId, me, ct) is { } work)
                {
                    return work;
                }
            }

            if (open.Count == 0 && fresh.Count == 0)
            {
                return null;
            }

            // Every candidate went to someone else meanwhile: look again.
        }

        return null;
    }

    /// <summary>Extends the acting reviewer's claim (activity on the page); null when the claim is no longer theirs.</summary>
    public async Task<DateTimeOffset?> KeepAliveAsync(Guid itemId, CancellationToken ct = default)
    {
        var me = RequireReviewer();
        var until = clock.GetUtcNow() + options.Value.ClaimDuration;
        await using var db = await dbFactory.CreateAsync(ct);
        var renewed = await db.QueueClaims.Where(c => c.QueueItemId == itemId && c.UserId == me)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.ExpiresAt, until), ct);
        return renewed == 1 ? until : null;
    }

    /// <summary>Gives back the acting reviewer's claim on an item (skip), so another reviewer may take it at once.</summary>
    public async Task ReleaseAsync(Guid itemId, CancellationToken ct = default)
    {
        var me = RequireReviewer();
        await using var db = await dbFactory.CreateAsync(ct);
        await db.QueueClaims.Where(c => c.QueueItemId == itemId && c.UserId == me).ExecuteDeleteAsync(ct);
    }

    /// <summary>
    /// Records the acting reviewer's verdict on an item they hold (or may take: nobody else holds a live
    /// claim). In one transaction: the claim is checked, a review slot is reserved by a conditional
    /// update (never more than the queue's required reviews), the verdict is stored and the claim
    /// released; with the last review in, the item is done (agreement) or a disagreement. A done item's
    /// verdict is then applied to the trace through <see cref="ReviewService"/>.
    /// </summary>
    public async Task<QueueItemResult> CompleteAsync(Guid itemId, QueueVerdictInput verdict, CancellationToken ct = default)
    {
        var me = RequireReviewer();
        var teamId = team.TeamId!.Value;
        await using var db = await dbFactory.CreateAsync(ct);
        var item = await db.QueueItems.AsNoTracking().SingleOrDefaultAsync(i => i.Id == itemId, ct) ?? throw new NotFoundException("No such queue item in this team.");
        var queue = await LoadQueueAsync(db, item.QueueId, ct);
        RequireAssigned(queue, me);
        var config = await ReviewSettingsService.LoadAsync(db, teamId, clock, ct);
        var clean = Check(verdict, config);
        var name = await members.FindNameAsync(me, ct) ?? me;

        QueueVerdictInput? final = null;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            var now = clock.GetUtcNow();
            await HoldClaimAsync(db, item, me, now, ct);
            if (await db.QueueVerdicts.AnyAsync(v => v.QueueItemId == itemId && v.ReviewerId == me, ct))
            {
                throw new ConflictException("You have already reviewed this trace in this queue.");
            }

            var required = queue.RequiredReviews;
            var reserved = await db.QueueItems
                .Where(i => i.Id == itemId && i.State == QueueItemState.Open && i.VerdictCount < required)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.VerdictCount, i => i.VerdictCount + 1), ct);
            if (reserved == 0)
            {
                throw new ConflictException("This trace already has all its reviews in this queue.");
            }

            db.QueueVerdicts.Add(new QueueVerdict
            {
                Id = Uuid7.Create(now), TeamId = teamId, QueueId = queue.Id, QueueItemId = itemId, TraceId = item.TraceId, ReviewerId = me,
                ReviewerName = name, Action = clean.Action, Reason = clean.Reason, Detail = clean.Detail, Score = clean.Score, Note = clean.Note, GivenAt = now,
            });
            await db.SaveChangesAsync(ct);
            await db.QueueClaims.Where(c => c.QueueItemId == itemId).ExecuteDeleteAsync(ct);

            var count = await db.QueueItems.Where(i => i.Id == itemId).Select(i => i.VerdictCount).SingleAsync(ct);
            if (count == required)
            {
                var verdicts = (await db.QueueVerdicts.AsNoTracking().Where(v => v.QueueItemId == itemId).ToListAsync(ct)).OrderBy(v => v.GivenAt).ThenBy(v => v.Id).ToList();
                if (verdicts.Select(v => v.Category).Distinct(StringComparer.Ordinal).Count() == 1)
                {
                    final = Combine(verdicts, config);
                    var outcome = required == 1 ? QueueOutcome.OneReview : QueueOutcome.Agreed;
                    await db.QueueItems.Where(i => i.Id == itemId).ExecuteUpdateAsync(s => s
                        .SetProperty(i => i.State, QueueItemState.Done).SetProperty(i => i.Outcome, outcome).SetProperty(i => i.DoneAt, now)
                        .SetProperty(i => i.FinalAction, final.Action).SetProperty(i => i.FinalReason, final.Reason), ct);
                    await AnnounceIfCompletedAsync(db, queue, ct);
                }
                else
                {
                    await db.QueueItems.Where(i => i.Id == itemId).ExecuteUpdateAsync(s => s.SetProperty(i => i.State, QueueItemState.Disagreement), ct);
                }
            }

            await tx.CommitAsync(ct);
        }

        if (final is not null)
        {
            // After the queue's own commit: the review service runs its own transaction (and retries on
            // concurrent changes to the trace), records history and announces the change.
            await reviews.ReviewAsync(item.TraceId, final.ToCommand(withScore: config.Scale != ScoreScale.GoodBad), ct);
        }

        return await ResultAsync(db, itemId, ct);
    }

    /// <summary>
    /// The verdicts on an item. Blind: while the item still collects reviews, only a member who has
    /// given their own verdict on it may read the others'; once all are in, anyone in the team may.
    /// </summary>
    public async Task<IReadOnlyList<QueueVerdict>> GetVerdictsAsync(Guid itemId, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var item = await db.QueueItems.AsNoTracking().SingleOrDefaultAsync(i => i.Id == itemId, ct) ?? throw new NotFoundException("No such queue item in this team.");
        var me = team.UserId;
        if (item.State == QueueItemState.Open && (me is null || !await db.QueueVerdicts.AnyAsync(v => v.QueueItemId == itemId && v.ReviewerId == me, ct)))
        {
            throw new PermissionDeniedException("Reviews in this queue are blind: the others' verdicts show once you have given yours.");
        }

        return await db.QueueVerdicts.AsNoTracking().Where(v => v.QueueItemId == itemId).OrderBy(v => v.GivenAt).ThenBy(v => v.ReviewerName).ToListAsync(ct);
    }

    /// <summary>The queue's items whose reviewers disagree (all reviews in), oldest trace first, with their verdicts.</summary>
    public async Task<IReadOnlyList<QueueDisagreement>> ListDisagreementsAsync(Guid queueId, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        await LoadQueueAsync(db, queueId, ct);
        var items = await db.QueueItems.AsNoTracking()
            .Where(i => i.QueueId == queueId && i.State == QueueItemState.Disagreement)
            .Join(db.Traces, i => i.TraceId, t => t.Id, (i, t) => new { i.Id, i.TraceId, t.Name, t.InputPreview, t.SortKey })
            .OrderBy(x => x.SortKey).Take(200)
            .ToListAsync(ct);
        var ids = items.Select(i => i.Id).ToArray();
        var verdicts = (await db.QueueVerdicts.AsNoTracking().Where(v => ids.Contains(v.QueueItemId)).ToListAsync(ct))
            .OrderBy(v => v.GivenAt).ToLookup(v => v.QueueItemId);
        return items.Select(i => new QueueDisagreement(i.Id, i.TraceId, i.Name, i.InputPreview, verdicts[i.Id].ToList())).ToList();
    }

    /// <summary>
    /// An Admin settles a disagreement: the final verdict is applied through <see cref="ReviewService"/>
    /// (so the trace's history records it, by the Admin) and the item is done. Settling twice is refused.
    /// </summary>
    public async Task<QueueItemResult> SettleAsync(Guid itemId, QueueVerdictInput verdict, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var me = team.UserId!;
        await using var db = await dbFactory.CreateAsync(ct);
        var item = await db.QueueItems.AsNoTracking().SingleOrDefaultAsync(i => i.Id == itemId, ct) ?? throw new NotFoundException("No such queue item in this team.");
        var config = await ReviewSettingsService.LoadAsync(db, teamId, clock, ct);
        var clean = Check(verdict, config);
        var now = clock.GetUtcNow();
        var settled = await db.QueueItems.Where(i => i.Id == itemId && i.State == QueueItemState.Disagreement).ExecuteUpdateAsync(s => s
            .SetProperty(i => i.State, QueueItemState.Done).SetProperty(i => i.Outcome, QueueOutcome.Settled).SetProperty(i => i.DoneAt, now)
            .SetProperty(i => i.FinalAction, clean.Action).SetProperty(i => i.FinalReason, clean.Reason).SetProperty(i => i.SettledBy, me), ct);
        if (settled == 0)
        {
            throw new ConflictException("This item is not a disagreement waiting to be settled (it may just have been settled).");
        }

        try
        {
            await reviews.ReviewAsync(item.TraceId, clean.ToCommand(withScore: config.Scale != ScoreScale.GoodBad), ct);
        }
        catch
        {
            // The trace did not take the verdict: the disagreement stays open for another try.
            await db.QueueItems.Where(i => i.Id == itemId).ExecuteUpdateAsync(s => s
                .SetProperty(i => i.State, QueueItemState.Disagreement).SetProperty(i => i.Outcome, (QueueOutcome?)null)
                .SetProperty(i => i.DoneAt, (DateTimeOffset?)null).SetProperty(i => i.FinalAction, (ReviewAction?)null)
                .SetProperty(i => i.FinalReason, (string?)null).SetProperty(i => i.SettledBy, (string?)null), CancellationToken.None);
            throw;
        }

        // The settled item may have been the queue's last: announced once the trace took the verdict (a failed review
        // above reopens the item, so the queue is not complete).
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            await AnnounceIfCompletedAsync(db, await LoadQueueAsync(db, item.QueueId, ct), ct);
            await tx.CommitAsync(ct);
        }

        return await ResultAsync(db, itemId, ct);
    }

    /// <summary>Claims the item for <paramref name="me"/> if it is still theirs to review; else null (and no claim left behind).</summary>
    private async Task<QueueWork?> TryTakeAsync(ReviewQueue queue, Guid itemId, string me, CancellationToken ct)
    {
        if (await TryClaimAsync(queue, itemId, me, ct) is not { } until)
        {
            return null;
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var item = await db.QueueItems.AsNoTracking().SingleOrDefaultAsync(i => i.Id == itemId, ct);
        var eligible = item is { State: QueueItemState.Open } && item.VerdictCount < queue.RequiredReviews
            && !await db.QueueVerdicts.AnyAsync(v => v.QueueItemId == itemId && v.ReviewerId == me, ct);
        if (!eligible)
        {
            // Completed by its previous holder between our look and our claim.
            await db.QueueClaims.Where(c => c.QueueItemId == itemId && c.UserId == me).ExecuteDeleteAsync(ct);
            return null;
        }

        return new QueueWork(queue.Id, itemId, item!.TraceId, until, item.VerdictCount, queue.RequiredReviews);
    }

    /// <summary>
    /// Takes the claim on an item: a conditional update of its claim row when that row is ours or has
    /// expired, else an insert of the row (the item is the key). Exactly one of two racing reviewers
    /// succeeds on either path: PostgreSQL re-checks the update's condition on the row it waited for,
    /// and SQLite runs writers one at a time; a second insert violates the key. Returns the expiry.
    /// </summary>
    private async Task<DateTimeOffset?> TryClaimAsync(ReviewQueue queue, Guid itemId, string me, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var until = now + options.Value.ClaimDuration;
        await using var db = await dbFactory.CreateAsync(ct);
        var taken = await db.QueueClaims.Where(c => c.QueueItemId == itemId && (c.UserId == me || c.ExpiresAt <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UserId, me).SetProperty(c => c.ClaimedAt, now).SetProperty(c => c.ExpiresAt, until), ct);
        if (taken == 1)
        {
            return until;
        }

        db.QueueClaims.Add(new QueueClaim { QueueItemId = itemId, TeamId = queue.TeamId, QueueId = queue.Id, UserId = me, ClaimedAt = now, ExpiresAt = until });
        try
        {
            await db.SaveChangesAsync(ct);
            return until;
        }
        catch (DbUpdateException)
        {
            return null;
        }
    }

    /// <summary>Inside the verdict's transaction: the caller holds the claim, or takes it because nobody else holds a live one.</summary>
    private async Task HoldClaimAsync(IEvalDbContext db, QueueItem item, string me, DateTimeOffset now, CancellationToken ct)
    {
        var until = now + options.Value.ClaimDuration;
        var held = await db.QueueClaims.Where(c => c.QueueItemId == item.Id && (c.UserId == me || c.ExpiresAt <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UserId, me).SetProperty(c => c.ClaimedAt, now).SetProperty(c => c.ExpiresAt, until), ct);
        if (held == 1)
        {
            return;
        }

        var busy = new ConflictException(
            $"Another reviewer is working on this trace now (a claim lapses after {options.Value.ClaimMinutes} minutes without activity). Take the next one.");
        if (await db.QueueClaims.AnyAsync(c => c.QueueItemId == item.Id, ct))
        {
            throw busy;
        }

        db.QueueClaims.Add(new QueueClaim { QueueItemId = item.Id, TeamId = item.TeamId, QueueId = item.QueueId, UserId = me, ClaimedAt = now, ExpiresAt = until });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            throw busy;
        }
    }

    /// <summary>The trace's item in the queue, made on first hand-out; of two reviewers making it at once, the unique index keeps one.</summary>
    private async Task<Guid> EnsureItemAsync(ReviewQueue queue, Guid traceId, CancellationToken ct)
    {
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            var now = clock.GetUtcNow();
            db.QueueItems.Add(new QueueItem { Id = Uuid7.Create(now), TeamId = queue.TeamId, QueueId = queue.Id, TraceId = traceId, EnteredAt = now });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Made by someone else a moment ago; theirs stands.
            }
        }

        await using var read = await dbFactory.CreateAsync(ct);
        return await read.QueueItems.Where(i => i.QueueId == queue.Id && i.TraceId == traceId).Select(i => i.Id).SingleAsync(ct);
    }

    /// <summary>Traces in the queue that have not been handed out yet: the filter, and for a sample queue the traces since its creation.</summary>
    private static IQueryable<Trace> NotHandedOut(IEvalDbContext db, ReviewQueue queue, TraceFilter filter)
    {
        var query = TraceQueries.Apply(db.Traces.AsNoTracking(), filter);
        if (queue.SamplePercent is not null)
        {
            var since = queue.CreatedAt;
            query = query.Where(t => t.CreatedAt >= since);
        }

        var queueId = queue.Id;
        return query.Where(t => !db.QueueItems.Any(i => i.QueueId == queueId && i.TraceId == t.Id));
    }

    /// <summary>Up to <paramref name="want"/> traces to hand out next, oldest first; a sample queue keeps only its sample.</summary>
    private static async Task<List<Guid>> NewMembersAsync(IEvalDbContext db, ReviewQueue queue, TraceFilter filter, int want, CancellationToken ct)
    {
        if (queue.SamplePercent is not { } percent)
        {
            return await NotHandedOut(db, queue, filter).OrderBy(t => t.SortKey).Select(t => t.Id).Take(want).ToListAsync(ct);
        }

        var found = new List<Guid>();
        string? after = null;
        for (var page = 0; page < MaxScanPages && found.Count < want; page++)
        {
            var query = NotHandedOut(db, queue, filter);
            if (after is not null)
            {
#pragma warning disable CA1309 // EF translates only the two-argument form; sort keys are ASCII.
                query = query.Where(t => string.Compare(t.SortKey, after) > 0);
#pragma warning restore CA1309
            }

            var rows = await query.OrderBy(t => t.SortKey).Select(t => new { t.Id, t.SortKey }).Take(ScanPage).ToListAsync(ct);
            found.AddRange(rows.Where(r => QueueSampling.InSample(queue.Id, r.Id, percent)).Select(r => r.Id));
            if (rows.Count < ScanPage)
            {
                break;
            }

            after = rows[^1].SortKey;
        }

        return found.Take(want).ToList();
    }

    /// <summary>The verdict checked by the same rules as a review in the trace view; trimmed.</summary>
    private static QueueVerdictInput Check(QueueVerdictInput verdict, ReviewConfig config)
    {
        if (verdict.Action is not (ReviewAction.Accept or ReviewAction.Reject or ReviewAction.NeedsReview))
        {
            throw new DomainValidationException("action", "A queue verdict is accept, reject or needs_review.");
        }

        var goodBad = config.Scale == ScoreScale.GoodBad;
        ReviewService.Apply(ReviewState.Pending, verdict.ToCommand(withScore: !goodBad), config);
        return new QueueVerdictInput(
            verdict.Action, Trim(verdict.Reason), Trim(verdict.Detail), goodBad ? null : verdict.Score, Trim(verdict.Note));
    }

    /// <summary>
    /// The verdict to apply when all reviewers agree: their verdict and reason; their details and notes
    /// kept, each line signed; scores (on a numeric scale) averaged, rounded to whole points on 1 to 5.
    /// </summary>
    internal static QueueVerdictInput Combine(IReadOnlyList<QueueVerdict> verdicts, ReviewConfig config)
    {
        var first = verdicts[0];
        if (verdicts.Count == 1)
        {
            return new QueueVerdictInput(first.Action, first.Reason, first.Detail, first.Score, first.Note);
        }

        string? Signed(Func<QueueVerdict, string?> pick, int max)
        {
            var lines = verdicts.Where(v => !string.IsNullOrWhiteSpace(pick(v))).Select(v => $"{v.ReviewerName}: {pick(v)}").ToList();
            var text = string.Join("\n", lines);
            return lines.Count == 0 ? null : text.Length > max ? text[..max] : text;
        }

        var scores = verdicts.Where(v => v.Score is not null).Select(v => v.Score!.Value).ToList();
        double? score = scores.Count == 0 ? null
            : config.Scale == ScoreScale.OneToFive ? Math.Round(scores.Average(), MidpointRounding.AwayFromZero) : scores.Average();
        return new QueueVerdictInput(first.Action, first.Reason, Signed(v => v.Detail, ReviewCommand.MaxDetailLength), score,
            Signed(v => v.Note, ReviewCommand.MaxNoteLength));
    }

    private static async Task<QueueItemResult> ResultAsync(IEvalDbContext db, Guid itemId, CancellationToken ct)
    {
        var item = await db.QueueItems.AsNoTracking().SingleAsync(i => i.Id == itemId, ct);
        var verdicts = (await db.QueueVerdicts.AsNoTracking().Where(v => v.QueueItemId == itemId).ToListAsync(ct)).OrderBy(v => v.GivenAt).ThenBy(v => v.Id).ToList();
        return new QueueItemResult(item.Id, item.TraceId, item.State, item.Outcome, verdicts);
    }

    private static string? Trim(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>
    /// With the item just done: when nothing is left (no open item, no disagreement, no matching trace not handed out),
    /// a <c>queue.completed</c> notification joins the transaction. Two last items finishing at once may both announce.
    /// </summary>
    private async Task AnnounceIfCompletedAsync(IEvalDbContext db, ReviewQueue queue, CancellationToken ct)
    {
        var filter = await FilterOfAsync(queue, ct);
        var tally = await TallyAsync(db, queue, filter, ct);
        if (tally.Open > 0 || tally.NotHandedOut > 0 || tally.Disagreements > 0)
        {
            return;
        }

        var data = new System.Text.Json.Nodes.JsonObject
        {
            ["queue_id"] = queue.Id.ToString(),
            ["queue_name"] = queue.Name,
            ["items"] = tally.Done,
        };
        await outbox.EnqueueAsync(db, new Notifications.NotificationEvent(
            queue.TeamId, Notifications.NotificationEventTypes.QueueCompleted, $"Review queue \"{queue.Name}\" is complete",
            $"All {tally.Done} traces of the queue have their reviews.", $"/review/{queue.Id}", data), ct);
        await db.SaveChangesAsync(ct);
    }
}
