using System.Security.Claims;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Traces;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Export of a filtered set of traces with their review, as JSON Lines or CSV, streamed: by API
/// key (<c>GET /api/v1/traces/export</c>) and for a signed-in member from the trace list
/// (<c>GET /traces/export?team=…</c>, the download link on the page).
/// </summary>
public static class ExportEndpoints
{
    public static RouteGroupBuilder MapExportEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/traces/export", ExportByKeyAsync).RequirePermission(Permission.ViewTraces).WithTags("Traces")
            .WithName("ExportTraces")
            .WithSummary("The traces a filter gives, with their review, as JSON Lines (format=jsonl) or CSV (format=csv), streamed")
            .Produces(StatusCodes.Status200OK, contentType: "application/x-ndjson", additionalContentTypes: ["text/csv"]);
        return api;
    }

    public static IEndpointRouteBuilder MapExportDownload(this IEndpointRouteBuilder app)
    {
        app.MapGet("/traces/export", DownloadAsync).RequireAuthorization().ExcludeFromDescription();
        return app;
    }

    private static Task<EmptyHttpResult> ExportByKeyAsync(
        HttpContext http, TraceQueries queries, AuditLog audit, TimeProvider clock, ILoggerFactory logs, [AsParameters] TraceFilterParameters filter,
        [FromQuery] string? format, CancellationToken ct) =>
        ExportAsync(http, queries, audit, clock, logs, filter, format, ct);

    private static async Task<EmptyHttpResult> DownloadAsync(
        HttpContext http, TeamService teams, TeamContext teamContext, TraceQueries queries, AuditLog audit, TimeProvider clock, ILoggerFactory logs,
        [AsParameters] TraceFilterParameters filter, [FromQuery] string? format, [FromQuery] Guid? team, CancellationToken ct)
    {
        var userId = http.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new PermissionDeniedException("Sign in to export traces.");
        var memberships = await teams.GetMembershipsAsync(userId, ct);
        var membership = (team is { } id ? memberships.FirstOrDefault(m => m.TeamId == id) : memberships.Count > 0 ? memberships[0] : null)
            ?? throw new NotFoundException("You are not a member of that team.");
        teamContext.SetMember(membership.TeamId, userId, membership.Role);
        return await ExportAsync(http, queries, audit, clock, logs, filter, format, ct);
    }

    private static async Task<EmptyHttpResult> ExportAsync(
        HttpContext http, TraceQueries queries, AuditLog audit, TimeProvider clock, ILoggerFactory logs, TraceFilterParameters parameters, string? format,
        CancellationToken ct)
    {
        var errors = new List<FieldError>();
        var filter = parameters.ToFilter(errors);
        if (!TraceExportWriter.TryParseFormat(format, out var exportFormat))
        {
            errors.Add(new FieldError("format", "Must be jsonl or csv."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        // Checks the permission before the first byte goes out, so a refusal is still a problem response.
        var items = queries.ExportAsync(filter, ct);
        http.Response.ContentType = TraceExportWriter.ContentType(exportFormat);
        http.Response.Headers[HeaderNames.ContentDisposition] = new ContentDispositionHeaderValue("attachment")
        {
            FileName = TraceExportWriter.FileName(exportFormat, clock.GetUtcNow()),
        }.ToString();
        http.Response.Headers[HeaderNames.CacheControl] = "no-store";
        var count = await TraceExportWriter.WriteAsync(http.Response.BodyWriter, exportFormat, items, ct);
        logs.CreateLogger(typeof(ExportEndpoints)).LogInformation("Exported {Count} traces as {Format}", count, exportFormat);
        await audit.RecordAsync(AuditActions.TracesExported, $"{count} traces", new Dictionary<string, string?>
        {
            ["format"] = format ?? "jsonl",
            ["filter"] = http.Request.QueryString.HasValue ? http.Request.QueryString.Value : null,
        }, CancellationToken.None);
        return TypedResults.Empty;
    }
}
