using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

public static class AccountEndpoints
{
    public static RouteGroupBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/account").WithTags("Account").ExcludeFromDescription();
        // [FromForm] makes the endpoint validate the antiforgery token: no cross-site sign-out.
        group.MapPost("/logout", LogoutAsync).WithName("Logout").WithSummary("Sign out and return to the sign-in page");
        return group;
    }

    private static async Task<RedirectHttpResult> LogoutAsync(SignInManager<ApplicationUser> signInManager, [FromForm] string? returnUrl)
    {
        await signInManager.SignOutAsync();
        return TypedResults.LocalRedirect("~/account/login");
    }
}
