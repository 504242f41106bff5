using Microsoft.AspNetCore.Identity;

namespace EvalPlatform.Data.Identity;

/// <summary>A person who signs in. Team membership and roles live in Core's <c>TeamMember</c>.</summary>
public sealed class ApplicationUser : IdentityUser
{
    public string? DisplayName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
