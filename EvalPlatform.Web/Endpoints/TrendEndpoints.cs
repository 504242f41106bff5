using System.Globalization;
using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// <c>GET /api/v1/analytics/trends</c>: the team's trend findings ("What changed") as data. Without parameters, the
/// default report (the last 7 days) as the hourly job cached it; with any, computed for that range and those filters.
/// </summary>
public static class TrendEndpoints
{
    /// <summary>One finding; <c>before</c>/<c>after</c> in the units the sentence uses (rates 0–1, ms, dollars per trace, traces per day or hour).</summary>
    public sealed record FindingResponse(
        string Kind, string Metric, string? Group, string Sentence, bool Worse, double? Before, double? After, double? PValue,
        double? Slope, double? SlopeLow, double? SlopeHigh, DateTimeOffset? At, double? Score);

    public sealed record TrendsResponse(DateTimeOffset ComputedAt, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<FindingResponse> Findings);

    /// <summary>The analytics filter as query parameters (bound with <c>[AsParameters]</c>): the trace list's names.</summary>
    public sealed class AnalyticsFilterParameters
    {
        [FromQuery] public string? From { get; init; }

        [FromQuery] public string? To { get; init; }

        [FromQuery] public string? Model { get; init; }

        [FromQuery] public string? Provider { get; init; }

        [FromQuery] public string? Environment { get; init; }

        [FromQuery] public string? Tag { get; init; }

        [FromQuery] public string? Experiment { get; init; }

        [FromQuery] public string? Variant { get; init; }

        public bool IsEmpty => new[] { From, To, Model, Provider, Environment, Tag, Experiment, Variant }.All(string.IsNullOrEmpty);
    }

    /// <summary>The longest filter value accepted (the trace columns are shorter).</summary>
    public const int MaxFilterLength = 200;

    public static RouteGroupBuilder MapTrendEndpoints(this RouteGroupBuilder api)
    {
        var analytics = api.MapGroup("/analytics").WithTags("Analytics");
        analytics.MapGet("/trends", GetTrendsAsync).RequireAuthorization(ApiPolicies.View)
            .WithName("GetTrends").WithSummary("What changed: slopes, week-over-week changes and anomalies per metric and model, as sentences and data");
        return analytics;
    }

    private static async Task<Ok<TrendsResponse>> GetTrendsAsync(
        [AsParameters] AnalyticsFilterParameters parameters, TrendService trends, TimeProvider clock, CancellationToken ct)
    {
        var report = parameters.IsEmpty
            ? await trends.GetDefaultAsync(ct)
            : await trends.FindAsync(ParseFilter(parameters, clock.GetUtcNow(), TrendService.DefaultRange), ct);
        return TypedResults.Ok(ToResponse(report));
    }

    /// <summary>
    /// Reads the range and filters: ISO 8601 times (<c>to</c> defaults to now, <c>from</c> to <paramref name="defaultRange"/>
    /// before <c>to</c>), text filters trimmed (empty means none). Every unreadable parameter is named in one 400.
    /// </summary>
    public static AnalyticsFilter ParseFilter(AnalyticsFilterParameters p, DateTimeOffset now, TimeSpan defaultRange)
    {
        ArgumentNullException.ThrowIfNull(p);
        var errors = new List<FieldError>();
        var to = Time("to", p.To, errors) ?? now;
        var from = Time("from", p.From, errors) ?? to - defaultRange;
        var filter = new AnalyticsFilter(from, to,
            Text("model", p.Model, errors), Text("provider", p.Provider, errors), Text("environment", p.Environment, errors),
            Text("tag", p.Tag, errors), Text("experiment", p.Experiment, errors), Text("variant", p.Variant, errors));
        if (errors.Count == 0 && filter.To <= filter.From)
        {
            errors.Add(new FieldError(p.To is null ? "from" : "to", "'to' must be after 'from'."));
        }

        return errors.Count > 0 ? throw new InputValidationException(errors) : filter;
    }

    private static DateTimeOffset? Time(string field, string? value, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
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

    private static string? Text(string field, string? value, List<FieldError> errors)
    {
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (text.Length > MaxFilterLength)
        {
            errors.Add(new FieldError(field, $"Must be at most {MaxFilterLength} characters."));
            return null;
        }

        return text;
    }

    public static TrendsResponse ToResponse(TrendReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new TrendsResponse(report.ComputedAt, report.Filter.From, report.Filter.To, report.Findings
            .Select(f => new FindingResponse(
                JsonNamingPolicy.SnakeCaseLower.ConvertName(f.Kind.ToString()), f.Metric.Name(), f.Group, f.Sentence, f.Worse,
                f.Before, f.After, f.PValue, f.Slope, f.SlopeLow, f.SlopeHigh, f.At, f.Score))
            .ToList());
    }
}
