using System.ComponentModel.DataAnnotations;

namespace EvalPlatform.Web.Auth;

/// <summary>The <c>Auth</c> section: sign-in hardening an operator may tune.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    [Range(1, 100)]
    public int LockoutMaxFailedAttempts { get; set; } = 5;

    [Range(1, 24 * 60)]
    public int LockoutMinutes { get; set; } = 15;

    /// <summary>
    /// How often (seconds) a sign-in cookie is checked against the account's security stamp. 0 (the default) checks it
    /// on every request, so "sign out everywhere" and a password change end sessions on every node at once.
    /// </summary>
    [Range(0, 3600)]
    public int SessionValidationSeconds { get; set; }

    /// <summary>
    /// <c>SameAsRequest</c> (default: secure over HTTPS, so a plain-HTTP localhost install still
    /// works) or <c>Always</c> (set it behind TLS: the cookies are then also named with the <c>__Host-</c> prefix).
    /// </summary>
    public Microsoft.AspNetCore.Http.CookieSecurePolicy CookieSecure { get; set; } = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
}
