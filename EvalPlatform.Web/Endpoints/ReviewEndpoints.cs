using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>The review API: review a trace (scope <c>review</c>), read the team's review settings.</summary>
public static class ReviewEndpoints
{
    /// <summary>A trace's review state at one moment (the from/to of a history row).</summary>
    public sealed record ReviewStateResponse(string Status, string? Reason, string? Detail, double? Score, string? Note);

    public sealed record ReviewChangeResponse(
        int Version, string Action, string ActorId, string Actor, DateTimeOffset At, int? UndoneVersion, ReviewStateResponse From, ReviewStateResponse To);

    public sealed record ReviewResponse(
        Guid TraceId, string Status, string? Reason, string? ReasonLabel, string? Detail, double? Score, string? ScoreLabel, string? Note,
        string? ReviewedBy, string? ReviewedByName, DateTimeOffset? ReviewedAt, int Version, bool CanUndo, IReadOnlyList<ReviewChangeResponse> History);

    public sealed record RejectionReasonResponse(string Key, string Label, string? Description);

    public sealed record ReviewSettingsResponse(string ScoreScale, IReadOnlyList<RejectionReasonResponse> Reasons);

    public const int MaxBodyBytes = 256 * 1024;

    public static RouteGroupBuilder MapReviewEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/traces/{id:guid}/review", ReviewAsync).RequirePermission(Permission.ReviewTraces)
            .WithName("ReviewTrace").WithTags("Reviews")
            .WithSummary("Accept, reject (with a reason), mark for review, reset or undo; set the human score and the note")
            .Accepts<ReviewRequestDoc>("application/json");
        api.MapGet("/review-settings", GetSettingsAsync).RequireAnyPermission(Permission.ViewTraces, Permission.ReviewTraces)
            .WithName("GetReviewSettings").WithTags("Reviews")
            .WithSummary("The team's score scale and rejection reasons (keys for the review endpoint); scope read or review");
        return api;
    }

    /// <summary>The review body, for the API description (the endpoint reads the JSON itself to tell absent from null).</summary>
    public sealed record ReviewRequestDoc(string? Action, string? Reason, string? Detail, double? Score, string? Note);

    private static async Task<Ok<ReviewResponse>> ReviewAsync(Guid id, HttpRequest request, ReviewService reviews, CancellationToken ct)
    {
        // Room for the longest note and detail even when every character arrives \u-escaped (6 bytes each).
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var command = ReviewCommand.Parse(body.RootElement);
        return TypedResults.Ok(ToResponse(await reviews.ReviewAsync(id, command, ct)));
    }

    private static async Task<Ok<ReviewSettingsResponse>> GetSettingsAsync(ReviewSettingsService settings, CancellationToken ct)
    {
        var config = await settings.GetAsync(ct);
        return TypedResults.Ok(new ReviewSettingsResponse(
            ReviewScores.Wire(config.Scale), config.Reasons.Select(r => new RejectionReasonResponse(r.Key, r.Label, r.Description)).ToList()));
    }

    public static ReviewResponse ToResponse(TraceReview r) => new(
        r.TraceId, TraceEndpoints.Wire(r.Status), r.Reason, r.ReasonLabel, r.Detail, r.Score, r.ScoreLabel, r.Note, r.ReviewedBy, r.ReviewedByName,
        r.ReviewedAt, r.Version, r.CanUndo,
        r.History.Select(h => new ReviewChangeResponse(
            h.Version, TraceEndpoints.Wire(h.Action), h.ActorId, h.ActorName, h.At, h.UndoneVersion,
            State(ReviewState.Before(h)), State(ReviewState.After(h)))).ToList());

    private static ReviewStateResponse State(ReviewState s) => new(TraceEndpoints.Wire(s.Status), s.Reason, s.Detail, s.Score, s.Note);

    /// <summary>List filters of the review: <c>score</c> as good, bad or a number; <c>score_min</c>, <c>score_max</c> numbers.</summary>
    internal static double? ParseScore(string field, string? value, List<FieldError> errors, bool words = true)
    {
        if (value is null)
        {
            return null;
        }

        if (ReviewScores.TryParse(value, out var score) && (words || double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out _)))
        {
            return score;
        }

        errors.Add(new FieldError(field, words ? "Must be good, bad or a number." : "Must be a number."));
        return null;
    }
}
