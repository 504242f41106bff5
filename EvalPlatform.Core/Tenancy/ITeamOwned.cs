namespace EvalPlatform.Core.Tenancy;

/// <summary>
/// A row that belongs to one team. Every such entity gets a global query filter bound to the
/// current team (see <see cref="ITeamContext"/>) and indexes that lead with <see cref="TeamId"/>.
/// </summary>
public interface ITeamOwned
{
    Guid TeamId { get; }
}
