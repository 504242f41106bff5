using EvalPlatform.Core.Reviews;

namespace EvalPlatform.Web.Reviews;

/// <summary>How review changes and states read in the UI (history rows, confirmations).</summary>
public static class ReviewText
{
    /// <summary>What a history row says the actor did: "accepted", "rejected: Hallucination", "scored 4 and edited the note".</summary>
    public static string Describe(ReviewChange change, ReviewConfig config) => change.Action switch
    {
        ReviewAction.Accept => "accepted",
        ReviewAction.Reject => $"rejected: {config.ReasonLabel(change.ToReason)}",
        ReviewAction.NeedsReview => "marked for review",
        ReviewAction.Reset => "reset to pending",
        ReviewAction.Undo => $"undid change #{change.UndoneVersion}",
        _ => DescribeEdit(change, config),
    };

    /// <summary>The rule of the good/bad scale, shown beside the score so that rejecting's "Bad" is no surprise.</summary>
    public const string GoodBadRule = "Accept scores Good and Reject scores Bad; you can change the score afterwards.";

    /// <summary>
    /// The short confirmation after one's own change ("Accepted · scored Good", "Rejected · Hallucination · scored Bad"):
    /// on the good/bad scale a verdict also sets the score, and the confirmation says so.
    /// </summary>
    public static string Confirm(ReviewAction action, TraceReview review, ScoreScale? scale = null) => action switch
    {
        ReviewAction.Accept when scale == ScoreScale.GoodBad && review.ScoreLabel is { } good => $"Accepted · scored {good}",
        ReviewAction.Reject when scale == ScoreScale.GoodBad && review.ScoreLabel is { } bad => $"Rejected · {review.ReasonLabel} · scored {bad}",
        ReviewAction.Accept => "Accepted",
        ReviewAction.Reject => $"Rejected · {review.ReasonLabel}",
        ReviewAction.NeedsReview => "Marked for review",
        ReviewAction.Reset => "Reset to pending",
        ReviewAction.Undo => "Undone",
        _ => "Saved",
    };

    private static string DescribeEdit(ReviewChange c, ReviewConfig config)
    {
        var parts = new List<string>();
        if (c.FromScore != c.ToScore)
        {
            parts.Add(c.ToScore is { } s ? $"scored {config.ScoreLabel(s)}" : "cleared the score");
        }

        if (c.FromNote != c.ToNote)
        {
            parts.Add(c.ToNote is null ? "cleared the note" : c.FromNote is null ? "added a note" : "edited the note");
        }

        return parts.Count == 0 ? "changed the review" : string.Join(" and ", parts);
    }
}
