using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Providers;

/// <summary>
/// The current team's connections, decrypted for a call. No permission beyond being the team: the proxy (an
/// <c>ingest</c> key), the playground and the judges all call with the team's connections; only managing them needs
/// <c>ManageProviders</c> (the provider service). The proxy resolves a connection on every call, so the team's list (keys
/// still encrypted) is in the settings cache, dropped on every node when the provider service changes it (ADR 48).
/// </summary>
public sealed class ProviderConnections(IEvalDbContextFactory dbFactory, ITeamContext team, IProviderKeyProtector protector, Caching.SettingsCache cache) : IProviderConnections
{
    /// <summary>The connections' name in <see cref="Caching.SettingsCache"/> (and in the cache metrics).</summary>
    public const string CacheName = "provider_connections";

    /// <summary>The cache entry of a team's connections.</summary>
    public static string CacheKey(Guid teamId) => Caching.SettingsCache.Key(CacheName, teamId);

    public async Task<ResolvedProvider?> ResolveAsync(ProviderKind kind, string? name, CancellationToken ct)
    {
        if (team.TeamId is not { } teamId)
        {
            return null;
        }

        var kinds = kind == ProviderKind.Anthropic ? new[] { ProviderKind.Anthropic } : [ProviderKind.OpenAi, ProviderKind.OpenAiCompatible];
        var rows = await cache.GetOrLoadAsync(CacheName, teamId, async token =>
        {
            await using var db = await dbFactory.CreateAsync(token);
            return (await db.ProviderConnections.AsNoTracking().Where(c => c.TeamId == teamId).ToListAsync(token)).ToArray();
        }, ct);
        var wanted = string.IsNullOrWhiteSpace(name) ? null : name.Trim();

        // Oldest first; ids are UUIDv7 (time-ordered) so two made in the same tick still have a stable order.
        var row = rows.Where(c => kinds.Contains(c.Kind) && (wanted is null || c.Name == wanted))
            .OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).FirstOrDefault();
        return row is null ? null : Resolve(teamId, row);
    }

    public async Task<ResolvedProvider?> FindAsync(Guid connectionId, CancellationToken ct)
    {
        if (team.TeamId is not { } teamId)
        {
            return null;
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.ProviderConnections.AsNoTracking().SingleOrDefaultAsync(c => c.Id == connectionId, ct);
        return row is null ? null : Resolve(teamId, row);
    }

    private ResolvedProvider Resolve(Guid teamId, ProviderConnection row) =>
        new(row.Id, row.Kind, row.Name, new Uri(row.BaseUrl), protector.Unprotect(teamId, row.ProtectedApiKey));
}
