using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.LangSmith;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The LangSmith run API under <c>/api/langsmith</c>, so the LangSmith SDKs send here with
/// <c>LANGSMITH_ENDPOINT=&lt;base&gt;/api/langsmith</c> and an ingest key as <c>LANGSMITH_API_KEY</c>
/// (sent as <c>x-api-key</c>). Runs are stored by <see cref="LangSmithIngestion"/>; see ADR 10.
/// </summary>
public static class LangSmithEndpoints
{
    public const string BasePath = "/api/langsmith";

    public sealed record BatchIngestConfig(
        bool UseMultipartEndpoint, int SizeLimit, long SizeLimitBytes, int ScaleUpQsizeTrigger, int ScaleUpNthreadsLimit, int ScaleDownNemptyTrigger);

    public sealed record InstanceFlags(bool ZstdCompressionEnabled);

    /// <summary>LangSmith's <c>LangSmithInfo</c>, as the SDK reads it to choose its transport and batch sizes.</summary>
    public sealed record InfoResponse(string Version, string? LicenseExpirationTime, BatchIngestConfig BatchIngestConfig, InstanceFlags InstanceFlags);

    /// <summary>What a run request stored: LangSmith answers an accepted batch with 202; <paramref name="Skipped"/> lists what was not stored, and why.</summary>
    public sealed record IngestResponse(string Message, int Runs, int Feedback, IReadOnlyList<SkippedItem> Skipped);

    /// <summary>A run, part or feedback skipped, by its path in the request (also in the team's ingestion issue log).</summary>
    public sealed record SkippedItem(string Path, string Reason);

    public sealed record FeedbackResponse(Guid Id, string Key, Guid TraceId, Guid? SpanId, double? Score, string? Value, string? Comment, DateTimeOffset CreatedAt);

