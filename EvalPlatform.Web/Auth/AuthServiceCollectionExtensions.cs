using EvalPlatform.Data;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Identity;

namespace EvalPlatform.Web.Auth;

public static class AuthServiceCollectionExtensions
{
    /// <summary>Cookie sign-in for people (ASP.NET Core Identity), API keys for programs.</summary>
    public static WebApplicationBuilder AddEvalAuth(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<AuthenticationStateProvider, IdentityRevalidatingAuthenticationStateProvider>();
        builder.Services.AddSingleton<AccountSessions>();

        builder.Services
            .AddAuthentication(o =>
            {
                o.DefaultScheme = IdentityConstants.ApplicationScheme;
                o.DefaultSignInScheme = IdentityConstants.ExternalScheme;
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyDefaults.Scheme, configureOptions: null)
            .AddIdentityCookies();

        // Behind TLS (CookieSecure = Always) the cookies carry the __Host- prefix: the browser then keeps them only if they are
        // Secure, for the whole site (Path=/) and for this host alone (no Domain), so a sibling subdomain cannot set or shadow them.
        var prefix = options.CookieSecure == CookieSecurePolicy.Always ? "__Host-" : "";
        builder.Services.ConfigureApplicationCookie(o =>
        {
            o.LoginPath = "/account/login";
            o.LogoutPath = "/account/logout";
            o.AccessDeniedPath = "/account/login";
            o.Cookie.Name = prefix + "evalplatform.auth";
            o.Cookie.Path = "/";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = options.CookieSecure;
            o.ExpireTimeSpan = TimeSpan.FromHours(12);
            o.SlidingExpiration = true;
            o.Events.OnSignedIn = RecordSignInAsync;
        });
        builder.Services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = TimeSpan.FromSeconds(options.SessionValidationSeconds));
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = prefix + "evalplatform.antiforgery";
            o.Cookie.Path = "/";
            o.Cookie.SecurePolicy = options.CookieSecure;
        });

        builder.Services.AddAuthorizationBuilder().AddApiPolicies();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ApiAuthorizationResultHandler>();
        builder.Services.AddEvalIdentityCore(options).AddSignInManager<AuditingSignInManager>();
        return builder;
    }

    /// <summary>Every sign-in (password, invitation, after a password change) stamps the account's last sign-in.</summary>
    private static async Task RecordSignInAsync(Microsoft.AspNetCore.Authentication.Cookies.CookieSignedInContext context)
    {
        var users = context.HttpContext.RequestServices.GetRequiredService<UserManager<ApplicationUser>>();
        if (context.Principal is { } principal && await users.GetUserAsync(principal) is { } user)
        {
            user.LastSignInAt = context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
            await users.UpdateAsync(user);
        }
    }

    /// <summary>
    /// PBKDF2-HMAC-SHA512 iterations for stored passwords: OWASP's current figure (ASVS 11.4.2), above the framework's
    /// 100,000. A password stored with fewer is rehashed at its next sign-in.
    /// </summary>
    public const int PasswordHashIterations = 210_000;

    /// <summary>Users, passwords and lockout: shared by the server and the admin commands.</summary>
    public static IdentityBuilder AddEvalIdentityCore(this IServiceCollection services, AuthOptions options) =>
        services
            .Configure<PasswordHasherOptions>(o => o.IterationCount = PasswordHashIterations)
            .AddIdentityCore<ApplicationUser>(o =>
            {
                o.User.RequireUniqueEmail = true;
                o.SignIn.RequireConfirmedAccount = false;
                // Length over composition rules (NIST SP 800-63B): at least 12 characters, not all alike.
                o.Password.RequiredLength = 12;
                o.Password.RequiredUniqueChars = 5;
                o.Password.RequireDigit = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireNonAlphanumeric = false;
                o.Lockout.AllowedForNewUsers = true;
                o.Lockout.MaxFailedAccessAttempts = options.LockoutMaxFailedAttempts;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(options.LockoutMinutes);
            })
            .AddEntityFrameworkStores<EvalDbContext>()
            .AddDefaultTokenProviders();
}
