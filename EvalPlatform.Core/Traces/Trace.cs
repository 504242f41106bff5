using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Traces;

/// <summary>
/// One end-to-end request of an LLM application, with its tree of <see cref="Span"/>s. The
/// trace-level fields summarise the main generation so lists and filters never read the spans.
/// </summary>
public sealed class Trace : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The client's own id, unique per team: the idempotency key.</summary>
    public string? ExternalId { get; set; }

    /// <summary>SHA-256 of the canonical submitted JSON: tells a retry from a different trace with the same external id.</summary>
    public byte[] ContentHash { get; set; } = [];

    /// <summary>Keyset order for lists, newest first: UTC ticks of <see cref="CreatedAt"/> (19 digits) then the id.</summary>
    public string SortKey { get; set; } = "";

    public string? Name { get; set; }
    public string? SessionId { get; set; }
    public string? UserId { get; set; }
    public string? Environment { get; set; }
    public string? Release { get; set; }
    public List<string> Tags { get; set; } = [];
    public string? Model { get; set; }
    public string? Provider { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public int? TotalTokens { get; set; }
    public decimal? Cost { get; set; }
    public bool CostComputed { get; set; }
    public double? LatencyMs { get; set; }
    public double? TimeToFirstTokenMs { get; set; }
    public string? Error { get; set; }
    public string? Experiment { get; set; }
    public string? Variant { get; set; }

    /// <summary>Free metadata, as the client's JSON object text.</summary>
    public string? Metadata { get; set; }

    /// <summary>The user input, shortened for list rows.</summary>
    public string? InputPreview { get; set; }

    /// <summary>The response, shortened for list rows.</summary>
    public string? OutputPreview { get; set; }

    /// <summary>Lower-cased prompt and response text for free-text search (bounded length).</summary>
    public string? SearchText { get; set; }

    // Review state: the current verdict, kept on the trace so lists filter and show it without a
    // join. Every change is also appended to the review history (see Reviews/ReviewChange).
    // All default to "not reviewed", so ingestion (binary COPY of every mapped property) writes them as such.
    public ReviewStatus ReviewStatus { get; set; } = ReviewStatus.Pending;

    /// <summary>The rejection reason's key (a team's <c>RejectionReason.Key</c>), only while rejected.</summary>
    public string? ReviewReason { get; set; }

    /// <summary>The reviewer's free-text detail of the rejection, only while rejected.</summary>
    public string? ReviewDetail { get; set; }

    /// <summary>The human score on the team's scale (good = 1, bad = 0 on the good/bad scale).</summary>
    public double? HumanScore { get; set; }

    /// <summary>The reviewers' note, plain text.</summary>
    public string? ReviewNote { get; set; }

    /// <summary>Who made the latest review change: a user id, or "api-key:{id}".</summary>
    public string? ReviewedBy { get; set; }

    public DateTimeOffset? ReviewedAt { get; set; }

    /// <summary>Count of review changes so far; the history's newest row carries the same number.</summary>
    public int ReviewVersion { get; set; }

    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// The spans a parser or the assembler built for this trace, for the writer to insert. Not a database
    /// navigation (ADR 11): stored spans are read by <see cref="Span.TraceId"/>.
    /// </summary>
    public List<Span> Spans { get; set; } = [];

    public static string MakeSortKey(DateTimeOffset createdAt, Guid id) => $"{createdAt.UtcTicks:D19}{id:N}";
}

public enum ReviewStatus
{
    Pending = 0,
    Accepted = 1,
    Rejected = 2,
    NeedsReview = 3,
}
