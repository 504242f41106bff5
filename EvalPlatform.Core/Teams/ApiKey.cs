using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// A team-scoped API key. Only <see cref="Prefix"/> (to find it) and the SHA-256 <see cref="Hash"/>
/// of the whole key are stored; the key itself is shown once, when it is created.
/// </summary>
public sealed class ApiKey : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string Name { get; set; }
    public required string Prefix { get; set; }
    public required byte[] Hash { get; set; }
    public ApiKeyScopes Scopes { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedByUserId { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    public bool IsRevoked => RevokedAt is not null;
}
