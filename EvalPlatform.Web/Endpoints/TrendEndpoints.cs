using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

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

    public static RouteGroupBuilder MapTrendEndpoints(this RouteGroupBuilder api)
    {
        var analytics = api.MapGroup("/analytics").WithTags("Analytics");
        analytics.MapGet("/trends", GetTrendsAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetTrends").WithSummary("What changed: slopes, week-over-week changes and anomalies per metric and model, as sentences and data");
        return analytics;
    }

    private static async Task<Ok<TrendsResponse>> GetTrendsAsync(
        [AsParameters] AnalyticsEndpoints.AnalyticsFilterParameters parameters, TrendService trends, TimeProvider clock, CancellationToken ct)
    {
        if (parameters.IsEmpty)
        {
            return TypedResults.Ok(ToResponse(await trends.GetDefaultAsync(ct)));
        }

        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(clock.GetUtcNow(), errors, TrendService.DefaultRange);
        AnalyticsEndpoints.ThrowIfAny(errors);
        return TypedResults.Ok(ToResponse(await trends.FindAsync(filter, ct)));
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
