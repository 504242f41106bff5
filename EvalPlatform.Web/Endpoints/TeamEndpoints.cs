using System.Security.Claims;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>The key's own view of its team: whoami (any key) and the team's keys (admin scope).</summary>
public static class TeamEndpoints
{
    public sealed record WhoAmIResponse(Guid TeamId, string TeamName, Guid ApiKeyId, IReadOnlyList<string> Scopes);

    public sealed record ApiKeyResponse(
        Guid Id, string Name, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

    public static RouteGroupBuilder MapTeamEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/whoami", WhoAmI)
            .WithName("WhoAmI").WithSummary("The API key's team and scopes").WithTags("Teams")
            .RequireAuthorization(ApiPolicies.AnyKey);
        api.MapGet("/api-keys", ListApiKeysAsync)
            .WithName("ListApiKeys").WithSummary("The team's API keys (never the keys themselves)").WithTags("Teams")
            .RequirePermission(Permission.ManageApiKeys);
        return api;
    }

    private static Ok<WhoAmIResponse> WhoAmI(ClaimsPrincipal user, ITeamContext team) =>
        TypedResults.Ok(new WhoAmIResponse(
            team.TeamId!.Value,
            user.FindFirstValue(ApiKeyDefaults.TeamNameClaim) ?? "",
            team.ApiKeyId!.Value,
            ApiKeyScopesText.ToNames(team.Scopes)));

    private static async Task<Ok<List<ApiKeyResponse>>> ListApiKeysAsync(ApiKeyService keys, CancellationToken ct)
    {
        var list = await keys.ListAsync(ct);
        return TypedResults.Ok(list
            .Select(k => new ApiKeyResponse(k.Id, k.Name, k.Prefix, ApiKeyScopesText.ToNames(k.Scopes), k.CreatedAt, k.LastUsedAt, k.RevokedAt))
            .ToList());
    }
}
