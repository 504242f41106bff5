using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace EvalPlatform.Web.Auth;

/// <summary>
/// API requests get RFC 7807 problem details for 401 and 403 (saying why, and which scope is
/// missing); pages keep the cookie scheme's redirect to the sign-in page.
/// </summary>
public sealed class ApiAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        var isApi = policy.AuthenticationSchemes.Contains(ApiKeyDefaults.Scheme);
        if (!isApi || authorizeResult.Succeeded)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        if (authorizeResult.Challenged)
        {
            var reason = context.Items[ApiKeyDefaults.FailureItem] as string ?? "An API key is required.";
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await Problems.WriteAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized", reason);
            return;
        }

        var failed = authorizeResult.AuthorizationFailure?.FailedRequirements.ToList() ?? [];
        var missing = failed.OfType<ClaimsAuthorizationRequirement>().SelectMany(r => r.AllowedValues ?? [])
            .Concat(failed.OfType<ApiPermissionRequirement>().SelectMany(r => r.GrantingScopes))
            .Distinct()
            .ToList();
        var detail = missing.Count switch
        {
            0 => "This API key may not do that.",
            1 => $"This API key lacks the '{missing[0]}' scope this endpoint needs.",
            _ => $"This API key lacks a scope this endpoint needs: one of '{string.Join("', '", missing)}'.",
        };
        await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden", detail);
    }
}
