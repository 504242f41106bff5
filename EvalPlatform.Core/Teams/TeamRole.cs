namespace EvalPlatform.Core.Teams;

/// <summary>A member's role in a team, from least to most powerful.</summary>
public enum TeamRole
{
    Viewer = 0,
    Reviewer = 1,
    Admin = 2,
    Owner = 3,
}

/// <summary>The wire spelling of <see cref="TeamRole"/>: viewer, reviewer, admin, owner.</summary>
public static class TeamRoleText
{
    public static string Format(TeamRole role) => role switch
    {
        TeamRole.Viewer => "viewer",
        TeamRole.Reviewer => "reviewer",
        TeamRole.Admin => "admin",
        TeamRole.Owner => "owner",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };
}
