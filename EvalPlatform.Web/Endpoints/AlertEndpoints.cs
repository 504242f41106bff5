using System.Text.Json;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Alert rules (ADR 23): read with a <c>read</c> (or <c>admin</c>) key, managed with an <c>admin</c> key; their alerts' events,
/// evaluations, acknowledgement and snooze. Every name is snake_case; a bad field is a 400 naming it.
/// </summary>
public static class AlertEndpoints
{
    public sealed record FiltersBody(string? Model, string? Provider, string? Environment, string? Tag, string? Experiment, string? Variant, string? UserId);

    public sealed record ConditionBody(string? Op, double? Value);

    /// <summary>A rule as written (POST, PUT).</summary>
    public sealed record RuleRequest(
        string? Name, string? Metric, string? MetricKey, FiltersBody? Filters, int? WindowMinutes, ConditionBody? Condition, int? ForEvaluations,
        int? MinSamples, int? CooldownMinutes, string? GroupBy, string? Severity, IReadOnlyList<Guid>? ChannelIds, bool? Enabled);

    public sealed record StateResponse(
        string? Group, string State, DateTimeOffset Since, int BreachCount, double? LastValue, long LastSamples, DateTimeOffset? LastEvaluatedAt,
        DateTimeOffset? LastFiredAt, DateTimeOffset? AcknowledgedAt, string? AcknowledgedBy, DateTimeOffset? SnoozedUntil);

