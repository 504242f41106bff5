using System.Globalization;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's ingestion issue log: what the doors (API, batch, webhooks, OTLP, LangSmith) refused or
/// adjusted in the last 7 days. Both routes flush this node's buffer first, so a client sees its own issues at once.
/// </summary>
public static class IngestionEndpoints
{
    public sealed record IssueResponse(
        Guid Id, string Door, string Kind, string Field, string Reason, string? TraceId, string? SpanId, int Count,
        DateTimeOffset FirstSeenAt, DateTimeOffset LastSeenAt);

    public sealed record IssueListResponse(IReadOnlyList<IssueResponse> Items, string? NextCursor);

    public sealed record TotalResponse(string Door, string Kind, long Count);

    public sealed record GroupResponse(string Door, string Kind, string Field, string Reason, long Count, DateTimeOffset LastSeenAt);

    public sealed record SummaryResponse(DateTimeOffset Since, IReadOnlyList<TotalResponse> Totals, IReadOnlyList<GroupResponse> Items);

    /// <summary>The filter as query parameters (bound with <c>[AsParameters]</c>), shared by the list and the summary.</summary>
    public sealed class IssueFilterParameters
    {
        [FromQuery] public string? Door { get; init; }

        [FromQuery] public string? Kind { get; init; }

        [FromQuery(Name = "trace_id")] public string? TraceId { get; init; }

        [FromQuery(Name = "span_id")] public string? SpanId { get; init; }

        [FromQuery] public string? Since { get; init; }

        /// <summary>The filter; each unreadable parameter adds an error naming it.</summary>
        public IngestionIssueFilter ToFilter(List<FieldError> errors) => new(
            Parse<IngestionDoor>("door", Door, errors), Parse<IngestionIssueKind>("kind", Kind, errors),
            Text("trace_id", TraceId, errors), Text("span_id", SpanId, errors), ParseSince(errors));

        private DateTimeOffset? ParseSince(List<FieldError> errors)
        {
            if (Since is null)
            {
                return null;
            }

            if (DateTimeOffset.TryParse(Since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                return t.ToUniversalTime();
            }

            errors.Add(new FieldError("since", "Must be an ISO 8601 date-time (the log keeps 7 days; an earlier time means all of them)."));
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

        private static T? Parse<T>(string field, string? value, List<FieldError> errors) where T : struct, Enum
        {
            if (value is null)
            {
                return null;
            }

            var match = Enum.GetValues<T>().Where(v => string.Equals(Wire(v), value, StringComparison.OrdinalIgnoreCase)).Select(v => (T?)v).FirstOrDefault();
            if (match is null)
            {
                errors.Add(new FieldError(field, $"Must be {string.Join(", ", Enum.GetValues<T>().Select(Wire))}."));
            }

            return match;
        }
    }

    public static RouteGroupBuilder MapIngestionEndpoints(this RouteGroupBuilder api)
    {
        var issues = api.MapGroup("/ingestion/issues").WithTags("Ingestion").RequirePermission(Permission.ViewTraces);
        issues.MapGet("/", ListAsync)
            .WithName("ListIngestionIssues").WithSummary("What ingestion refused or adjusted in the last 7 days, newest first, keyset-paged");
        issues.MapGet("/summary", SummarizeAsync)
            .WithName("SummarizeIngestionIssues").WithSummary("Ingestion issues counted per door and kind, and per field and reason");
        return issues;
    }

    private static async Task<Ok<IssueListResponse>> ListAsync(
        IngestionIssueQueries queries, IIngestionIssueLog log, [AsParameters] IssueFilterParameters parameters, CancellationToken ct,
        [FromQuery] string? cursor = null, [FromQuery] string? limit = null)
    {
        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(errors);
        var size = IngestionIssueQueries.DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > IngestionIssueQueries.MaxPageSize))
        {
            errors.Add(new FieldError("limit", $"Must be a whole number from 1 to {IngestionIssueQueries.MaxPageSize}."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        await log.FlushAsync(ct);
        var page = await queries.ListAsync(filter, cursor, size, ct);
        return TypedResults.Ok(new IssueListResponse(page.Items.Select(ToResponse).ToList(), page.NextCursor));
    }

    private static async Task<Ok<SummaryResponse>> SummarizeAsync(
        IngestionIssueQueries queries, IIngestionIssueLog log, [AsParameters] IssueFilterParameters parameters, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(errors);
        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        await log.FlushAsync(ct);
        var summary = await queries.SummarizeAsync(filter, ct);
        return TypedResults.Ok(new SummaryResponse(
            summary.Since,
            summary.Totals.Select(t => new TotalResponse(Wire(t.Door), Wire(t.Kind), t.Count)).ToList(),
            summary.Groups.Select(g => new GroupResponse(Wire(g.Door), Wire(g.Kind), g.Field, g.Reason, g.Count, g.LastSeenAt)).ToList()));
    }

    /// <summary>Doors and kinds on the wire: one lower-case word (<c>api</c>, <c>langsmith</c>, <c>refused</c>).</summary>
    public static string Wire<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static IssueResponse ToResponse(IngestionIssueItem i) =>
        new(i.Id, Wire(i.Door), Wire(i.Kind), i.Field, i.Reason, i.TraceKey, i.SpanKey, i.Count, i.FirstSeenAt, i.LastSeenAt);
}
