using System.Globalization;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The trace filter as query parameters (bound with <c>[AsParameters]</c>): one definition for the
/// list and the export, so a filter means the same in both. Names as in <see cref="Traces.TraceFilterQuery"/>.
/// </summary>
public sealed class TraceFilterParameters
{
    [FromQuery] public string? From { get; init; }

    [FromQuery] public string? To { get; init; }

    [FromQuery] public string? Status { get; init; }

    [FromQuery] public string? Model { get; init; }

    [FromQuery] public string? Provider { get; init; }

    [FromQuery] public string? Tag { get; init; }

    [FromQuery] public string? Environment { get; init; }

    [FromQuery(Name = "session_id")] public string? SessionId { get; init; }

    [FromQuery(Name = "user_id")] public string? UserId { get; init; }

    [FromQuery] public string? Experiment { get; init; }

    [FromQuery] public string? Variant { get; init; }

    [FromQuery] public string? Search { get; init; }

    [FromQuery] public string? Reason { get; init; }

    [FromQuery] public string? Reviewer { get; init; }

    [FromQuery] public string? Score { get; init; }

    [FromQuery(Name = "score_min")] public string? ScoreMin { get; init; }

    [FromQuery(Name = "score_max")] public string? ScoreMax { get; init; }

    /// <summary>The filter; each unreadable parameter adds an error naming it.</summary>
    public TraceFilter ToFilter(List<FieldError> errors) => new(
        ParseTime("from", From, errors), ParseTime("to", To, errors), ParseStatus(Status, errors), Model, Provider, Tag, Environment,
        SessionId, UserId, Experiment, Variant, Search, Reason, Reviewer, ReviewEndpoints.ParseScore("score", Score, errors),
        ReviewEndpoints.ParseScore("score_min", ScoreMin, errors, words: false), ReviewEndpoints.ParseScore("score_max", ScoreMax, errors, words: false));

    internal static DateTimeOffset? ParseTime(string field, string? value, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
        {
            return t.ToUniversalTime();
        }

        errors.Add(new FieldError(field, "Must be an ISO 8601 date-time."));
        return null;
    }

    private static ReviewStatus? ParseStatus(string? value, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        var match = Enum.GetValues<ReviewStatus>().Where(s => string.Equals(TraceEndpoints.Wire(s), value, StringComparison.OrdinalIgnoreCase))
            .Select(s => (ReviewStatus?)s).FirstOrDefault();
        if (match is null)
        {
            errors.Add(new FieldError("status", "Must be pending, accepted, rejected or needs_review."));
        }

        return match;
    }
}
