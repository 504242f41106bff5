using System.Globalization;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>The team's audit log (scope <c>admin</c>): who did what, newest first, keyset-paged.</summary>
public static class AuditEndpoints
{
    public sealed record AuditEntryResponse(
        Guid Id, DateTimeOffset At, string Actor, string? ActorId, string Action, string? Target, IReadOnlyDictionary<string, string?> Details);

    public sealed record AuditPageResponse(IReadOnlyList<AuditEntryResponse> Items, string? NextCursor);

    public static RouteGroupBuilder MapAuditEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/audit-log", ListAsync).RequirePermission(Permission.ViewAuditLog).WithTags("Teams")
            .WithName("ListAuditLog").WithSummary("The team's audit log, newest first, filtered by action, actor, target and time, keyset-paged");
        return api;
    }

    private static async Task<Ok<AuditPageResponse>> ListAsync(
        AuditLog audit, CancellationToken ct, [FromQuery] string? action = null, [FromQuery] string? actor = null, [FromQuery] string? target = null,
        [FromQuery] string? from = null, [FromQuery] string? to = null, [FromQuery] string? cursor = null, [FromQuery] string? limit = null)
    {
        var errors = new List<FieldError>();
        var filter = new AuditFilter(action, actor, target, TraceFilterParameters.ParseTime("from", from, errors), TraceFilterParameters.ParseTime("to", to, errors));
        var size = 50;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > AuditLog.MaxPageSize))
        {
            errors.Add(new FieldError("limit", $"Must be a whole number from 1 to {AuditLog.MaxPageSize}."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        var page = await audit.ListAsync(filter, cursor, size, ct);
        return TypedResults.Ok(new AuditPageResponse(page.Items.Select(ToResponse).ToList(), page.NextCursor));
    }

    public static AuditEntryResponse ToResponse(AuditEntry e) => new(e.Id, e.At, e.Actor, e.ActorId, e.Action, e.Target, AuditLog.ReadDetails(e));
}
