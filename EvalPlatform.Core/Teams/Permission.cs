namespace EvalPlatform.Core.Teams;

/// <summary>Everything a member or a key can be allowed to do in a team.</summary>
public enum Permission
{
    ViewTraces,
    IngestTraces,
    ReviewTraces,
    ManageApiKeys,
    ManageTeam,
}
