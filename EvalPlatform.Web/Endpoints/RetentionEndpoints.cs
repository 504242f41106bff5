using EvalPlatform.Core.Retention;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's trace retention, read with a <c>read</c> key. It is changed under Settings → Team by an Admin or Owner:
/// changing it needs <c>ManageTeam</c>, which no key scope grants (ADR 37).
/// </summary>
public static class RetentionEndpoints
{
    /// <param name="KeepDays">Days traces are kept (1–3650), or null: forever.</param>
    public sealed record RetentionResponse(int? KeepDays);

    public static RouteGroupBuilder MapRetentionEndpoints(this RouteGroupBuilder api)
    {
        var retention = api.MapGroup("/team/retention").WithTags("Teams");
        retention.MapGet("/", GetAsync).RequireAuthorization(ApiPolicies.View)
            .WithName("GetTraceRetention").WithSummary("How many days the team's traces are kept (null: forever)");
        return retention;
    }

    private static async Task<Ok<RetentionResponse>> GetAsync(RetentionService service, CancellationToken ct) =>
        TypedResults.Ok(new RetentionResponse((await service.GetAsync(ct)).KeepDays));
}
