using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Queues;

// Counts: done, remaining, disagreements; per reviewer; agreement.
public sealed partial class QueueService
{
    /// <summary>The queue's counts, each reviewer's progress and, for multi-review queues, the agreement between reviewers.</summary>
    public async Task<QueueProgress> GetProgressAsync(Guid queueId, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var queue = await LoadQueueAsync(db, queueId, ct);
        var filter = await FilterOfAsync(queue, ct);
        var directory = await members.ListMembersAsync(ct);
        var tally = await TallyAsync(db, queue, filter, ct);

        var startOfDay = StartOfToday();
        var totals = await db.QueueVerdicts.Where(v => v.QueueId == queueId)
            .GroupBy(v => v.ReviewerId).Select(g => new { ReviewerId = g.Key, Count = g.Count(), Name = g.Max(v => v.ReviewerName) }).ToListAsync(ct);
        var today = await db.QueueVerdicts.Where(v => v.QueueId == queueId && v.GivenAt >= startOfDay)
            .GroupBy(v => v.ReviewerId).Select(g => new { ReviewerId = g.Key, Count = g.Count() }).ToListAsync(ct);
        var openDone = await OpenReviewedByAsync(db, queueId, ct);

        var ids = queue.Assignees.Count > 0
            ? queue.Assignees.Select(a => a.UserId).ToList()
            : directory.Where(m => TeamPermissions.RoleHas(m.Role, Permission.ReviewTraces)).Select(m => m.UserId).ToList();
        ids.AddRange(totals.Select(t => t.ReviewerId).Where(id => !ids.Contains(id)));
        var reviewers = ids.Select(id =>
            {
                var total = totals.FirstOrDefault(t => t.ReviewerId == id);
                var name = directory.FirstOrDefault(m => m.UserId == id)?.Name ?? total?.Name ?? id;
                var stillOpen = tally.Open - openDone.GetValueOrDefault(id);
                return new ReviewerProgress(id, name, today.FirstOrDefault(t => t.ReviewerId == id)?.Count ?? 0, total?.Count ?? 0,
                    tally.NotHandedOut + stillOpen);
            })
            .OrderByDescending(r => r.DoneTotal).ThenBy(r => r.Name, StringComparer.OrdinalIgnoreCase)
            .ToList();

        var agreement = queue.RequiredReviews > 1 ? await AgreementAsync(db, queue, ct) : null;
        return new QueueProgress(Info(queue, filter, directory), tally.Counts, reviewers, agreement);
    }

    /// <summary>How one queue stands: items by state, and the matching traces not handed out yet.</summary>
    private readonly record struct Tally(int Done, int Open, int Disagreements, int NotHandedOut)
    {
        public QueueCounts Counts => new(Done, Open + NotHandedOut, Disagreements);
    }

    private static async Task<Tally> TallyAsync(IEvalDbContext db, ReviewQueue queue, TraceFilter filter, CancellationToken ct)
    {
        var byState = await db.QueueItems.Where(i => i.QueueId == queue.Id)
            .GroupBy(i => i.State).Select(g => new { State = g.Key, Count = g.Count() }).ToListAsync(ct);
        int Of(QueueItemState state) => byState.FirstOrDefault(s => s.State == state)?.Count ?? 0;
        int notHandedOut;
        if (queue.SamplePercent is { } percent)
        {
            // The sample is decided in code (a hash per trace), so the candidates' ids are read and counted here.
            var ids = await NotHandedOut(db, queue, filter).Select(t => t.Id).ToListAsync(ct);
            notHandedOut = ids.Count(id => QueueSampling.InSample(queue.Id, id, percent));
        }
        else
        {
            notHandedOut = await NotHandedOut(db, queue, filter).CountAsync(ct);
        }

        return new Tally(Of(QueueItemState.Done), Of(QueueItemState.Open), Of(QueueItemState.Disagreement), notHandedOut);
    }

    /// <summary>What is left in the queue for <paramref name="reviewerId"/>: not handed out yet, or open without their verdict.</summary>
    private static async Task<int> RemainingForAsync(IEvalDbContext db, Guid queueId, Tally tally, string reviewerId, CancellationToken ct)
    {
        var reviewedOpen = await db.QueueVerdicts
            .CountAsync(v => v.QueueId == queueId && v.ReviewerId == reviewerId
                && db.QueueItems.Any(i => i.Id == v.QueueItemId && i.State == QueueItemState.Open), ct);
        return tally.NotHandedOut + tally.Open - reviewedOpen;
    }

    /// <summary>Per reviewer, the open items (still collecting reviews) they have already reviewed.</summary>
    private static async Task<Dictionary<string, int>> OpenReviewedByAsync(IEvalDbContext db, Guid queueId, CancellationToken ct) =>
        (await db.QueueVerdicts
            .Where(v => v.QueueId == queueId && db.QueueItems.Any(i => i.Id == v.QueueItemId && i.State == QueueItemState.Open))
            .GroupBy(v => v.ReviewerId).Select(g => new { ReviewerId = g.Key, Count = g.Count() })
            .ToListAsync(ct))
        .ToDictionary(x => x.ReviewerId, x => x.Count);

    /// <summary>Agreement over the items with all their reviews in (agreed, disagreed or settled).</summary>
    private static async Task<AgreementSummary> AgreementAsync(IEvalDbContext db, ReviewQueue queue, CancellationToken ct)
    {
        var queueId = queue.Id;
        var rows = await db.QueueVerdicts.AsNoTracking()
            .Where(v => v.QueueId == queueId && db.QueueItems.Any(i => i.Id == v.QueueItemId && i.State != QueueItemState.Open))
            .Select(v => new { v.QueueItemId, v.Action, v.Reason, v.GivenAt, v.Id })
            .ToListAsync(ct);
        var items = rows.GroupBy(r => r.QueueItemId)
            .Select(g => (IReadOnlyList<string>)g.OrderBy(r => r.GivenAt).ThenBy(r => r.Id).Select(r => QueueVerdictInput.CategoryOf(r.Action, r.Reason)).ToList())
            .Where(ratings => ratings.Count == queue.RequiredReviews)
            .ToList();
        if (items.Count == 0)
        {
            return new AgreementSummary(0, null, null, null);
        }

        return new AgreementSummary(
            items.Count,
            Agreement.PercentAgreement(items),
            queue.RequiredReviews == 2 ? Agreement.CohensKappa(items.Select(r => (r[0], r[1])).ToList()) : null,
            queue.RequiredReviews > 2 ? Agreement.FleissKappa(items) : null);
    }

    /// <summary>Midnight of today in the server's time zone (the clock's), as UTC.</summary>
    private DateTimeOffset StartOfToday()
    {
        var local = clock.GetLocalNow();
        return new DateTimeOffset(local.Date, local.Offset).ToUniversalTime();
    }
}
