namespace EvalPlatform.Core.Teams;

/// <summary>A member's role in a team, from least to most powerful.</summary>
public enum TeamRole
{
    Viewer = 0,
    Reviewer = 1,
    Admin = 2,
    Owner = 3,
}
