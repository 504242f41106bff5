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

        return builder;
    }
}
