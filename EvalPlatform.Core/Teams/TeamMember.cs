using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Teams;

/// <summary>A user's membership of a team, with their role there.</summary>
public sealed class TeamMember : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string UserId { get; set; }
    public TeamRole Role { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the user last chose this team in the app bar; the newest is their current team.</summary>
    public DateTimeOffset? LastSelectedAt { get; set; }
}
