using System.Security.Claims;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Auth;

/// <summary>
/// Whether a signed-in principal's session is still good (the account exists and its security stamp is the one the
/// cookie carries), and telling open pages on every node that a user's sessions were ended. The circuit's revalidation
/// and <c>TeamScope</c> ask the first; password changes and "sign out everywhere" do the second.
/// </summary>
public sealed class AccountSessions(IServiceScopeFactory scopeFactory, IOptions<IdentityOptions> options, ILiveBus liveBus)
{
    public async Task<bool> IsCurrentAsync(ClaimsPrincipal principal, CancellationToken ct = default)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var user = await users.GetUserAsync(principal);
        if (user is null)
        {
            return false;
        }

        var principalStamp = principal.FindFirstValue(options.Value.ClaimsIdentity.SecurityStampClaimType);
        return principalStamp == await users.GetSecurityStampAsync(user);
    }

    /// <summary>The user's open pages, in each of their teams, re-check at once (and find their session ended).</summary>
    public async Task AnnounceEndedAsync(string userId, CancellationToken ct = default)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var memberships = await scope.ServiceProvider.GetRequiredService<TeamService>().GetMembershipsAsync(userId, ct);
        foreach (var membership in memberships)
        {
            await liveBus.PublishAsync(new MembersChanged(membership.TeamId, [userId]), ct);
        }
    }
}
