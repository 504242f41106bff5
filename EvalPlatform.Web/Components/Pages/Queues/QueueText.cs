using System.Globalization;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Components.Shared;
using MudBlazor;

namespace EvalPlatform.Web.Components.Pages.Queues;

/// <summary>How queues and verdicts read on the pages.</summary>
public static class QueueText
{
    /// <summary>The heading when the queue has nothing more for this reviewer.</summary>
    public static string DoneTitle(QueueCounts counts, int skipped) =>
        skipped > 0 ? "Only the traces you skipped are left"
        : counts.Remaining == 0 && counts.Disagreements == 0 ? "This queue is done"
        : "Nothing left for you in this queue";

    /// <summary>
    /// What to do next, so that "Nothing left for you" beside "1 remaining" is not a riddle (issue 13):
    /// what the remaining traces wait for, and where to go.
    /// </summary>
    public static string DoneNext(QueueCounts counts, int skipped)
    {
        var parts = new List<string>();
        if (skipped > 0)
        {
            parts.Add(skipped == 1
                ? "You skipped 1 trace. It stays in the queue for the other reviewers; choose \"Review the skipped\" to take it yourself after all."
                : $"You skipped {skipped} traces. They stay in the queue for the other reviewers; choose \"Review the skipped\" to take them yourself after all.");
        }
        else if (counts.Remaining > 0)
        {
            parts.Add(counts.Remaining == 1
                ? "The 1 remaining trace is held by another reviewer or waits for reviews from others; you have given yours."
                : $"The {counts.Remaining} remaining traces are held by other reviewers or wait for reviews from others; you have given yours.");
        }

        if (counts.Disagreements > 0)
        {
            parts.Add(counts.Disagreements == 1
                ? "1 trace waits for an Admin to settle a disagreement (the Disagreements tab)."
                : $"{counts.Disagreements} traces wait for an Admin to settle a disagreement (the Disagreements tab).");
        }

        parts.Add("New traces that match join on their own; come back later, or go back to the queues.");
        return string.Join(" ", parts);
    }

    /// <summary>"accept", "reject · Hallucination", "needs review".</summary>
    public static string Verdict(ReviewAction action, string? reason, ReviewConfig? config) => action switch
    {
        ReviewAction.Accept => "accept",
        ReviewAction.Reject => reason is null ? "reject" : $"reject · {config?.ReasonLabel(reason) ?? reason}",
        ReviewAction.NeedsReview => "needs review",
        _ => action.ToString().ToLowerInvariant(),
    };

    public static Color ColorOf(ReviewAction action) => action switch
    {
        ReviewAction.Accept => Color.Success,
        ReviewAction.Reject => Color.Error,
        _ => Color.Warning,
    };

    /// <summary>Which traces a queue takes, in words: "Sample 10% of new traces · model gpt-4o · pending".</summary>
    public static string Source(QueueInfo queue)
    {
        var parts = new List<string>();
        parts.Add(queue.SamplePercent is { } p ? $"{p}% sample of new traces" : "Every matching trace");
        parts.AddRange(FilterParts(queue.Filter));
        return string.Join(" · ", parts);
    }

    public static IReadOnlyList<string> FilterParts(TraceFilter f)
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                parts.Add($"{name} {value}");
            }
        }

        if (f.Status is { } status)
        {
            parts.Add(status == ReviewStatus.Pending ? "not yet reviewed" : StatusBadge.Label(status));
        }

        Add("model", f.Model);
        Add("provider", f.Provider);
        Add("environment", f.Environment);
        Add("tag", f.Tag);
        Add("session", f.SessionId);
        Add("user", f.UserId);
        Add("experiment", f.Experiment);
        Add("variant", f.Variant);
        Add("reason", f.Reason);
        Add("reviewer", f.Reviewer);
        if (!string.IsNullOrWhiteSpace(f.Search))
        {
            parts.Add($"“{f.Search}”");
        }

        if (f.From is { } from)
        {
            parts.Add($"since {from.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}");
        }

        return parts;
    }

    public static string Percent(double? share) => share is { } s ? (s * 100).ToString("0", CultureInfo.InvariantCulture) + "%" : "–";

    public static string Kappa(double? kappa) => kappa is { } k ? $"{k.ToString("0.00", CultureInfo.InvariantCulture)} ({Agreement.Describe(k)})" : "–";
}
