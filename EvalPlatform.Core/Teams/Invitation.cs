using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// An invitation to join a team with a role: a single-use link that expires. Only the SHA-256 of the link's token is
/// stored; re-sending replaces the hash, so the old link stops working.
/// </summary>
public sealed class Invitation : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The address as the inviter typed it (trimmed).</summary>
    public required string Email { get; set; }

    /// <summary>Upper-cased <see cref="Email"/>, as Identity normalises it: the account that may accept.</summary>
    public required string NormalizedEmail { get; set; }

    /// <summary>Viewer, Reviewer or Admin: an Owner is made by transferring ownership, never by invitation.</summary>
    public TeamRole Role { get; set; }

    public required byte[] TokenHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the current link was issued (creation or the last re-send).</summary>
    public DateTimeOffset SentAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public string? CreatedByUserId { get; set; }
    public DateTimeOffset? AcceptedAt { get; set; }
    public string? AcceptedByUserId { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}
