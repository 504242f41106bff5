using System.Globalization;
using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>The trace API: ingest (one, batch), complete, list, read, score.</summary>
public static class TraceEndpoints
{
    public sealed record IngestedTrace(int Index, Guid Id, string? ExternalId, string Status);

    public sealed record BatchResponse(IReadOnlyList<IngestedTrace> Items);

    public sealed record ListResponse(IReadOnlyList<TraceListItemResponse> Items, string? NextCursor);

    public sealed record TraceListItemResponse(
        Guid Id, string? ExternalId, string? Name, string? Model, string? Provider, string? InputPreview, string? OutputPreview,
        double? LatencyMs, int? PromptTokens, int? CompletionTokens, int? TotalTokens, decimal? Cost, string? Error, IReadOnlyList<string> Tags,
        string? Environment, string? SessionId, string? UserId, string? Experiment, string? Variant, string ReviewStatus,
        DateTimeOffset StartTime, DateTimeOffset? EndTime, DateTimeOffset CreatedAt, string? ReviewReason, double? ReviewScore,
        string? ReviewedBy, DateTimeOffset? ReviewedAt);

    public sealed record SpanResponse(
        Guid Id, Guid? ParentId, string? ExternalId, string Kind, string Name, DateTimeOffset StartTime, DateTimeOffset? EndTime, double? DurationMs,
        JsonElement? Input, JsonElement? Output, JsonElement? Attributes, string? Error, string? Model, string? Provider,
        int? PromptTokens, int? CompletionTokens, decimal? Cost);

    public sealed record ScoreResponse(
        Guid Id, Guid? SpanId, string Name, string DataType, double? NumericValue, string? StringValue, string Source, string? Author, string? Comment,
        DateTimeOffset CreatedAt);

    public sealed record TraceResponse(
        Guid Id, string? ExternalId, string? Name, string? SessionId, string? UserId, string? Environment, string? Release, IReadOnlyList<string> Tags,
        string? Model, string? Provider, int? PromptTokens, int? CompletionTokens, int? TotalTokens, decimal? Cost, bool CostComputed,
        double? LatencyMs, double? TimeToFirstTokenMs, string? Error, string? Experiment, string? Variant, JsonElement? Metadata,
        string ReviewStatus, DateTimeOffset StartTime, DateTimeOffset? EndTime, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
        IReadOnlyList<SpanResponse> Spans, IReadOnlyList<ScoreResponse> Scores, ReviewEndpoints.ReviewResponse? Review);

    public static RouteGroupBuilder MapTraceEndpoints(this RouteGroupBuilder api)
    {
        var traces = api.MapGroup("/traces").WithTags("Traces");
        traces.MapPost("/", IngestOneAsync).RequireAuthorization(ApiPolicies.Ingest).RequireIngestionCors(IngestionDoor.Api)
            .WithName("IngestTrace").WithSummary("Send one trace (simple or full shape); idempotent by external_id")
            .Accepts<JsonElement>("application/json");
        traces.MapPost("/batch", IngestBatchAsync).RequireAuthorization(ApiPolicies.Ingest).RequireIngestionCors(IngestionDoor.Batch)
            .WithName("IngestTraceBatch").WithSummary("Send up to 1,000 traces in one transaction: all or none")
            .Accepts<JsonElement>("application/json");
        traces.MapPatch("/{id:guid}", CompleteAsync).RequireAuthorization(ApiPolicies.Ingest).RequireIngestionCors(IngestionDoor.Api)
            .WithName("CompleteTrace").WithSummary("Complete a trace sent at its start: output, end time, usage, error")
            .Accepts<JsonElement>("application/json");
        traces.MapGet("/", ListAsync).RequireAuthorization(ApiPolicies.Read)
            .WithName("ListTraces").WithSummary("The team's traces, newest first, filtered, keyset-paged");
        traces.MapGet("/{id:guid}", GetAsync).RequireAuthorization(ApiPolicies.Read)
            .WithName("GetTrace").WithSummary("One trace with its span tree, scores, and review with its history");
        traces.MapPost("/{id:guid}/scores", AddScoresAsync).RequireAuthorization(ApiPolicies.Ingest).RequireIngestionCors(IngestionDoor.Api)
            .WithName("AddTraceScores").WithSummary("Attach named scores from code")
            .Accepts<JsonElement>("application/json");
        return traces;
    }

    private static async Task<Results<Created<IngestedTrace>, Ok<IngestedTrace>, ProblemHttpResult>> IngestOneAsync(
        HttpRequest request, TraceIngestionService ingestion, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, IngestionLimits.MaxSingleBytes, ct);
        var outcome = await ingestion.IngestOneAsync(body.RootElement, ct);
        if (!outcome.IsValid)
        {
            return Problem(outcome);
        }

