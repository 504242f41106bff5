using System.Security.Cryptography;
using System.Text.Json;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Experiments (ADR 27): managed with an <c>admin</c> key, read with a <c>read</c> key; units assigned with an <c>ingest</c> key;
/// the running experiments' definitions for SDKs that assign locally. Every name is snake_case; a bad field is a 400 naming it.
/// </summary>
public static class ExperimentEndpoints
{
    public sealed record VariantBody(string? Key, string? Name, double? Weight, JsonElement? Config);

    public sealed record FiltersBody(string? Environment, string? Model, string? Provider, string? Tag);

    /// <summary>An experiment as written (POST, PUT).</summary>
    public sealed record ExperimentRequest(
        string? Key, string? Name, string? Hypothesis, string? Unit, double? Coverage, IReadOnlyList<VariantBody?>? Variants, string? PrimaryMetric,
        IReadOnlyList<string?>? Guardrails, FiltersBody? Filters, double? MinimumDetectableEffect, double? SignificanceLevel);

    public sealed record VariantResponse(string Key, string Name, double Weight, JsonElement Config);

    public sealed record ExperimentResponse(
        string Key, string Name, string? Hypothesis, string Unit, double Coverage, IReadOnlyList<VariantResponse> Variants, string PrimaryMetric,
        IReadOnlyList<string> Guardrails, IReadOnlyDictionary<string, string> Filters, double MinimumDetectableEffect, double SignificanceLevel,
        string Status, string? Decision, string? DecisionVariant, string? DecisionNote, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ChangeResponse(DateTimeOffset At, string Actor, string Action, string? Detail);

    public sealed record StopRequest(string? Decision, string? Variant, string? Note);

    public sealed record AssignRequest(string? UnitId, IReadOnlyList<string?>? UnitIds, Dictionary<string, string?>? Attributes = null);

    public sealed record AssignmentResponse(string Experiment, string? Variant, JsonElement? Config, bool InExperiment);

    public sealed record BatchAssignmentResponse(string UnitId, string Experiment, string? Variant, JsonElement? Config, bool InExperiment);

    public sealed record BatchResponse(IReadOnlyList<BatchAssignmentResponse> Assignments);

    public sealed record DefinitionVariant(string Key, double Weight, JsonElement Config);

    public sealed record Definition(
        string Key, string Seed, int HashVersion, string Unit, double Coverage, string Status, IReadOnlyList<DefinitionVariant> Variants,
        IReadOnlyDictionary<string, string> Filters);

    public sealed record DefinitionsResponse(IReadOnlyList<Definition> Experiments);

    public sealed record SrmResponse(double PValue, bool Mismatch, double ChiSquare, int DegreesOfFreedom);

    public sealed record VariantResultResponse(
        string Key, long Units, long Traces, long Exposures, long Count, double? Value, double? CiLow, double? CiHigh, double? AbsoluteLift,
        double? AbsoluteLiftCiLow, double? AbsoluteLiftCiHigh, double? Lift, double? LiftCiLow, double? LiftCiHigh, double? PValue,
        double? AdjustedPValue, bool Significant);

    public sealed record GuardrailResponse(string Metric, string Method, SrmResponse Srm, IReadOnlyList<VariantResultResponse> Variants);

    public sealed record ResultsResponse(
        string Experiment, string Status, string Metric, string Method, DateTimeOffset From, DateTimeOffset To, SrmResponse Srm,
        IReadOnlyList<VariantResultResponse> Variants, IReadOnlyList<GuardrailResponse> Guardrails);

    public sealed record LiftVariant(string Key, long Units, double? Value, double? Lift, double? LiftCiLow, double? LiftCiHigh, bool Significant);

    public sealed record LiftPointResponse(DateTimeOffset At, IReadOnlyList<LiftVariant> Variants);

    public sealed record LiftResponse(string Experiment, string Metric, IReadOnlyList<LiftPointResponse> Points);

    public const int MaxBodyBytes = 256 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static RouteGroupBuilder MapExperimentEndpoints(this RouteGroupBuilder api)
    {
        var experiments = api.MapGroup("/experiments").WithTags("Experiments");
        experiments.MapGet("/", ListAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListExperiments").WithSummary("The team's experiments, running and paused first");
        experiments.MapPost("/", CreateAsync).RequirePermission(Permission.ManageExperiments).Accepts<ExperimentRequest>("application/json")
            .WithName("CreateExperiment").WithSummary("Create an experiment (a draft): variants with weights and configs (the first is the control), the unit, coverage, metrics, filters");
        experiments.MapGet("/definitions", DefinitionsAsync).RequireAnyPermission(Permission.IngestTraces, Permission.ViewTraces)
            .WithName("ExperimentDefinitions").WithSummary("The running experiments as SDKs evaluate them locally (GrowthBook hash v2); ETag and max-age=30");
        experiments.MapGet("/{key}", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetExperiment").WithSummary("One experiment");
        experiments.MapPut("/{key}", UpdateAsync).RequirePermission(Permission.ManageExperiments).Accepts<ExperimentRequest>("application/json")
            .WithName("UpdateExperiment").WithSummary("Replace an experiment's definition (once it has run: not its key, unit or variant keys; weights may change, assignments stay)");
        experiments.MapGet("/{key}/history", HistoryAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ExperimentHistory").WithSummary("Every change of the experiment, newest first: who, when, what");
        experiments.MapPost("/{key}/start", StartAsync).RequirePermission(Permission.ManageExperiments)
            .WithName("StartExperiment").WithSummary("Start a draft or resume a paused experiment");
        experiments.MapPost("/{key}/pause", PauseAsync).RequirePermission(Permission.ManageExperiments)
            .WithName("PauseExperiment").WithSummary("Pause a running experiment (assignments answer in_experiment false until it resumes)");
        experiments.MapPost("/{key}/stop", StopAsync).RequirePermission(Permission.ManageExperiments).Accepts<StopRequest>("application/json")
            .WithName("StopExperiment").WithSummary("Stop for good with a decision: {\"decision\": \"ship\"|\"rollback\"|\"inconclusive\", \"variant\", \"note\"}");
        experiments.MapPost("/{key}/assign", AssignAsync).RequirePermission(Permission.IngestTraces).Accepts<AssignRequest>("application/json")
            .WithName("AssignExperimentUnits").WithSummary("Assign a unit ({\"unit_id\"}) or up to 1000 ({\"unit_ids\"}), optionally with the units' \"attributes\" for the targeting filters; sticky, logs an exposure");
        experiments.MapGet("/{key}/results", ResultsAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ExperimentResults").WithSummary("Per variant: units, traces, value with CI, lift with CI, p-value, significance; SRM check; guardrails; the method");
        experiments.MapGet("/{key}/results/lift", LiftAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ExperimentLift").WithSummary("The primary metric's cumulative lift with its CI at the end of each day");
        return experiments;
    }

    private static async Task<Ok<List<ExperimentResponse>>> ListAsync(ExperimentService experiments, CancellationToken ct) =>
        TypedResults.Ok((await experiments.ListAsync(ct)).Select(ToResponse).ToList());

    private static async Task<Ok<ExperimentResponse>> GetAsync(string key, ExperimentService experiments, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await experiments.GetAsync(key, ct)));

    private static async Task<Created<ExperimentResponse>> CreateAsync(HttpRequest request, ExperimentService experiments, CancellationToken ct)
    {
        var experiment = await experiments.CreateAsync(await ReadDefinitionAsync(request, ct), ct);
        return TypedResults.Created($"/api/v1/experiments/{Uri.EscapeDataString(experiment.Key)}", ToResponse(experiment));
    }

    private static async Task<Ok<ExperimentResponse>> UpdateAsync(string key, HttpRequest request, ExperimentService experiments, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await experiments.UpdateAsync(key, await ReadDefinitionAsync(request, ct), ct)));

    private static async Task<Ok<List<ChangeResponse>>> HistoryAsync(string key, ExperimentService experiments, CancellationToken ct) =>
        TypedResults.Ok((await experiments.HistoryAsync(key, ct)).Select(c => new ChangeResponse(c.At, c.Actor, c.Action, c.Detail)).ToList());

    private static async Task<Ok<ExperimentResponse>> StartAsync(string key, ExperimentService experiments, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await experiments.StartAsync(key, ct)));

    private static async Task<Ok<ExperimentResponse>> PauseAsync(string key, ExperimentService experiments, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await experiments.PauseAsync(key, ct)));

    private static async Task<Ok<ExperimentResponse>> StopAsync(string key, HttpRequest request, ExperimentService experiments, CancellationToken ct)
    {
        var body = await AlertEndpoints.ReadAsync<StopRequest>(request, ct, MaxBodyBytes);
        ExperimentDecision? decision = null;
        if (body.Decision is not null)
        {
            decision = ExperimentService.TryParseDecision(body.Decision, out var d)
                ? d
                : throw new InputValidationException([new FieldError("decision", "Must be ship, rollback or inconclusive.")]);
        }

        return TypedResults.Ok(ToResponse(await experiments.StopAsync(key, decision, body.Variant, body.Note, ct)));
    }

    private static async Task<Results<Ok<AssignmentResponse>, Ok<BatchResponse>>> AssignAsync(
        string key, HttpRequest request, ExperimentAssignments assignments, CancellationToken ct)
    {
        var body = await AlertEndpoints.ReadAsync<AssignRequest>(request, ct, MaxBodyBytes);
        switch (body)
        {
            case { UnitId: not null, UnitIds: not null }:
                throw new InputValidationException([new FieldError("unit_ids", "Send either unit_id or unit_ids, not both.")]);
            case { UnitIds: { } ids }:
                var many = await assignments.AssignManyAsync(key, ids, body.Attributes, ct);
                return TypedResults.Ok(new BatchResponse(many.Select(a => new BatchAssignmentResponse(a.UnitId, a.Experiment, a.Variant, Config(a.Config), a.InExperiment)).ToList()));
            default:
                var one = await assignments.AssignAsync(key, body.UnitId ?? "", body.Attributes, ct);
                return TypedResults.Ok(new AssignmentResponse(one.Experiment, one.Variant, Config(one.Config), one.InExperiment));
        }
    }

    /// <summary>The definitions with an ETag of their bytes: a client sending it back (If-None-Match) gets 304 without the body.</summary>
    private static async Task<IResult> DefinitionsAsync(HttpContext context, ExperimentAssignments assignments, CancellationToken ct)
    {
        var running = await assignments.RunningAsync(ct);
        var body = new DefinitionsResponse(running.Select(e => new Definition(
            e.Key, e.Key, 2, ExperimentService.Wire(e.Unit), e.Coverage, ExperimentService.Wire(e.Status),
            e.Variants.Select(v => new DefinitionVariant(v.Key, v.Weight, Config(v.Config)!.Value)).ToList(), e.Filters.ToDictionary())).ToList());
        var json = JsonSerializer.SerializeToUtf8Bytes(body, Json);
        var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(json))[..32]}\"";
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "private, max-age=30";
        if (context.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Bytes(json, "application/json");
    }

    private static async Task<Ok<ResultsResponse>> ResultsAsync(string key, ExperimentResults results, CancellationToken ct)
    {
        var r = await results.ReadAsync(key, ct);
        var primary = r.Primary.Analysis;
        return TypedResults.Ok(new ResultsResponse(
            r.Experiment.Key, ExperimentService.Wire(r.Experiment.Status), r.Primary.Metric.Wire, primary.Method, r.From, r.To, Srm(primary.Srm),
            Variants(r.Primary, r.Exposures),
            r.Guardrails.Select(g => new GuardrailResponse(g.Metric.Wire, g.Analysis.Method, Srm(g.Analysis.Srm), Variants(g, r.Exposures))).ToList()));
    }

    private static async Task<Ok<LiftResponse>> LiftAsync(string key, ExperimentService experiments, ExperimentResults results, CancellationToken ct)
    {
        var experiment = await experiments.GetAsync(key, ct);
        var points = await results.LiftOverTimeAsync(key, ct);
        return TypedResults.Ok(new LiftResponse(experiment.Key, experiment.Primary.Wire, points.Select(p => new LiftPointResponse(p.At,
            p.Analysis.Variants.Select(v => new LiftVariant(v.Key, v.Units, Finite(v.Value), Finite(v.Lift), Finite(v.LiftCiLow), Finite(v.LiftCiHigh), v.Significant)).ToList())).ToList()));
    }

    private static SrmResponse Srm(SampleRatioMismatch s) => new(Finite(s.PValue) ?? 1, s.Mismatch, Finite(s.ChiSquare) ?? 0, s.DegreesOfFreedom);

    private static List<VariantResultResponse> Variants(ExperimentMetricResult m, IReadOnlyDictionary<string, long> exposures) =>
        m.Analysis.Variants.Select(v => new VariantResultResponse(
            v.Key, v.Units, v.Traces, exposures.GetValueOrDefault(v.Key), v.Count, Finite(v.Value), Finite(v.CiLow), Finite(v.CiHigh), Finite(v.AbsoluteLift),
            Finite(v.AbsoluteLiftCiLow), Finite(v.AbsoluteLiftCiHigh), Finite(v.Lift), Finite(v.LiftCiLow), Finite(v.LiftCiHigh), Finite(v.PValue),
            Finite(v.AdjustedPValue), v.Significant)).ToList();

    /// <summary>JSON has no infinity: an unbounded interval end is null.</summary>
    private static double? Finite(double? x) => x is { } v && double.IsFinite(v) ? v : null;

    private static JsonElement? Config(string? config) => config is null ? null : JsonDocument.Parse(config).RootElement.Clone();

    /// <summary>The body as a definition; every unreadable or missing field is a 400 naming it (the service checks the values).</summary>
    private static async Task<ExperimentDefinition> ReadDefinitionAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await AlertEndpoints.ReadAsync<ExperimentRequest>(request, ct, MaxBodyBytes);
        var errors = new List<FieldError>();
        var unit = ExperimentUnit.UserId;
        if (body.Unit is not null && !ExperimentService.TryParseUnit(body.Unit, out unit))
        {
            errors.Add(new FieldError("unit", "Must be user_id, session_id or trace."));
        }

        ExperimentMetric? primary = null;
        if (body.PrimaryMetric is null)
        {
            errors.Add(new FieldError("primary_metric", $"Required: one of {string.Join(", ", ExperimentMetric.Names)}."));
        }
        else if (!ExperimentMetric.TryParse(body.PrimaryMetric, out primary))
        {
            errors.Add(new FieldError("primary_metric", $"Unknown metric '{body.PrimaryMetric}': one of {string.Join(", ", ExperimentMetric.Names)}."));
        }

        var guardrails = new List<ExperimentMetric>();
        for (var i = 0; i < (body.Guardrails?.Count ?? 0); i++)
        {
            if (ExperimentMetric.TryParse(body.Guardrails![i], out var g))
            {
                guardrails.Add(g);
            }
            else
            {
                errors.Add(new FieldError($"guardrails[{i}]", $"Unknown metric '{body.Guardrails[i]}': one of {string.Join(", ", ExperimentMetric.Names)}."));
            }
        }

        var variants = new List<ExperimentVariant>();
        if (body.Variants is null)
        {
            errors.Add(new FieldError("variants", "Required: at least two variants, the control first."));
        }
        else
        {
            for (var i = 0; i < body.Variants.Count; i++)
            {
                var v = body.Variants[i];
                if (v is null)
                {
                    errors.Add(new FieldError($"variants[{i}]", "Must be an object {\"key\", \"name\", \"weight\", \"config\"}."));
                    continue;
                }

                if (v.Weight is null)
                {
                    errors.Add(new FieldError($"variants[{i}].weight", "Required: a share of traffic from 0 to 1."));
                }

                if (v.Config is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) })
                {
                    errors.Add(new FieldError($"variants[{i}].config", "Must be a JSON object."));
                }

                variants.Add(new ExperimentVariant(v.Key ?? "", v.Name ?? "", v.Weight ?? 0,
                    v.Config is { ValueKind: JsonValueKind.Object } c ? c.GetRawText() : "{}"));
            }
        }

        AnalyticsEndpoints.ThrowIfAny(errors);
        var f = body.Filters;
        return new ExperimentDefinition(
            body.Key, body.Name, body.Hypothesis, unit, body.Coverage ?? 1, variants, primary!, guardrails,
            new ExperimentFilters(f?.Environment, f?.Model, f?.Provider, f?.Tag), body.MinimumDetectableEffect ?? 0.05, body.SignificanceLevel ?? 0.05);
    }

    public static ExperimentResponse ToResponse(Experiment e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new ExperimentResponse(
            e.Key, e.Name, e.Hypothesis, ExperimentService.Wire(e.Unit), e.Coverage,
            e.Variants.Select(v => new VariantResponse(v.Key, v.Name, v.Weight, Config(v.Config)!.Value)).ToList(), e.PrimaryMetric,
            e.Guardrails.Select(g => g.Wire).ToList(), e.Filters.ToDictionary(), e.MinimumDetectableEffect, e.SignificanceLevel,
            ExperimentService.Wire(e.Status), e.Decision is { } d ? ExperimentService.Wire(d) : null, e.ShippedVariant, e.DecisionNote, e.StartedAt, e.StoppedAt,
            e.CreatedAt, e.UpdatedAt);
    }
}
