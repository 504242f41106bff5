using EvalPlatform.Core.Teams;

namespace EvalPlatform.Web.Components.Layout;

/// <summary>The signed-in member's current team and their other teams, cascaded to every page.</summary>
public sealed record CurrentTeam(string UserId, string UserName, Membership Active, IReadOnlyList<Membership> All)
{
    public Guid TeamId => Active.TeamId;

    public bool Can(Permission permission) => TeamPermissions.RoleHas(Active.Role, permission);
}
