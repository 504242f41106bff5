using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Auth;

/// <summary>
/// Identity's sign-in, with each password sign-in of a known account written to the audit log of every team the person
/// belongs to: signed in, failed, or locked out. A sign-in with an unknown e-mail has no team to tell; it is logged only.
/// </summary>
public sealed class AuditingSignInManager(
    UserManager<ApplicationUser> userManager,
    IHttpContextAccessor contextAccessor,
    IUserClaimsPrincipalFactory<ApplicationUser> claimsFactory,
    IOptions<IdentityOptions> optionsAccessor,
    ILogger<SignInManager<ApplicationUser>> logger,
    IAuthenticationSchemeProvider schemes,
    IUserConfirmation<ApplicationUser> confirmation,
    TeamService teams,
    IEvalDbContextFactory dbFactory,
    TimeProvider clock)
    : SignInManager<ApplicationUser>(userManager, contextAccessor, claimsFactory, optionsAccessor, logger, schemes, confirmation)
{
    public override async Task<SignInResult> PasswordSignInAsync(ApplicationUser user, string password, bool isPersistent, bool lockoutOnFailure)
    {
        var result = await base.PasswordSignInAsync(user, password, isPersistent, lockoutOnFailure);
        var action = result.Succeeded ? AuditActions.SignedIn : result.IsLockedOut ? AuditActions.LockedOut : AuditActions.SignInFailed;
        var memberships = await teams.GetMembershipsAsync(user.Id);
        var address = Context.Connection.RemoteIpAddress?.ToString();
        var actor = user.Email ?? user.UserName ?? user.Id;
        await AuditLog.AppendAsync(
            dbFactory, clock, Logger, memberships.Select(m => m.TeamId).ToList(), user.Id, actor, action, actor,
            new Dictionary<string, string?> { ["ip"] = address }, CancellationToken.None);
        return result;
    }
}
