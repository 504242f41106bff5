using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>The trace API: ingest (one, batch), complete, list, read, score.</summary>
public static class TraceEndpoints
{
    /// <summary>
    /// One trace's fate: <c>created</c>, <c>existing</c> (stored before with the same content), <c>skipped</c>
    /// (invalid or refused by the database; <c>errors</c> say why) or <c>conflict</c> (another trace under its
    /// external id); <c>id</c> only when stored. <c>adjustments</c> list values stored other than as sent.
    /// </summary>
    public sealed record IngestedTrace(
        int Index, Guid? Id, string? ExternalId, string Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<FieldError>? Errors = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<FieldError>? Adjustments = null);

    /// <summary>A batch's answer: how many traces are stored (created or existing), skipped (any other status) and adjusted, and each one in order.</summary>
    public sealed record BatchResponse(int Stored, int Skipped, int Adjusted, IReadOnlyList<IngestedTrace> Items)
    {
        public static BatchResponse Of(IngestOutcome outcome)
        {
            var items = outcome.Items.Select(ToResponse).ToList();
            return new BatchResponse(
                outcome.Items.Count(i => i.IsStored), outcome.Items.Count(i => !i.IsStored), outcome.Items.Count(i => i.Adjustments.Count > 0), items);
        }
    }

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
        traces.MapPost("/", IngestOneAsync).RequirePermission(Permission.IngestTraces).RequireIngestionCors(IngestionDoor.Api)
            .WithName("IngestTrace").WithSummary("Send one trace (simple or full shape); idempotent by external_id")
            .Accepts<JsonElement>("application/json");
        traces.MapPost("/batch", IngestBatchAsync).RequirePermission(Permission.IngestTraces).RequireIngestionCors(IngestionDoor.Batch)
            .WithName("IngestTraceBatch").WithSummary("Send up to 1,000 traces: every valid one is stored, the others are skipped and listed with their reasons")
            .Accepts<JsonElement>("application/json");
        traces.MapPatch("/{id:guid}", CompleteAsync).RequirePermission(Permission.IngestTraces).RequireIngestionCors(IngestionDoor.Api)
            .WithName("CompleteTrace").WithSummary("Complete a trace sent at its start: output, end time, usage, error")
            .Accepts<JsonElement>("application/json");
        traces.MapGet("/", ListAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListTraces").WithSummary("The team's traces, newest first, filtered, keyset-paged");
        traces.MapGet("/{id:guid}", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetTrace").WithSummary("One trace with its span tree, scores, and review with its history");
        traces.MapPost("/{id:guid}/scores", AddScoresAsync).RequirePermission(Permission.IngestTraces).RequireIngestionCors(IngestionDoor.Api)
            .WithName("AddTraceScores").WithSummary("Attach named scores from code")
            .Accepts<JsonElement>("application/json");
        return traces;
    }

    private static async Task<Results<Created<IngestedTrace>, Ok<IngestedTrace>, ProblemHttpResult>> IngestOneAsync(
        HttpRequest request, TraceIngestionService ingestion, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, IngestionLimits.MaxSingleBytes, ct);
        var outcome = await ingestion.IngestOneAsync(body.RootElement, ct);
        return One(outcome);
    }

    /// <summary>A one-trace answer (shared with webhooks): 201 with <c>Location</c>, 200 for a retry, else the problem.</summary>
    internal static Results<Created<IngestedTrace>, Ok<IngestedTrace>, ProblemHttpResult> One(IngestOutcome outcome)
    {
        var item = outcome.Items[0];
        if (!item.IsStored)
        {
            return Problem(outcome, many: false);
        }

        var result = ToResponse(item);
        return item.Status == ItemStatus.Created ? TypedResults.Created($"/api/v1/traces/{item.Id}", result) : TypedResults.Ok(result);
    }

    /// <summary>
    /// A batch answer (shared with webhooks): 201 when every trace is stored and one at least is new, 200 when every
    /// one was stored before, 200 as well when some were skipped (the body says which and why); a problem only
    /// when nothing could be stored: 409 when every trace is a conflict, else 400.
    /// </summary>
    internal static Results<Created<BatchResponse>, Ok<BatchResponse>, ProblemHttpResult> Many(IngestOutcome outcome)
    {
        if (!outcome.AnyStored)
        {
            return Problem(outcome, many: true);
        }

        var response = BatchResponse.Of(outcome);
        return response.Skipped == 0 && outcome.Items.Any(i => i.Status == ItemStatus.Created)
            ? TypedResults.Created((string?)null, response)
            : TypedResults.Ok(response);
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

        return Many(await ingestion.IngestBatchAsync(traces.EnumerateArray().ToList(), ct));
    }

    /// <summary>What PATCH answers a key that may not read traces: that the change is stored, no content.</summary>
    public sealed record CompletedTrace(Guid Id, DateTimeOffset UpdatedAt);

    /// <summary>The whole trace for a caller that may read it; an <c>ingest</c>-only key learns only that it is stored.</summary>
    private static async Task<Results<Ok<TraceResponse>, Ok<CompletedTrace>>> CompleteAsync(
        Guid id, HttpRequest request, TraceUpdates updates, ITeamContext team, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, IngestionLimits.MaxSingleBytes, ct);
        var detail = await updates.CompleteAsync(id, body.RootElement, ct);
        return team.Can(Permission.ViewTraces)
            ? TypedResults.Ok(ToResponse(detail))
            : TypedResults.Ok(new CompletedTrace(detail.Trace.Id, detail.Trace.UpdatedAt));
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

    /// <summary>
    /// Nothing of the request could be stored: 409 when every trace is a conflict on its external id, else 400;
    /// <c>errors</c> by field path, and for a batch <c>items</c> as a stored batch would list them.
    /// </summary>
    private static ProblemHttpResult Problem(IngestOutcome outcome, bool many)
    {
        var all = outcome.Errors;
        var extensions = new Dictionary<string, object?>
        {
            ["errors"] = all.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
        };
        if (many)
        {
            extensions["items"] = outcome.Items.Select(ToResponse).ToList();
        }

        return outcome.AllConflicts
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: string.Join(" ", all.Select(e => e.Message)), extensions: extensions)
            : TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: many ? "No trace could be stored" : "Invalid trace",
                detail: all.Count == 1 ? $"{all[0].Field}: {all[0].Message}" : $"{all.Count} fields are invalid; see errors.",
                extensions: extensions);
    }

    private static IngestedTrace ToResponse(ItemOutcome item) => new(
        item.Index, item.Id, item.ExternalId, Wire(item.Status),
        item.Errors.Count > 0 ? item.Errors : null, item.Adjustments.Count > 0 ? item.Adjustments : null);

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
