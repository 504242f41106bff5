namespace EvalPlatform.Core.Tenancy;

/// <summary>
/// Thrown by <c>SaveChanges</c> when a team-owned row being added, changed or deleted belongs to a team other than the
/// current one (<see cref="ITeamContext.TeamId"/>) and the context was not told to allow it
/// (<see cref="Data.IEvalDbContext.AllowCrossTeamWrites"/>). Nothing is saved. A programming error, never a user's:
/// the handler answers 500 without details.
/// </summary>
public sealed class CrossTeamWriteException(string entity, Guid rowTeamId, Guid? currentTeamId)
    : InvalidOperationException(
        $"Refused to save a {entity} of team {rowTeamId} while acting for {(currentTeamId is { } id ? $"team {id}" : "no team")}; " +
        "a writer that crosses teams says so with AllowCrossTeamWrites().")
{
    public string Entity { get; } = entity;

    public Guid RowTeamId { get; } = rowTeamId;
}
