using System.Globalization;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's metrics over a time range (ADR 17): a summary and time series, with the trace list's filters. Figures come
/// from <see cref="AnalyticsService"/> (one definition of each metric); rates are 0–1 and null where undefined.
/// </summary>
public static class AnalyticsEndpoints
{
    public sealed record LatencyResponse(double? P50, double? P90, double? P95, double? P99);

    public sealed record ReasonCount(string Reason, long Count);

    /// <summary>How many traces have a human score (to the hundredth).</summary>
    public sealed record ScoreCount(double Score, long Count);

    public sealed record HumanScoreResponse(double? Mean, long Count, IReadOnlyList<ScoreCount> Distribution);

    public sealed record SummaryResponse(
        DateTimeOffset From, DateTimeOffset To, long Traces, long Errors, double? ErrorRate, LatencyResponse LatencyMs,
        long PromptTokens, long CompletionTokens, decimal Cost, long Reviewed, long Accepted, long Rejected, long NeedsReview,
        double? AcceptanceRate, IReadOnlyList<ReasonCount> RejectionReasons, HumanScoreResponse HumanScore);

    public sealed record PointResponse(DateTimeOffset T, double? Value, long N);

    /// <summary>One series: its group and, when <c>group_by</c> names two dimensions, its stack (the second dimension's value).</summary>
    public sealed record SeriesResponse(string? Group, IReadOnlyList<PointResponse> Points, string? Stack);

    public sealed record TimeSeriesResponse(string Metric, string Interval, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<SeriesResponse> Series);

    /// <summary>The range and the filters, as the trace list names them (bound with <c>[AsParameters]</c>).</summary>
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

        /// <summary>No parameter given at all.</summary>
        public bool IsEmpty => new[] { From, To, Model, Provider, Environment, Tag, Experiment, Variant }.All(string.IsNullOrEmpty);

