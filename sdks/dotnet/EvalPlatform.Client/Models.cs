using System.Text.Json.Nodes;

namespace EvalPlatform.Client;

/// <summary>A stored trace: its platform id, and <see cref="Status"/> <c>created</c> or <c>existing</c> (a retry of the same content).</summary>
public sealed record TraceReceipt(int Index, Guid Id, string? ExternalId, string Status)
{
    /// <summary>Values the platform stored other than as sent (an end up to a second before its start is stored with zero length); null when none.</summary>
    public IReadOnlyList<FieldProblem>? Adjustments { get; init; }
}

/// <summary>A field the platform named (<c>traces[3].spans[0].end_time</c>), and what it said about it.</summary>
public sealed record FieldProblem(string Field, string Message);

/// <summary>
/// One trace's fate in a batch's answer. <see cref="Status"/>: <c>created</c> or <c>existing</c> (stored;
/// <see cref="Id"/> is its id), <c>skipped</c> (invalid, or refused by the database) or <c>conflict</c> (another
/// trace is stored under its external id): not stored, <see cref="Errors"/> say why, and sending it again
/// would be refused the same way.
/// </summary>
public sealed record TraceOutcome(
    int Index, Guid? Id, string? ExternalId, string Status, IReadOnlyList<FieldProblem>? Errors = null, IReadOnlyList<FieldProblem>? Adjustments = null)
{
    /// <summary>Stored now or before (an older platform lists no other status).</summary>
    public bool IsStored => Status is not ("skipped" or "conflict");
}

/// <summary>A batch's answer: the platform stores every valid trace and lists each one's fate, in the order sent.</summary>
public sealed record BatchReceipt(IReadOnlyList<TraceOutcome> Items)
{
    /// <summary>How many traces are stored (created or existing).</summary>
    public int Stored => Items.Count(i => i.IsStored);

    /// <summary>The traces not stored (skipped or conflict), with their reasons.</summary>
    public IReadOnlyList<TraceOutcome> NotStored => Items.Where(i => !i.IsStored).ToList();

    /// <summary>The stored traces with a value adjusted.</summary>
    public IReadOnlyList<TraceOutcome> Adjusted => Items.Where(i => i.IsStored && i.Adjustments is { Count: > 0 }).ToList();
}

/// <summary>A score to attach to a trace (or one of its spans) from code.</summary>
public sealed record EvalScore
{
    public required string Name { get; init; }

    /// <summary>A number, a string (a category) or a boolean.</summary>
    public required JsonNode Value { get; init; }

    /// <summary><c>numeric</c>, <c>categorical</c> or <c>boolean</c>; inferred from the value when left out.</summary>
    public string? DataType { get; init; }

    public Guid? SpanId { get; init; }

    public string? Comment { get; init; }

    public static EvalScore Numeric(string name, double value, string? comment = null) =>
        new() { Name = name, Value = JsonValue.Create(value), DataType = "numeric", Comment = comment };

    public static EvalScore Categorical(string name, string value, string? comment = null) =>
        new() { Name = name, Value = JsonValue.Create(value), DataType = "categorical", Comment = comment };

    public static EvalScore Boolean(string name, bool value, string? comment = null) =>
        new() { Name = name, Value = JsonValue.Create(value), DataType = "boolean", Comment = comment };
}

/// <summary>A score as the platform stored it (source <c>api</c>, the key as author).</summary>
public sealed record StoredScore(
    Guid Id, Guid? SpanId, string Name, string DataType, double? NumericValue, string? StringValue, string Source, string? Author,
    string? Comment, DateTimeOffset CreatedAt);

/// <summary>
/// A trace's review: its current state (<see cref="Status"/> <c>pending</c>, <c>accepted</c>,
/// <c>rejected</c> or <c>needs_review</c>; rejection reason and detail; the human score; the note;
/// who changed it last and when) and the newest changes.
/// </summary>
public sealed record TraceReview(
    Guid TraceId, string Status, string? Reason, string? ReasonLabel, string? Detail, double? Score, string? ScoreLabel, string? Note,
    string? ReviewedBy, string? ReviewedByName, DateTimeOffset? ReviewedAt, int Version, bool CanUndo, IReadOnlyList<ReviewChange> History);

/// <summary>One change of a review: who, what (<c>accept</c>, <c>reject</c>, <c>needs_review</c>, <c>reset</c>, <c>edit</c>, <c>undo</c>), before and after.</summary>
public sealed record ReviewChange(
    int Version, string Action, string ActorId, string Actor, DateTimeOffset At, int? UndoneVersion, ReviewState From, ReviewState To);

public sealed record ReviewState(string Status, string? Reason, string? Detail, double? Score, string? Note);
