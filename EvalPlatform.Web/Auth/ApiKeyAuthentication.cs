using System.Security.Claims;
using System.Text.Encodings.Web;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Auth;

/// <summary>Names shared by the API key scheme, its claims and its policies.</summary>
public static class ApiKeyDefaults
{
    public const string Scheme = "ApiKey";
    public const string HeaderName = "x-api-key";
    public const string TeamIdClaim = "team_id";
    public const string TeamNameClaim = "team_name";
    public const string KeyIdClaim = "api_key_id";
    public const string ScopeClaim = "scope";

    /// <summary>Where the handler leaves the reason a key was refused, for the 401 problem body.</summary>
    internal const string FailureItem = "ApiKeyFailure";
}

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>x-api-key: &lt;key&gt;</c> and binds the
/// request's <see cref="TeamContext"/> to the key's team: the team never comes from the body.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyAuthenticator authenticator,
    TeamContext teamContext)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = ReadKey(Request);
        if (presented is null)
        {
            return Fail("Send an API key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.");
        }

        var check = await authenticator.CheckAsync(presented, Context.RequestAborted);
        switch (check.Result)
        {
            case ApiKeyCheckResult.Revoked:
                return Fail("This API key has been revoked.");
            case ApiKeyCheckResult.Malformed:
            case ApiKeyCheckResult.Unknown:
                return Fail("Unknown API key.");
        }

        teamContext.SetApiKey(check.TeamId, check.KeyId, check.Scopes);
        var claims = new List<Claim>
        {
            new(ApiKeyDefaults.TeamIdClaim, check.TeamId.ToString()),
            new(ApiKeyDefaults.TeamNameClaim, check.TeamName ?? ""),
            new(ApiKeyDefaults.KeyIdClaim, check.KeyId.ToString()),
        };
        claims.AddRange(ApiKeyScopesText.ToNames(check.Scopes).Select(s => new Claim(ApiKeyDefaults.ScopeClaim, s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, ApiKeyDefaults.Scheme));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, ApiKeyDefaults.Scheme));
    }

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[ApiKeyDefaults.FailureItem] = reason;
        return AuthenticateResult.Fail(reason);
    }

    private static string? ReadKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        var header = request.Headers[ApiKeyDefaults.HeaderName].ToString();
        return string.IsNullOrWhiteSpace(header) ? null : header.Trim();
    }
}