        var stored = outcome.Traces[0];
        var result = new IngestedTrace(0, stored.Id, stored.ExternalId, stored.Created ? "created" : "existing");
        return stored.Created ? TypedResults.Created($"/api/v1/traces/{stored.Id}", result) : TypedResults.Ok(result);
    }

    private static async Task<Results<Created<BatchResponse>, Ok<BatchResponse>, ProblemHttpResult>> IngestBatchAsync(
        HttpRequest request, TraceIngestionService ingestion, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, IngestionLimits.MaxBatchBytes, ct);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("traces", out var traces) || traces.ValueKind != JsonValueKind.Array)
        {
            throw new InputValidationException([new FieldError("traces", "Required: {\"traces\": [ ... ]}.")]);
        }

        var count = traces.GetArrayLength();
        if (count == 0 || count > IngestionLimits.MaxBatchTraces)
        {
            throw new InputValidationException([new FieldError("traces", $"Send 1 to {IngestionLimits.MaxBatchTraces} traces per batch (got {count}).")]);
        }

        var outcome = await ingestion.IngestBatchAsync(traces.EnumerateArray().ToList(), ct);
        if (!outcome.IsValid)
        {
            return Problem(outcome);
        }

        var items = outcome.Traces.OrderBy(t => t.Index)
            .Select(t => new IngestedTrace(t.Index, t.Id, t.ExternalId, t.Created ? "created" : "existing")).ToList();
        var response = new BatchResponse(items);
        return items.Any(i => i.Status == "created") ? TypedResults.Created((string?)null, response) : TypedResults.Ok(response);
    }

    private static async Task<Ok<TraceResponse>> CompleteAsync(Guid id, HttpRequest request, TraceUpdates updates, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, IngestionLimits.MaxSingleBytes, ct);
        return TypedResults.Ok(ToResponse(await updates.CompleteAsync(id, body.RootElement, ct)));
    }

    private static async Task<Ok<ListResponse>> ListAsync(
        TraceQueries queries, [AsParameters] TraceFilterParameters parameters, CancellationToken ct,
        [FromQuery] string? cursor = null, [FromQuery] string? limit = null)
    {
        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(errors);
        var size = 50;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > TraceQueries.MaxPageSize))
        {
            errors.Add(new FieldError("limit", $"Must be a whole number from 1 to {TraceQueries.MaxPageSize}."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        var page = await queries.ListAsync(filter, cursor, size, ct);
        return TypedResults.Ok(new ListResponse(page.Items.Select(ToResponse).ToList(), page.NextCursor));
    }

    private static async Task<Ok<TraceResponse>> GetAsync(Guid id, TraceQueries queries, ReviewService reviews, CancellationToken ct)
    {
        var detail = await queries.GetAsync(id, ct);
        return TypedResults.Ok(ToResponse(detail, ReviewEndpoints.ToResponse(await reviews.GetAsync(id, ct))));
    }

    private static async Task<Created<List<ScoreResponse>>> AddScoresAsync(Guid id, HttpRequest request, TraceUpdates updates, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, IngestionLimits.MaxSingleBytes, ct);
        var scores = await updates.AddScoresAsync(id, body.RootElement, ct);
        return TypedResults.Created($"/api/v1/traces/{id}", scores.Select(ToResponse).ToList());
    }

    /// <summary>A refused ingestion: 409 for an external_id clash, else 400 with the errors by field (shared with webhooks).</summary>
    internal static ProblemHttpResult Problem(IngestOutcome outcome)
    {
        var errors = outcome.Errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray());
        return outcome.IsConflict
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: string.Join(" ", outcome.Errors.Select(e => e.Message)), extensions: new Dictionary<string, object?> { ["errors"] = errors })
            : TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid trace",
                detail: outcome.Errors.Count == 1 ? $"{outcome.Errors[0].Field}: {outcome.Errors[0].Message}" : $"{outcome.Errors.Count} fields are invalid; see errors.",
                extensions: new Dictionary<string, object?> { ["errors"] = errors });
    }

    /// <summary>Enum values on the wire: snake_case words.</summary>
    public static string Wire<T>(T value) where T : struct, Enum =>
        JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    private static JsonElement? RawJson(string? text) => text is null ? null : JsonDocument.Parse(text).RootElement.Clone();

    private static TraceListItemResponse ToResponse(TraceListItem t) => new(
        t.Id, t.ExternalId, t.Name, t.Model, t.Provider, t.InputPreview, t.OutputPreview, t.LatencyMs, t.PromptTokens, t.CompletionTokens,
        t.TotalTokens, t.Cost, t.Error, t.Tags, t.Environment, t.SessionId, t.UserId, t.Experiment, t.Variant, Wire(t.ReviewStatus),
        t.StartedAt, t.EndedAt, t.CreatedAt, t.ReviewReason, t.HumanScore, t.ReviewedBy, t.ReviewedAt);

    private static ScoreResponse ToResponse(Score s) => new(
        s.Id, s.SpanId, s.Name, Wire(s.DataType), s.NumericValue, s.StringValue, Wire(s.Source), s.Author, s.Comment, s.CreatedAt);

    /// <summary>The whole trace; <paramref name="review"/> is null where the caller may not read reviews (PATCH with an ingest key).</summary>
    private static TraceResponse ToResponse(TraceDetail d, ReviewEndpoints.ReviewResponse? review = null)
    {
        var t = d.Trace;
        return new TraceResponse(
            t.Id, t.ExternalId, t.Name, t.SessionId, t.UserId, t.Environment, t.Release, t.Tags, t.Model, t.Provider, t.PromptTokens,
            t.CompletionTokens, t.TotalTokens, t.Cost, t.CostComputed, t.LatencyMs, t.TimeToFirstTokenMs, t.Error, t.Experiment, t.Variant,
            RawJson(t.Metadata), Wire(t.ReviewStatus), t.StartedAt, t.EndedAt, t.CreatedAt, t.UpdatedAt,
            d.Spans.Select(s => new SpanResponse(
                s.Id, s.ParentSpanId, s.ExternalId, Wire(s.Kind), s.Name, s.StartedAt, s.EndedAt, s.DurationMs,
                RawJson(s.Input), RawJson(s.Output), RawJson(s.Attributes), s.Error, s.Model, s.Provider,
                s.PromptTokens, s.CompletionTokens, s.Cost)).ToList(),
            d.Scores.Select(ToResponse).ToList(), review);
    }
}
