using Microsoft.AspNetCore.Identity;

namespace EvalPlatform.Data.Identity;

/// <summary>A person who signs in. Team membership and roles live in Core's <c>TeamMember</c>.</summary>
public sealed class ApplicationUser : IdentityUser
{
    public string? DisplayName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the user last signed in (set by the cookie's sign-in event), for the members page.</summary>
    public DateTimeOffset? LastSignInAt { get; set; }
}