    public sealed record RuleResponse(
        Guid Id, string Name, string Metric, string? MetricKey, FiltersBody Filters, int WindowMinutes, ConditionBody Condition, int ForEvaluations,
        int MinSamples, int CooldownMinutes, string GroupBy, string Severity, IReadOnlyList<Guid> ChannelIds, bool Enabled, string State,
        IReadOnlyList<StateResponse> Alerts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record EventResponse(
        Guid Id, Guid RuleId, string RuleName, string? Group, DateTimeOffset At, string From, string To, double? Value, long Samples, double? Threshold,
        DateTimeOffset WindowFrom, DateTimeOffset WindowTo, string Message, string? Actor);

    public sealed record EventPageResponse(IReadOnlyList<EventResponse> Events, string? Next);

    public sealed record EvaluationResponse(
        DateTimeOffset EvaluatedAt, string? Group, DateTimeOffset WindowFrom, DateTimeOffset WindowTo, double? Value, long Samples, double? Threshold,
        double? Baseline, string Decision, string State);

    public sealed record SnoozeRequest(string? Group, int? Minutes);

    public sealed record AcknowledgeRequest(string? Group);

    public const int MaxBodyBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static RouteGroupBuilder MapAlertEndpoints(this RouteGroupBuilder api)
    {
        var alerts = api.MapGroup("/alerts").WithTags("Alerts");
        alerts.MapGet("/rules", ListAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListAlertRules").WithSummary("The team's alert rules, each with the state of its alerts (one per group)");
        alerts.MapPost("/rules", CreateAsync).RequirePermission(Permission.ManageAlerts).Accepts<RuleRequest>("application/json")
            .WithName("CreateAlertRule").WithSummary("Create an alert rule: a metric over a window with the trace list's filters, a condition, and whom to notify");
        alerts.MapGet("/rules/{id:guid}", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetAlertRule").WithSummary("One alert rule with the state of its alerts");
        alerts.MapPut("/rules/{id:guid}", UpdateAsync).RequirePermission(Permission.ManageAlerts).Accepts<RuleRequest>("application/json")
            .WithName("UpdateAlertRule").WithSummary("Replace an alert rule's definition (a change to what it measures resets its alerts to OK)");
        alerts.MapDelete("/rules/{id:guid}", DeleteAsync).RequirePermission(Permission.ManageAlerts)
            .WithName("DeleteAlertRule").WithSummary("Delete an alert rule with its alerts, evaluations and events");
        alerts.MapGet("/rules/{id:guid}/evaluations", EvaluationsAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListAlertEvaluations").WithSummary("Every evaluation of the last 7 days, newest first: value, samples, threshold, decision (why it did or did not fire)");
        alerts.MapPost("/rules/{id:guid}/acknowledge", AcknowledgeAsync).RequirePermission(Permission.ManageAlerts)
            .WithName("AcknowledgeAlert").WithSummary("Acknowledge a firing alert (body: {\"group\": …} for a grouped rule)");
        alerts.MapPost("/rules/{id:guid}/snooze", SnoozeAsync).RequirePermission(Permission.ManageAlerts)
            .WithName("SnoozeAlert").WithSummary("No notifications from an alert for some minutes (0 ends the snooze); it is still evaluated");
        alerts.MapGet("/events", EventsAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListAlertEvents").WithSummary("State changes of the team's alerts, newest first, paginated by cursor");
        return alerts;
    }

    private static async Task<Ok<List<RuleResponse>>> ListAsync(AlertService alerts, CancellationToken ct) =>
        TypedResults.Ok((await alerts.ListAsync(ct)).Select(ToResponse).ToList());

    private static async Task<Ok<RuleResponse>> GetAsync(Guid id, AlertService alerts, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await alerts.GetAsync(id, ct)));

    private static async Task<Created<RuleResponse>> CreateAsync(HttpRequest request, AlertService alerts, CancellationToken ct)
    {
        var rule = await alerts.CreateAsync(await ReadDefinitionAsync(request, ct), ct);
        return TypedResults.Created($"/api/v1/alerts/rules/{rule.Id}", ToResponse(new AlertRuleOverview(rule, [])));
    }

    private static async Task<Ok<RuleResponse>> UpdateAsync(Guid id, HttpRequest request, AlertService alerts, CancellationToken ct)
    {
        await alerts.UpdateAsync(id, await ReadDefinitionAsync(request, ct), ct);
        return TypedResults.Ok(ToResponse(await alerts.GetAsync(id, ct)));
    }

    private static async Task<NoContent> DeleteAsync(Guid id, AlertService alerts, CancellationToken ct)
    {
        await alerts.DeleteAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<List<EvaluationResponse>>> EvaluationsAsync(
        Guid id, AlertService alerts, CancellationToken ct, [FromQuery] string? group = null, [FromQuery] int? limit = null)
    {
        var rows = await alerts.EvaluationsAsync(id, group, limit: limit ?? 500, ct: ct);
        return TypedResults.Ok(rows.Select(e => new EvaluationResponse(
            e.EvaluatedAt, e.GroupKey, e.WindowFrom, e.WindowTo, e.Value, e.Samples, e.Threshold, e.Baseline, AlertText.Wire(e.Decision),
            AlertText.Wire(e.Status))).ToList());
    }

    private static async Task<Ok<StateResponse>> AcknowledgeAsync(Guid id, HttpRequest request, AlertService alerts, CancellationToken ct)
    {
        var body = request.ContentLength is > 0 ? await ReadAsync<AcknowledgeRequest>(request, ct) : new AcknowledgeRequest(null);
        return TypedResults.Ok(ToResponse(await alerts.AcknowledgeAsync(id, body.Group ?? "", ct)));
    }

    private static async Task<Ok<StateResponse>> SnoozeAsync(Guid id, HttpRequest request, AlertService alerts, CancellationToken ct)
    {
        var body = await ReadAsync<SnoozeRequest>(request, ct);
        var minutes = body.Minutes ?? throw new InputValidationException([new FieldError("minutes", "Required: how long, in minutes (0 ends the snooze).")]);
        return TypedResults.Ok(ToResponse(await alerts.SnoozeAsync(id, body.Group ?? "", minutes, ct)));
    }

    private static async Task<Ok<EventPageResponse>> EventsAsync(
        AlertService alerts, CancellationToken ct, [FromQuery(Name = "rule_id")] Guid? ruleId = null, [FromQuery] string? cursor = null,
        [FromQuery] int? limit = null)
    {
        var page = await alerts.EventsAsync(ruleId, cursor, limit ?? 50, ct);
        return TypedResults.Ok(new EventPageResponse(page.Events.Select(e => new EventResponse(
            e.Id, e.RuleId, e.RuleName, e.GroupKey, e.At, AlertText.Wire(e.FromStatus), AlertText.Wire(e.ToStatus), e.Value, e.Samples, e.Threshold,
            e.WindowFrom, e.WindowTo, e.Message, e.Actor)).ToList(), page.Next));
    }

    /// <summary>The body as a definition; every unreadable or missing field is a 400 naming it.</summary>
    private static async Task<AlertRuleDefinition> ReadDefinitionAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await ReadAsync<RuleRequest>(request, ct);
        var errors = new List<FieldError>();
        if (!MetricNames.TryParse(body.Metric, out var metric))
        {
            errors.Add(new FieldError("metric", $"{(string.IsNullOrEmpty(body.Metric) ? "Required" : $"Unknown metric '{body.Metric}'")}: one of {string.Join(", ", MetricNames.All)}."));
        }

        if (body.WindowMinutes is null)
        {
            errors.Add(new FieldError("window_minutes", $"Required: from {AlertService.MinWindowMinutes} to {AlertService.MaxWindowMinutes}."));
        }

        var op = AlertConditionOp.Above;
        if (body.Condition is null)
        {
            errors.Add(new FieldError("condition", "Required: {\"op\": \"above\" | \"below\" | \"change_pct\" | \"anomaly\", \"value\": number}."));
        }
        else
        {
            if (!AlertText.TryParse(body.Condition.Op, out op))
            {
                errors.Add(new FieldError("condition.op", "Must be above, below, change_pct or anomaly."));
            }

            if (body.Condition.Value is null)
            {
                errors.Add(new FieldError("condition.value", "Required: a number."));
            }
        }

        var groupBy = AlertGroupBy.None;
        if (body.GroupBy is not null && !AlertText.TryParse(body.GroupBy, out groupBy))
        {
            errors.Add(new FieldError("group_by", "Must be none, model, environment or user_id."));
        }

        var severity = NotificationSeverity.Warning;
        if (body.Severity is not null && !AlertText.TryParse(body.Severity, out severity))
        {
            errors.Add(new FieldError("severity", "Must be info, warning or critical."));
        }

        AnalyticsEndpoints.ThrowIfAny(errors);
        var f = body.Filters;
        return new AlertRuleDefinition(
            body.Name, metric, body.MetricKey, new AlertFilters(f?.Model, f?.Provider, f?.Environment, f?.Tag, f?.Experiment, f?.Variant, f?.UserId),
            body.WindowMinutes!.Value, op, body.Condition!.Value!.Value, body.ForEvaluations ?? 1, body.MinSamples ?? 0, body.CooldownMinutes ?? 0,
            groupBy, severity, body.ChannelIds ?? [], body.Enabled ?? true);
    }

    /// <summary>
    /// A JSON object body of at most <paramref name="maxBytes"/> (this API's <see cref="MaxBodyBytes"/> when not given) as
    /// <typeparamref name="T"/> (snake_case): an unknown field or a wrong type is a 400 naming it (experiments read theirs through it too).
    /// </summary>
    internal static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken ct, int maxBytes = MaxBodyBytes)
    {
        using var document = await JsonBody.ReadAsync(request, maxBytes, ct);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InputValidationException([new FieldError("$", "The body must be a JSON object.")]);
        }

        // A misspelt field must not be ignored silently: a rule without the cooldown someone meant to set fires too often.
        var known = typeof(T).GetConstructors()[0].GetParameters().Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name!)).ToHashSet(StringComparer.Ordinal);
        var unknown = document.RootElement.EnumerateObject().Where(p => !known.Contains(p.Name)).Select(p => new FieldError(p.Name, "Unknown field.")).ToList();
        AnalyticsEndpoints.ThrowIfAny(unknown);
        try
        {
            return document.RootElement.Deserialize<T>(Json)!;
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "$" : e.Path.TrimStart('$', '.');
            throw new InputValidationException([new FieldError(field, "Has the wrong type.")]);
        }
    }

    public static RuleResponse ToResponse(AlertRuleOverview o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var r = o.Rule;
        var f = r.Filters;
        return new RuleResponse(
            r.Id, r.Name, r.Metric.Name(), r.MetricKey, new FiltersBody(f.Model, f.Provider, f.Environment, f.Tag, f.Experiment, f.Variant, f.UserId),
            r.WindowMinutes, new ConditionBody(AlertText.Wire(r.ConditionOp), r.ConditionValue), r.ForEvaluations, r.MinSamples, r.CooldownMinutes,
            AlertText.Wire(r.GroupBy), AlertText.Wire(r.Severity), r.ChannelIds, r.Enabled, AlertText.Wire(o.Status),
            o.States.Select(ToResponse).ToList(), r.CreatedAt, r.UpdatedAt);
    }

    private static StateResponse ToResponse(AlertState s) => new(
        s.GroupKey, AlertText.Wire(s.Status), s.Since, s.BreachCount, s.LastValue, s.LastSamples, s.LastEvaluatedAt, s.LastFiredAt, s.AcknowledgedAt,
        s.AcknowledgedBy, s.SnoozedUntil);
}