        /// <summary>
        /// The filter; each unreadable parameter adds an error naming it. <c>to</c> defaults to the end of the current
        /// minute (so a trace that arrived a moment ago counts), <c>from</c> to <paramref name="defaultRange"/> (24 hours)
        /// before <c>to</c>.
        /// </summary>
        public AnalyticsFilter ToFilter(DateTimeOffset now, List<FieldError> errors, TimeSpan? defaultRange = null)
        {
            var to = Time("to", To, errors) ?? MetricInterval.Minute.Floor(now) + TimeSpan.FromMinutes(1);
            var from = Time("from", From, errors) ?? to - (defaultRange ?? TimeSpan.FromHours(24));
            return new AnalyticsFilter(from, to, Text("model", Model, errors), Text("provider", Provider, errors), Text("environment", Environment, errors),
                Text("tag", Tag, errors), Text("experiment", Experiment, errors), Text("variant", Variant, errors));
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
            if (value is not null && value.Length > IngestionLimits.MaxShortText)
            {
                errors.Add(new FieldError(field, $"At most {IngestionLimits.MaxShortText} characters."));
                return null;
            }

            return string.IsNullOrWhiteSpace(value) ? null : value;
        }
    }

    public static RouteGroupBuilder MapAnalyticsEndpoints(this RouteGroupBuilder api)
    {
        var analytics = api.MapGroup("/analytics").WithTags("Analytics").RequirePermission(Permission.ViewTraces);
        analytics.MapGet("/summary", SummaryAsync)
            .WithName("GetAnalyticsSummary").WithSummary("Every metric over a time range (default: the last 24 hours), with the trace list's filters");
        analytics.MapGet("/timeseries", TimeSeriesAsync)
            .WithName("GetAnalyticsTimeSeries").WithSummary("One metric per time bucket, optionally one series per group (top groups plus 'others')");
        return analytics;
    }

    private static async Task<Ok<SummaryResponse>> SummaryAsync(
        AnalyticsService analytics, TimeProvider clock, [AsParameters] AnalyticsFilterParameters parameters, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(clock.GetUtcNow(), errors);
        ThrowIfAny(errors);
        var a = await analytics.SummaryAsync(filter, ct);
        return TypedResults.Ok(new SummaryResponse(
            MetricInterval.Minute.Floor(filter.From), MetricInterval.Minute.Floor(filter.To), a.Traces, a.Errors, a.ErrorRate,
            new LatencyResponse(a.Latency.Quantile(0.50), a.Latency.Quantile(0.90), a.Latency.Quantile(0.95), a.Latency.Quantile(0.99)),
            a.PromptTokens, a.CompletionTokens, a.Cost, a.Reviewed, a.Accepted, a.Rejected, a.NeedsReview, a.AcceptanceRate,
            a.RejectionReasons.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).Select(r => new ReasonCount(r.Key, r.Value)).ToList(),
            new HumanScoreResponse(a.HumanScoreMean, a.HumanScoreCount,
                a.HumanScoreDistribution().Select(p => new ScoreCount(p.Score, p.Count)).ToList())));
    }

    private static async Task<Ok<TimeSeriesResponse>> TimeSeriesAsync(
        AnalyticsService analytics, TimeProvider clock, [AsParameters] AnalyticsFilterParameters parameters, CancellationToken ct,
        [FromQuery] string? metric = null, [FromQuery] string? interval = null, [FromQuery(Name = "group_by")] string? groupBy = null,
        [FromQuery(Name = "metadata_key")] string? metadataKey = null, [FromQuery] string? top = null)
    {
        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(clock.GetUtcNow(), errors);
        if (!MetricNames.TryParse(metric, out var m))
        {
            errors.Add(new FieldError("metric", $"{(string.IsNullOrEmpty(metric) ? "Required" : $"Unknown metric '{metric}'")}: one of {string.Join(", ", MetricNames.All)}."));
        }

        var bucket = MetricIntervals.Fit(filter.Length);
        if (!string.IsNullOrEmpty(interval) && !MetricIntervals.TryParse(interval, out bucket))
        {
            errors.Add(new FieldError("interval", "Must be minute, hour or day."));
        }

        AnalyticsDimension? by = null;
        AnalyticsDimension? stackBy = null;
        if (!string.IsNullOrEmpty(groupBy))
        {
            var names = groupBy.Split(',', StringSplitOptions.TrimEntries);
            var dimensions = names.Select(ParseDimension).ToList();
            if (names.Length > 2 || dimensions.Any(d => d is null))
            {
                errors.Add(new FieldError("group_by", $"One dimension, or two separated by a comma (group, then stack), of {string.Join(", ", Enum.GetValues<AnalyticsDimension>().Select(Wire))}."));
            }
            else if (dimensions.Count == 2 && dimensions[0] == dimensions[1])
            {
                errors.Add(new FieldError("group_by", "The two dimensions must differ."));
            }
            else
            {
                by = dimensions[0];
                stackBy = dimensions.Count == 2 ? dimensions[1] : null;
            }
        }

        var count = AnalyticsService.DefaultTop;
        if (top is not null && (!int.TryParse(top, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > 50))
        {
            errors.Add(new FieldError("top", "Must be a whole number from 1 to 50."));
        }

        ThrowIfAny(errors);
        var query = new AnalyticsQuery(filter, bucket, by, string.IsNullOrWhiteSpace(metadataKey) ? null : metadataKey, stackBy);
        var result = await analytics.TimeSeriesAsync(query, m, count, ct);
        return TypedResults.Ok(new TimeSeriesResponse(
            m.Name(), bucket.Name(), MetricInterval.Minute.Floor(filter.From), MetricInterval.Minute.Floor(filter.To),
            result.Series.Select(s => new SeriesResponse(s.Group, s.Points.Select(p => new PointResponse(p.T, p.Value, p.N)).ToList(), s.Stack)).ToList()));
    }

    /// <summary>A dimension on the wire: <c>model</c>, <c>user_id</c>, <c>metadata</c>…</summary>
    public static string Wire(AnalyticsDimension dimension) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(dimension.ToString());

    public static AnalyticsDimension? ParseDimension(string? value) =>
        Enum.GetValues<AnalyticsDimension>().Where(d => string.Equals(Wire(d), value, StringComparison.OrdinalIgnoreCase)).Select(d => (AnalyticsDimension?)d).FirstOrDefault();

    internal static void ThrowIfAny(List<FieldError> errors)
    {
        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }
    }
}
