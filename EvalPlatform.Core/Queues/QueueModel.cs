using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Queues;

/// <summary>
/// A team's review queue: which traces belong to it (a saved trace-list filter, optionally narrowed
/// to a deterministic sample of the traces that arrive after the queue was made), who reviews them
/// (the assignees, or every member who may review), how many independent reviews each needs, and
/// the team's instructions (Markdown). Membership is evaluated lazily, when work is handed out.
/// </summary>
public sealed class ReviewQueue : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string Name { get; set; }

    /// <summary>A short rubric in Markdown, rendered sanitised.</summary>
    public string? Instructions { get; set; }

    /// <summary>The trace-list filter as JSON (<see cref="QueueFilterJson"/>); "{}" is every trace.</summary>
    public string FilterJson { get; set; } = "{}";

    /// <summary>
    /// Null: every trace the filter matches. 1–100: only that share of the traces created since
    /// <see cref="CreatedAt"/> (and matching the filter), chosen by <see cref="QueueSampling"/>.
    /// </summary>
    public int? SamplePercent { get; set; }

    /// <summary>Independent (blind) reviews each trace needs: 1 applies the verdict at once.</summary>
    public int RequiredReviews { get; set; } = 1;

    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public List<ReviewQueueAssignee> Assignees { get; set; } = [];
}

/// <summary>A member assigned to a queue. A queue without assignees is open to every member who may review.</summary>
public sealed class ReviewQueueAssignee : ITeamOwned
{
    public Guid QueueId { get; set; }
    public Guid TeamId { get; set; }
    public required string UserId { get; set; }
}

/// <summary>Where a queue item stands.</summary>
public enum QueueItemState
{
    /// <summary>Still needs reviews.</summary>
    Open = 0,

    /// <summary>All reviews are in and they differ: waiting for an Admin to settle.</summary>
    Disagreement = 1,

    /// <summary>The final verdict was applied to the trace (single review, agreement, or settled).</summary>
    Done = 2,
}

/// <summary>How a done item got its final verdict.</summary>
public enum QueueOutcome
{
    /// <summary>A single-review queue's verdict.</summary>
    OneReview = 0,
    Agreed = 1,
    Settled = 2,
}

/// <summary>
/// A trace's place in a queue, created the first time the trace is handed out (unique per queue
/// and trace). <see cref="VerdictCount"/> is reserved with a conditional update before a verdict is
/// stored, so no item ever collects more than the queue's required reviews.
/// </summary>
public sealed class QueueItem : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid QueueId { get; set; }
    public Guid TraceId { get; set; }
    public QueueItemState State { get; set; }
    public int VerdictCount { get; set; }
    public DateTimeOffset EnteredAt { get; set; }
    public DateTimeOffset? DoneAt { get; set; }
    public QueueOutcome? Outcome { get; set; }

    /// <summary>The verdict applied to the trace, once done.</summary>
    public ReviewAction? FinalAction { get; set; }

    public string? FinalReason { get; set; }

    /// <summary>The Admin who settled a disagreement.</summary>
    public string? SettledBy { get; set; }
}

/// <summary>
/// Who is working on a queue item now, and until when. At most one row per item (its key is the
/// item): a reviewer takes an item by inserting the row, or by a conditional update of a row whose
/// claim has expired (or is already theirs); the database decides between two reviewers racing.
/// Activity extends <see cref="ExpiresAt"/>; a completed item's claim is deleted.
/// </summary>
public sealed class QueueClaim : ITeamOwned
{
    public Guid QueueItemId { get; set; }
    public Guid TeamId { get; set; }
    public Guid QueueId { get; set; }
    public required string UserId { get; set; }
    public DateTimeOffset ClaimedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>
/// One reviewer's verdict on a queue item, unique per item and reviewer. Others' verdicts are
/// hidden from a reviewer until they have given their own (see <see cref="QueueService.GetVerdictsAsync"/>).
/// </summary>
public sealed class QueueVerdict : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid QueueId { get; set; }
    public Guid QueueItemId { get; set; }
    public Guid TraceId { get; set; }
    public required string ReviewerId { get; set; }

    /// <summary>The reviewer as shown at the time (e-mail).</summary>
    public required string ReviewerName { get; set; }

    /// <summary>Accept, Reject or NeedsReview.</summary>
    public ReviewAction Action { get; set; }

    public string? Reason { get; set; }
    public string? Detail { get; set; }
    public double? Score { get; set; }
    public string? Note { get; set; }
    public DateTimeOffset GivenAt { get; set; }

    /// <summary>What agreement compares: the verdict, and for a rejection its reason.</summary>
    public string Category => QueueVerdictInput.CategoryOf(Action, Reason);
}
