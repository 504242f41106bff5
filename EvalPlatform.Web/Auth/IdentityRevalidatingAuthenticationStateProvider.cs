using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace EvalPlatform.Web.Auth;

/// <summary>
/// Re-checks a circuit's user every minute, so a deleted user or a changed password
/// (new security stamp) ends open circuits too. Membership and role changes, password changes and "sign out
/// everywhere" reach open circuits at once through <c>MembersChanged</c> (see <c>TeamScope</c>); this is the backstop.
/// </summary>
internal sealed class IdentityRevalidatingAuthenticationStateProvider(ILoggerFactory loggerFactory, AccountSessions sessions)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromMinutes(1);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        sessions.IsCurrentAsync(authenticationState.User, cancellationToken);
}
