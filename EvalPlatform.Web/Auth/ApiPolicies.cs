using EvalPlatform.Core.Teams;
using Microsoft.AspNetCore.Authorization;

namespace EvalPlatform.Web.Auth;

/// <summary>The API's authorization policies: any valid key, or a key holding one scope.</summary>
public static class ApiPolicies
{
    public const string AnyKey = "api:any";
    public const string Ingest = "api:ingest";
    public const string Read = "api:read";
    public const string Admin = "api:admin";

    /// <summary>Any scope the permission table says may review (<c>review</c>, <c>admin</c>).</summary>
    public const string Review = "api:review";

    /// <summary>Any scope the permission table says may view the team's traces and settings (<c>read</c>, <c>admin</c>).</summary>
    public const string View = "api:view";

    /// <summary>A key that ingests or one that views (<c>ingest</c>, <c>read</c>, <c>admin</c>): the experiment definitions SDKs fetch.</summary>
    public const string IngestOrView = "api:ingest-or-view";

    public static AuthorizationBuilder AddApiPolicies(this AuthorizationBuilder builder)
    {
        builder.AddPolicy(AnyKey, p => p.AddAuthenticationSchemes(ApiKeyDefaults.Scheme).RequireAuthenticatedUser());
        foreach (var (name, scope) in new[] { (Ingest, ApiKeyScopes.Ingest), (Read, ApiKeyScopes.Read), (Admin, ApiKeyScopes.Admin) })
        {
            builder.AddPolicy(name, p => p
                .AddAuthenticationSchemes(ApiKeyDefaults.Scheme)
                .RequireAuthenticatedUser()
                .RequireClaim(ApiKeyDefaults.ScopeClaim, ApiKeyScopesText.Format(scope)));
        }

        var reviewScopes = TeamPermissions.ScopesGranting(Permission.ReviewTraces).Select(ApiKeyScopesText.Format).ToArray();
        builder.AddPolicy(Review, p => p
            .AddAuthenticationSchemes(ApiKeyDefaults.Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(ApiKeyDefaults.ScopeClaim, reviewScopes));

        var viewScopes = TeamPermissions.ScopesGranting(Permission.ViewTraces).Select(ApiKeyScopesText.Format).ToArray();
        builder.AddPolicy(View, p => p
            .AddAuthenticationSchemes(ApiKeyDefaults.Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(ApiKeyDefaults.ScopeClaim, viewScopes));

        var ingestOrViewScopes = TeamPermissions.ScopesGranting(Permission.IngestTraces).Concat(TeamPermissions.ScopesGranting(Permission.ViewTraces))
            .Distinct().Select(ApiKeyScopesText.Format).ToArray();
        builder.AddPolicy(IngestOrView, p => p
            .AddAuthenticationSchemes(ApiKeyDefaults.Scheme)
            .RequireAuthenticatedUser()
            .RequireClaim(ApiKeyDefaults.ScopeClaim, ingestOrViewScopes));
        return builder;
    }
}
