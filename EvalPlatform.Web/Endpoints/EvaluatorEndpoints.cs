using System.Text.Json;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's LLM judges (ADR 39): listed and read with a <c>read</c> key, created, replaced, deleted and run with an
/// <c>admin</c> key. A run is a batch run (<c>/api/v1/batch-runs/{id}</c>).
/// </summary>
public static class EvaluatorEndpoints
{
    private const long MaxBodyBytes = 512 * 1024;

    private static readonly string[] Fields =
        ["name", "connection_id", "model", "prompt", "output", "on_new_traces", "filter", "sample_percent", "daily_budget_usd", "enabled"];

    /// <summary>A judge: <c>filter</c> is the trace list's filter (its parameter names), <c>spent_today_usd</c> today's (UTC) spending.</summary>
    public sealed record EvaluatorResponse(
        Guid Id, string Name, Guid ConnectionId, string Model, string Prompt, string Output, bool OnNewTraces, JsonElement Filter,
        int SamplePercent, decimal? DailyBudgetUsd, bool Enabled, double SpentTodayUsd, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record EvaluatorListResponse(IReadOnlyList<EvaluatorResponse> Items);

    public sealed record RunStartedResponse(Guid BatchRunId);

    public sealed record RunsResponse(IReadOnlyList<BatchRunEndpoints.BatchRunResponse> Items);

    /// <summary>Agreement: <c>table</c> rows are judge pass, judge fail; columns human accepted, human rejected.</summary>
    public sealed record AgreementResponse(int Count, double? PercentAgreement, double? Kappa, string? Interpretation, int[][] Table);

    public static RouteGroupBuilder MapEvaluatorEndpoints(this RouteGroupBuilder api)
    {
        var evaluators = api.MapGroup("/evaluators").WithTags("Evaluators");
        evaluators.MapGet("/", ListAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListEvaluators").WithSummary("The team's LLM judges, by name, with today's spending");
        evaluators.MapGet("/{id:guid}", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetEvaluator").WithSummary("One LLM judge");
        evaluators.MapPost("/", CreateAsync).RequirePermission(Permission.ManageEvaluators).Accepts<JsonElement>("application/json")
            .WithName("CreateEvaluator").WithSummary("Create a judge: {name, connection_id, model, prompt, output: pass_fail|scale_1_5|unit_0_1, on_new_traces?, filter?, sample_percent?, daily_budget_usd?, enabled?}");
        evaluators.MapPut("/{id:guid}", UpdateAsync).RequirePermission(Permission.ManageEvaluators).Accepts<JsonElement>("application/json")
            .WithName("UpdateEvaluator").WithSummary("Replace a judge's settings (every field, as for create)");
        evaluators.MapDelete("/{id:guid}", DeleteAsync).RequirePermission(Permission.ManageEvaluators)
            .WithName("DeleteEvaluator").WithSummary("Delete a judge (the scores it gave stay)");
        evaluators.MapPost("/{id:guid}/run", RunAsync).RequirePermission(Permission.ManageEvaluators).Accepts<JsonElement>("application/json")
            .WithName("RunEvaluator").WithSummary("Run the judge over {trace_ids: [...]}, {queue_id} or {filter}; 202 with the batch run's id");
        evaluators.MapGet("/{id:guid}/runs", RunsAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListEvaluatorRuns").WithSummary("The judge's batch runs, newest first");
        evaluators.MapGet("/{id:guid}/agreement", AgreementAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetEvaluatorAgreement").WithSummary("Judge–human agreement: Cohen's kappa and the confusion table against accepted/rejected verdicts");
        return evaluators;
    }

    private static async Task<Ok<EvaluatorListResponse>> ListAsync(EvaluatorService service, CancellationToken ct) =>
        TypedResults.Ok(new EvaluatorListResponse((await service.ListAsync(ct)).Select(Of).ToList()));

    private static async Task<Ok<EvaluatorResponse>> GetAsync(Guid id, EvaluatorService service, CancellationToken ct) =>
        TypedResults.Ok(Of(await service.GetAsync(id, ct)));

    private static async Task<Created<EvaluatorResponse>> CreateAsync(HttpRequest request, EvaluatorService service, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var created = Of(await service.CreateAsync(Parse(body.RootElement), ct));
        return TypedResults.Created($"/api/v1/evaluators/{created.Id}", created);
    }

    private static async Task<Ok<EvaluatorResponse>> UpdateAsync(Guid id, HttpRequest request, EvaluatorService service, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        return TypedResults.Ok(Of(await service.UpdateAsync(id, Parse(body.RootElement), ct)));
    }

    private static async Task<NoContent> DeleteAsync(Guid id, EvaluatorService service, CancellationToken ct)
    {
        await service.DeleteAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Accepted<RunStartedResponse>> RunAsync(Guid id, HttpRequest request, EvaluatorService service, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new DomainValidationException("trace_ids", "Give {\"trace_ids\": [...]} or {\"queue_id\": \"...\"}.");
        }

        List<Guid>? traceIds = null;
        if (root.TryGetProperty("trace_ids", out var ids) && ids.ValueKind != JsonValueKind.Null)
        {
            if (ids.ValueKind != JsonValueKind.Array)
            {
                throw new DomainValidationException("trace_ids", "A list of trace ids.");
            }

            traceIds = [];
            var i = 0;
            foreach (var item in ids.EnumerateArray())
            {
                traceIds.Add(item.ValueKind == JsonValueKind.String && Guid.TryParse(item.GetString(), out var g)
                    ? g
                    : throw new DomainValidationException($"trace_ids[{i}]", "A trace id."));
                i++;
            }
        }

        var queueId = OptionalGuid(root, "queue_id");
        Core.Traces.TraceFilter? filter = null;
        if (root.TryGetProperty("filter", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            try
            {
                filter = f.ValueKind == JsonValueKind.Object ? QueueFilterJson.Read(f.GetRawText()) : throw new JsonException();
            }
            catch (JsonException)
            {
                throw new DomainValidationException("filter", "The trace list's filter: an object with its parameter names (model, tag, status, …).");
            }
        }

        var runId = await service.RunAsync(id, new EvaluatorSelection(traceIds, queueId, filter), ct);
        return TypedResults.Accepted($"/api/v1/batch-runs/{runId}", new RunStartedResponse(runId));
    }

    private static async Task<Ok<RunsResponse>> RunsAsync(Guid id, EvaluatorService service, CancellationToken ct) =>
        TypedResults.Ok(new RunsResponse((await service.RunsAsync(id, ct)).Select(BatchRunEndpoints.Of).ToList()));

    private static async Task<Ok<AgreementResponse>> AgreementAsync(Guid id, EvaluatorService service, CancellationToken ct)
    {
        var a = await service.AgreementAsync(id, ct);
        return TypedResults.Ok(new AgreementResponse(a.Count, a.PercentAgreement, a.Kappa, a.Interpretation,
            [[a.JudgePassHumanAccepted, a.JudgePassHumanRejected], [a.JudgeFailHumanAccepted, a.JudgeFailHumanRejected]]));
    }

    public static EvaluatorResponse Of(EvaluatorView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        var e = view.Evaluator;
        using var filter = JsonDocument.Parse(e.FilterJson);
        return new EvaluatorResponse(e.Id, e.Name, e.ConnectionId, e.Model, e.Prompt, OutputName(e.Output), e.OnNewTraces, filter.RootElement.Clone(),
            e.SamplePercent, e.DailyBudgetUsd, e.Enabled, view.SpentTodayUsd, e.LastError, e.CreatedAt, e.UpdatedAt);
    }

    public static string OutputName(EvaluatorOutput output) => output switch
    {
        EvaluatorOutput.PassFail => "pass_fail",
        EvaluatorOutput.Scale1To5 => "scale_1_5",
        _ => "unit_0_1",
    };

    private static EvaluatorInput Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new DomainValidationException("name", "An evaluator is a JSON object.");
        }

        foreach (var p in root.EnumerateObject())
        {
            if (!Fields.Contains(p.Name))
            {
                throw new DomainValidationException(p.Name, $"Unknown field: an evaluator takes {string.Join(", ", Fields)}.");
            }
        }

        var output = String(root, "output") switch
        {
            "pass_fail" => EvaluatorOutput.PassFail,
            "scale_1_5" => EvaluatorOutput.Scale1To5,
            "unit_0_1" => EvaluatorOutput.Unit0To1,
            _ => throw new DomainValidationException("output", "Required: one of pass_fail, scale_1_5, unit_0_1."),
        };
        Core.Traces.TraceFilter? filter = null;
        if (root.TryGetProperty("filter", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            try
            {
                filter = f.ValueKind == JsonValueKind.Object ? QueueFilterJson.Read(f.GetRawText()) : throw new JsonException();
            }
            catch (JsonException)
            {
                throw new DomainValidationException("filter", "The trace list's filter: an object with its parameter names (model, tag, status, …).");
            }
        }

        return new EvaluatorInput(
            String(root, "name"), OptionalGuid(root, "connection_id"), String(root, "model"), String(root, "prompt"), output,
            Bool(root, "on_new_traces") ?? false, filter,
            root.TryGetProperty("sample_percent", out var s) && s.ValueKind != JsonValueKind.Null
                ? (s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var sp) ? sp : throw new DomainValidationException("sample_percent", "A whole number from 1 to 100."))
                : 100,
            root.TryGetProperty("daily_budget_usd", out var b) && b.ValueKind != JsonValueKind.Null
                ? (b.ValueKind == JsonValueKind.Number && b.TryGetDecimal(out var bd) ? bd : throw new DomainValidationException("daily_budget_usd", "A number of USD, or null."))
                : null,
            Bool(root, "enabled") ?? true);
    }

    private static string? String(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new DomainValidationException(name, "Must be a string.");

    private static bool? Bool(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw new DomainValidationException(name, "Must be true or false.");

    private static Guid? OptionalGuid(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String && Guid.TryParse(v.GetString(), out var g) ? g : throw new DomainValidationException(name, "Must be an id.");
}

/// <summary>Batch runs of any kind (ADR 39): progress with a <c>read</c> key; cancel with the permission of the run's kind.</summary>
public static class BatchRunEndpoints
{
    /// <summary>A run: <c>kind</c> says which feature's (<c>evaluator</c>, …); <c>status</c> is queued, running, cancelling, cancelled, completed or failed.</summary>
    public sealed record BatchRunResponse(
        Guid Id, string Kind, Guid? SubjectId, string Title, string Status, int Total, int Done, int Failed, string? LastError,
        string? CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

    public static RouteGroupBuilder MapBatchRunEndpoints(this RouteGroupBuilder api)
    {
        var runs = api.MapGroup("/batch-runs").WithTags("Batch runs");
        runs.MapGet("/{id:guid}", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetBatchRun").WithSummary("A batch run's progress: status, total, done, failed, last error");
        // Reading the run needs ViewTraces; the service then checks the permission of the run's kind (ManageEvaluators for a judge's run).
        runs.MapPost("/{id:guid}/cancel", CancelAsync).RequirePermission(Permission.ViewTraces)
            .WithName("CancelBatchRun").WithSummary("Stop a run: a queued one at once, a running one after its current chunk");
        return runs;
    }

    private static async Task<Ok<BatchRunResponse>> GetAsync(Guid id, BatchRuns runs, CancellationToken ct) => TypedResults.Ok(Of(await runs.GetAsync(id, ct)));

    private static async Task<Ok<BatchRunResponse>> CancelAsync(Guid id, BatchRuns runs, CancellationToken ct) => TypedResults.Ok(Of(await runs.CancelAsync(id, ct)));

    public static BatchRunResponse Of(BatchRun r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new BatchRunResponse(r.Id, r.Kind, r.SubjectId, r.Title, r.Status.ToString().ToLowerInvariant(), r.Total, r.Done, r.Failed, r.LastError,
            r.CreatedBy, r.CreatedAt, r.StartedAt, r.FinishedAt);
    }
}
