using EvalPlatform.Core.Reviews;

namespace EvalPlatform.Core.Queues;

/// <summary>
/// A reviewer's verdict on a queue item: accept, reject with a reason (and optional detail), or
/// needs review, plus an optional score and note. Checked against the team's settings by the same
/// rules as a review in the trace view (<see cref="ReviewService"/>).
/// </summary>
public sealed record QueueVerdictInput(ReviewAction Action, string? Reason = null, string? Detail = null, double? Score = null, string? Note = null)
{
    public static QueueVerdictInput Accept(double? score = null, string? note = null) => new(ReviewAction.Accept, Score: score, Note: note);

    public static QueueVerdictInput Reject(string reason, string? detail = null) => new(ReviewAction.Reject, reason, detail);

    public static QueueVerdictInput NeedsReview(string? note = null) => new(ReviewAction.NeedsReview, Note: note);

    /// <summary>What agreement compares: "accept", "needs_review", or "reject:{reason}".</summary>
    public string Category => CategoryOf(Action, Reason);

    public static string CategoryOf(ReviewAction action, string? reason) => action switch
    {
        ReviewAction.Accept => "accept",
        ReviewAction.Reject => $"reject:{reason}",
        ReviewAction.NeedsReview => "needs_review",
        _ => action.ToString(),
    };

    /// <summary>The review command that applies this verdict to a trace. A blank note leaves the trace's note alone.</summary>
    internal ReviewCommand ToCommand(bool withScore) => new()
    {
        Action = Action,
        Reason = Action == ReviewAction.Reject ? Reason : null,
        Detail = Action == ReviewAction.Reject ? Detail : null,
        SetsScore = withScore && Score is not null,
        Score = Score,
        SetsNote = !string.IsNullOrWhiteSpace(Note),
        Note = Note,
    };
}
