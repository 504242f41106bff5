using System.ComponentModel.DataAnnotations;

namespace EvalPlatform.Core.Queues;

/// <summary>Settings of the review queues (section <c>ReviewQueues</c>).</summary>
public sealed class ReviewQueueOptions
{
    public const string SectionName = "ReviewQueues";

    /// <summary>
    /// Minutes a reviewer's claim on a trace lasts without activity; after that another reviewer
    /// may be handed the trace.
    /// </summary>
    [Range(1, 240)]
    public int ClaimMinutes { get; set; } = 5;

    public TimeSpan ClaimDuration => TimeSpan.FromMinutes(ClaimMinutes);
}
