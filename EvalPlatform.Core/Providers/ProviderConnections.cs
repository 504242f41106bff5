using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Providers;

/// <summary>
/// The current team's connections, decrypted for a call. No permission beyond being the team: the proxy (an
/// <c>ingest</c> key), the playground and the judges all call with the team's connections; only managing them needs
/// <c>ManageProviders</c> (the provider service).
/// </summary>
public sealed class ProviderConnections(IEvalDbContextFactory dbFactory, ITeamContext team, IProviderKeyProtector protector) : IProviderConnections
{
    public async Task<ResolvedProvider?> ResolveAsync(ProviderKind kind, string? name, CancellationToken ct)
    {
        if (team.TeamId is not { } teamId)
        {
            return null;
        }

        var kinds = kind == ProviderKind.Anthropic ? new[] { ProviderKind.Anthropic } : [ProviderKind.OpenAi, ProviderKind.OpenAiCompatible];
        await using var db = await dbFactory.CreateAsync(ct);
        var query = db.ProviderConnections.AsNoTracking().Where(c => kinds.Contains(c.Kind));
        if (!string.IsNullOrWhiteSpace(name))
        {
            var wanted = name.Trim();
            query = query.Where(c => c.Name == wanted);
        }

        // Oldest first; ids are UUIDv7 (time-ordered) so two made in the same tick still have a stable order.
        var rows = await query.ToListAsync(ct);
        var row = rows.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).FirstOrDefault();
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
