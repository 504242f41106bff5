using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;

namespace EvalPlatform.Web.Components.Pages.Queues;

/// <summary>The verdict a reviewer is composing for the trace in front of them; one per item.</summary>
public sealed class VerdictDraft
{
    public ReviewAction? Action { get; set; }
    public string? Reason { get; set; }
    public string? Detail { get; set; }
    public double? Score { get; set; }
    public string? Note { get; set; }

    /// <summary>Picks a verdict; a reason only stays with a rejection.</summary>
    public void Choose(ReviewAction action)
    {
        Action = action;
        if (action != ReviewAction.Reject)
        {
            Reason = null;
            Detail = null;
        }
    }

    public QueueVerdictInput? ToInput() => Action is { } action ? new QueueVerdictInput(action, Reason, Detail, Score, Note) : null;
}
