using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Reviews;

/// <summary>
/// One review change, as the trace view and the API ask for it: an optional action (a verdict, or
/// undo) plus, optionally, a new score and a new note. "Not given" and "cleared" differ for score
/// and note (<see cref="SetsScore"/>, <see cref="SetsNote"/>).
/// </summary>
public sealed record ReviewCommand
{
    public const int MaxDetailLength = 2_000;
    public const int MaxNoteLength = 10_000;

    /// <summary>Accept, Reject, NeedsReview, Reset or Undo; null changes only score and/or note.</summary>
    public ReviewAction? Action { get; init; }

    /// <summary>The rejection reason's key; only with <see cref="ReviewAction.Reject"/>.</summary>
    public string? Reason { get; init; }

    /// <summary>Optional free text about the rejection; only with <see cref="ReviewAction.Reject"/>.</summary>
    public string? Detail { get; init; }

    public bool SetsScore { get; init; }

    /// <summary>The new score (null clears it) when <see cref="SetsScore"/>.</summary>
    public double? Score { get; init; }

    public bool SetsNote { get; init; }

    /// <summary>The new note (null or blank clears it) when <see cref="SetsNote"/>.</summary>
    public string? Note { get; init; }

    public static ReviewCommand Accept() => new() { Action = ReviewAction.Accept };

    public static ReviewCommand Reject(string reason, string? detail = null) => new() { Action = ReviewAction.Reject, Reason = reason, Detail = detail };

    public static ReviewCommand MarkForReview() => new() { Action = ReviewAction.NeedsReview };

    public static ReviewCommand Reset() => new() { Action = ReviewAction.Reset };

    public static ReviewCommand Undo() => new() { Action = ReviewAction.Undo };

    public static ReviewCommand SetScore(double? score) => new() { SetsScore = true, Score = score };

    public static ReviewCommand SetNote(string? note) => new() { SetsNote = true, Note = note };

    /// <summary>The wire names of the actions a command may carry.</summary>
    public static readonly IReadOnlyDictionary<string, ReviewAction> ActionNames = new Dictionary<string, ReviewAction>
    {
        ["accept"] = ReviewAction.Accept,
        ["reject"] = ReviewAction.Reject,
        ["needs_review"] = ReviewAction.NeedsReview,
        ["reset"] = ReviewAction.Reset,
        ["undo"] = ReviewAction.Undo,
    };

    private static readonly HashSet<string> Fields = ["action", "reason", "detail", "score", "note"];

    /// <summary>
    /// Reads the API body <c>{"action":"reject","reason":"hallucination","detail":"…","score":0,"note":"…"}</c>.
    /// Shape errors (types, unknown fields or actions, lengths) are thrown together, each naming its
    /// field; what depends on the team (known reasons, the score scale) is checked by <see cref="ReviewService"/>.
    /// </summary>
    public static ReviewCommand Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new InputValidationException([new FieldError("$", "The body must be a JSON object.")]);
        }

        var errors = new List<FieldError>();
        var f = new JsonFields(body, "", errors);
        f.RejectUnknown(Fields, "A review takes action, reason, detail, score, note.");
        ReviewAction? action = null;
        if (f.String("action", 50) is { } name)
        {
            if (ActionNames.TryGetValue(name.Trim().ToLowerInvariant(), out var a))
            {
                action = a;
            }
            else
            {
                f.Error("action", "Must be accept, reject, needs_review, reset or undo.");
            }
        }

        var command = new ReviewCommand
        {
            Action = action,
            Reason = f.String("reason", 200),
            Detail = f.String("detail", MaxDetailLength),
            SetsScore = body.TryGetProperty("score", out var score),
            Score = ReadScore(score, f),
            SetsNote = body.TryGetProperty("note", out _),
            Note = f.String("note", MaxNoteLength),
        };
        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        return command;
    }

    private static double? ReadScore(JsonElement score, JsonFields f)
    {
        switch (score.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.Number:
                return f.FiniteNumber("score");
            case JsonValueKind.String when ReviewScores.TryParse(score.GetString(), out var value):
                return value;
            default:
                f.Error("score", "Must be a number, or \"good\" / \"bad\".");
                return null;
        }
    }
}
