using EvalPlatform.Core.Teams;
using Microsoft.AspNetCore.Authorization;

namespace EvalPlatform.Web.Auth;

/// <summary>
/// The API's authorization policies: any valid key (<see cref="AnyKey"/>), or one policy per <see cref="Permission"/>
/// (<see cref="For"/>) that asks <see cref="TeamPermissions"/> whether the key's scopes grant it. No policy is named
/// after a scope: which scopes may do what lives in the table alone (ADR 38).
/// </summary>
public static class ApiPolicies
{
    public const string AnyKey = "api:any";

    private const string PermissionPrefix = "api:permission:";

    /// <summary>The policy a key passes when its scopes grant <paramref name="permission"/>.</summary>
    public static string For(Permission permission) => PermissionPrefix + permission;

    public static AuthorizationBuilder AddApiPolicies(this AuthorizationBuilder builder)
    {
        builder.AddPolicy(AnyKey, p => p.AddAuthenticationSchemes(ApiKeyDefaults.Scheme).RequireAuthenticatedUser());
        foreach (var permission in Enum.GetValues<Permission>())
        {
            builder.AddPolicy(For(permission), Build([permission]));
        }

        builder.Services.AddSingleton<IAuthorizationHandler, ApiPermissionHandler>();
        return builder;
    }

    /// <summary>A key-only policy passed when the key's scopes grant any one of <paramref name="anyOf"/>.</summary>
    internal static AuthorizationPolicy Build(IReadOnlyList<Permission> anyOf) =>
        new AuthorizationPolicyBuilder(ApiKeyDefaults.Scheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new ApiPermissionRequirement(anyOf))
            .Build();
}

/// <summary>The API key's scopes must grant at least one of <see cref="AnyOf"/> in <see cref="TeamPermissions"/>.</summary>
public sealed class ApiPermissionRequirement(IReadOnlyList<Permission> anyOf) : IAuthorizationRequirement
{
    public IReadOnlyList<Permission> AnyOf { get; } = anyOf;

    /// <summary>Each scope that on its own would pass, narrowest first: named in the 403's detail.</summary>
    public IReadOnlyList<string> GrantingScopes { get; } =
        anyOf.SelectMany(TeamPermissions.ScopesGranting).Distinct().Select(ApiKeyScopesText.Format).ToArray();
}

/// <summary>Reads the key's scopes from its claims (set by <see cref="ApiKeyAuthenticationHandler"/>) and asks the table.</summary>
public sealed class ApiPermissionHandler : AuthorizationHandler<ApiPermissionRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ApiPermissionRequirement requirement)
    {
        var keyIdentity = context.User.Identities.FirstOrDefault(i => i.IsAuthenticated && i.AuthenticationType == ApiKeyDefaults.Scheme);
        if (keyIdentity is not null)
        {
            var scopes = keyIdentity.FindAll(ApiKeyDefaults.ScopeClaim)
                .Aggregate(ApiKeyScopes.None, (all, claim) => ApiKeyScopesText.TryParse(claim.Value, out var one, out _) ? all | one : all);
            if (requirement.AnyOf.Any(p => TeamPermissions.ScopesHave(scopes, p)))
            {
                context.Succeed(requirement);
            }
        }

        return Task.CompletedTask;
    }
}

/// <summary><c>.RequirePermission(Permission.ViewTraces)</c> on an API route or group.</summary>
public static class ApiPermissionConventions
{
    /// <summary>The route needs an API key whose scopes grant <paramref name="permission"/> (the per-permission policy).</summary>
    public static TBuilder RequirePermission<TBuilder>(this TBuilder builder, Permission permission)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ApiPolicies.For(permission));

    /// <summary>The route needs an API key whose scopes grant at least one of <paramref name="anyOf"/>.</summary>
    public static TBuilder RequireAnyPermission<TBuilder>(this TBuilder builder, params Permission[] anyOf)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ApiPolicies.Build(anyOf));
}