    public static RouteGroupBuilder MapLangSmithEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(BasePath).WithTags("LangSmith").RequirePermission(Permission.IngestTraces);
        group.MapGet("/info", Info).AllowAnonymous().AllowIngestionCors()
            .WithName("LangSmithInfo").WithSummary("What the LangSmith SDK probes first: multipart on, zstd off, batch limits");
        group.MapPost("/runs", PostRunAsync).RequireIngestionCors(IngestionDoor.LangSmith)
            .WithName("LangSmithCreateRun").WithSummary("Create one run; 409 when it is already stored").Accepts<JsonElement>("application/json");
        group.MapPatch("/runs/{id:guid}", PatchRunAsync).RequireIngestionCors(IngestionDoor.LangSmith)
            .WithName("LangSmithUpdateRun").WithSummary("Update one run (outputs, end_time, error…); before its post it waits as a placeholder")
            .Accepts<JsonElement>("application/json");
        group.MapPost("/runs/batch", BatchAsync).RequireIngestionCors(IngestionDoor.LangSmith)
            .WithName("LangSmithBatchRuns").WithSummary("Runs as {post:[…], patch:[…]}: every valid run stored, the others skipped with their reason").Accepts<JsonElement>("application/json");
        group.MapPost("/runs/multipart", MultipartAsync).RequireIngestionCors(IngestionDoor.LangSmith)
            .WithName("LangSmithMultipartRuns").WithSummary("The SDK's primary path: post./patch./attachment./feedback. parts; every usable part stored, the others skipped with their reason")
            .Accepts<IFormFile>("multipart/form-data");
        group.MapPost("/feedback", FeedbackAsync).RequireIngestionCors(IngestionDoor.LangSmith)
            .WithName("LangSmithFeedback").WithSummary("Feedback on a run, stored as a score (source langsmith)").Accepts<JsonElement>("application/json");
        return group;
    }

    /// <summary>
    /// The SDK compares <c>version</c> with the LangSmith server versions that introduced features (feedback in
    /// multipart needs 0.8.10), so it is a LangSmith-style version of the API we mirror, not our product's.
    /// </summary>
    public const string CompatibleVersion = "0.10.0";

    private static Ok<InfoResponse> Info() => TypedResults.Ok(new InfoResponse(
        CompatibleVersion, null,
        new BatchIngestConfig(true, LangSmithLimits.BatchSizeLimit, LangSmithLimits.BatchSizeLimitBytes, 1000, 4, 4),
        new InstanceFlags(ZstdCompressionEnabled: false)));

    private static async Task<Results<Accepted<IngestResponse>, ProblemHttpResult>> PostRunAsync(
        HttpRequest request, LangSmithIngestion ingestion, CancellationToken ct)
    {
        var run = await ReadObjectAsync(request, ct);
        return Answer(Single(await ingestion.IngestAsync([new RunOperation(IsPatch: false, run, "")], [], ct: ct)));
    }

    private static async Task<Results<Accepted<IngestResponse>, ProblemHttpResult>> PatchRunAsync(
        Guid id, HttpRequest request, LangSmithIngestion ingestion, CancellationToken ct)
    {
        var run = await ReadObjectAsync(request, ct);
        return Answer(Single(await ingestion.IngestAsync([new RunOperation(IsPatch: true, run, "", id.ToString("D"))], [], ct: ct)));
    }

    private static async Task<Results<Accepted<IngestResponse>, ProblemHttpResult>> BatchAsync(
        HttpRequest request, LangSmithIngestion ingestion, CancellationToken ct)
    {
        var body = await ReadObjectAsync(request, ct);
        var errors = new List<FieldError>();
        var unreadable = new List<FieldError>();
        var runs = new List<RunOperation>();
        foreach (var (name, isPatch) in new[] { ("post", false), ("patch", true) })
        {
            switch (body[name])
            {
                case null:
                    break;
                case JsonArray items:
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject run)
                        {
                            runs.Add(new RunOperation(isPatch, run, $"{name}[{i}]"));
                        }
                        else
                        {
                            unreadable.Add(new FieldError($"{name}[{i}]", "A run must be an object."));
                        }
                    }

                    break;
                default:
                    errors.Add(new FieldError(name, "Must be an array of runs."));
                    break;
            }
        }

        if (errors.Count == 0 && runs.Count == 0 && unreadable.Count == 0)
        {
            errors.Add(new FieldError("post", "Send at least one run in 'post' or 'patch'."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        return Answer(await ingestion.IngestAsync(runs, [], unreadable, ct));
    }

    private static async Task<Results<Accepted<IngestResponse>, ProblemHttpResult>> MultipartAsync(
        HttpRequest request, LangSmithIngestion ingestion, CancellationToken ct)
    {
        var parts = await LangSmithMultipart.ReadAsync(request, ct);
        var (runs, feedback, unreadable) = await parts.ToOperationsAsync(ingestion, ct);
        return Answer(await ingestion.IngestAsync(runs, feedback, unreadable, ct));
    }

    private static async Task<Ok<FeedbackResponse>> FeedbackAsync(HttpRequest request, LangSmithIngestion ingestion, CancellationToken ct)
    {
        var body = await ReadObjectAsync(request, ct);
        var result = Single(await ingestion.IngestAsync([], [new FeedbackOperation(body, "")], ct: ct));
        var s = result.Scores[0];
        return TypedResults.Ok(new FeedbackResponse(s.Id, s.Name, s.TraceId, s.SpanId, s.NumericValue, s.StringValue, s.Comment, s.CreatedAt));
    }

    /// <summary>
    /// 202 once committed, listing what was skipped (the rest was stored); 409 (after storing the rest) when any post was
    /// already stored, which the SDK takes as "already have it".
    /// </summary>
    private static Results<Accepted<IngestResponse>, ProblemHttpResult> Answer(LangSmithResult result)
    {
        var skipped = result.Refused.Select(e => new SkippedItem(e.Field, e.Message)).ToList();
        var stored = result.Runs.Count(r => r.Outcome is not (SpanOutcome.Duplicate or SpanOutcome.Rejected));
        var duplicates = result.Duplicates;
        if (duplicates.Count > 0)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Run already exists",
                detail: $"Already stored, nothing changed: {string.Join(", ", duplicates.Take(20))}{(duplicates.Count > 20 ? "…" : "")}."
                        + (stored > 0 ? $" The request's other {stored} run operation(s) were stored." : ""),
                extensions: new Dictionary<string, object?> { ["duplicates"] = duplicates, ["skipped"] = skipped });
        }

        return TypedResults.Accepted((string?)null, new IngestResponse("accepted", stored, result.Scores.Count, skipped));
    }

    /// <summary>A route that carries one run or one feedback answers 400 when that one item was refused: there is no rest to store.</summary>
    private static LangSmithResult Single(LangSmithResult result) =>
        result.Refused.Count > 0 ? throw new InputValidationException(result.Refused) : result;

    private static async Task<JsonObject> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, LangSmithLimits.MaxBodyBytes, ct);
        if (body.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InputValidationException([new FieldError("$", "The body must be a JSON object.")]);
        }

        return JsonObject.Create(body.RootElement.Clone(), new JsonNodeOptions())!;
    }
}
