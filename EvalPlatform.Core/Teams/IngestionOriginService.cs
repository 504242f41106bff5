using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// A team's browser origins as Settings and the API show them: the team's own list, and the ones the server's configuration
/// allows for every team (<c>*</c> meaning any origin), which only an operator changes.
/// </summary>
public sealed record IngestionOriginSettings(IReadOnlyList<string> Origins, IReadOnlyList<string> ConfiguredOrigins);

/// <summary>
/// The browser origins allowed to send to the ingestion routes with the current team's keys (<see cref="Team.IngestionOrigins"/>):
/// read with <see cref="Permission.ViewTraces"/>, changed with <see cref="Permission.ManageApiKeys"/> (the team's ingestion
/// credentials: Admin and Owner), checked here and not only in the UI. Every change is stored in normal form
/// (<see cref="IngestionOrigin"/>) and evicts every node's <see cref="IngestionOriginCache"/>.
/// <see cref="GetSnapshotAsync"/> is the one read across teams (a preflight has no key, so no team): teams carry no query filter.
/// </summary>
public sealed class IngestionOriginService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IngestionOriginCache cache, ILiveBus liveBus, IOptions<IngestionCorsOptions> options, AuditLog audit, TimeProvider clock)
{
    public async Task<IngestionOriginSettings> GetAsync(CancellationToken ct = default)
    {
        var teamId = Require(Permission.ViewTraces, "Seeing the team's browser origins needs permission to view its traces.");
        await using var db = await dbFactory.CreateAsync(ct);
        var origins = await db.Teams.AsNoTracking().Where(t => t.Id == teamId).Select(t => t.IngestionOrigins).SingleOrDefaultAsync(ct)
            ?? throw new NotFoundException("The team no longer exists.");
        return new IngestionOriginSettings(origins, ConfiguredOrigins());
    }

    /// <summary>Replaces the list. Every entry is checked (errors by <c>origins[i]</c>, nothing changed when any is bad); repeats are kept once.</summary>
    public async Task<IngestionOriginSettings> ReplaceAsync(IReadOnlyList<string?> origins, CancellationToken ct = default)
    {
        Require(Permission.ManageApiKeys, ManageRefusal);
        var errors = new List<FieldError>();
        var normal = new List<string>();
        for (var i = 0; i < origins.Count; i++)
        {
            if (!IngestionOrigin.TryNormalize(origins[i], out var origin, out var error))
            {
                errors.Add(new FieldError($"origins[{i}]", error));
            }
            else if (!normal.Contains(origin, StringComparer.Ordinal))
            {
                normal.Add(origin);
            }
        }

        if (normal.Count > IngestionOrigin.MaxPerTeam)
        {
            errors.Add(new FieldError("origins", $"At most {IngestionOrigin.MaxPerTeam} origins per team (got {normal.Count})."));
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        return await ChangeAsync(_ => normal, ct);
    }

    /// <summary>Adds one origin (field <c>origin</c>); one already listed is a 400 saying so.</summary>
    public Task<IngestionOriginSettings> AddAsync(string? text, CancellationToken ct = default)
    {
        Require(Permission.ManageApiKeys, ManageRefusal);
        var origin = IngestionOrigin.Normalize("origin", text);
        return ChangeAsync(current =>
        {
            if (current.Contains(origin, StringComparer.Ordinal))
            {
                throw new DomainValidationException("origin", $"{origin} is already allowed.");
            }

            if (current.Count >= IngestionOrigin.MaxPerTeam)
            {
                throw new DomainValidationException("origin", $"At most {IngestionOrigin.MaxPerTeam} origins per team: remove one first.");
            }

            return [.. current, origin];
        }, ct);
    }

    /// <summary>Removes one origin; 404 when the team does not list it.</summary>
    public Task<IngestionOriginSettings> RemoveAsync(string origin, CancellationToken ct = default)
    {
        Require(Permission.ManageApiKeys, ManageRefusal);
        return ChangeAsync(current => current.Contains(origin, StringComparer.Ordinal)
            ? current.Where(o => !string.Equals(o, origin, StringComparison.Ordinal)).ToList()
            : throw new NotFoundException($"{origin} is not in this team's list."), ct);
    }

    /// <summary>
    /// Every team's origins, from this node's cache while it is fresh: a preflight or a browser's request costs no query.
    /// </summary>
    public async Task<IngestionOriginSnapshot> GetSnapshotAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        if (cache.TryGet(now, out var snapshot))
        {
            return snapshot;
        }

        var generation = cache.Generation;
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.Teams.AsNoTracking()
            .Where(t => t.IngestionOrigins.Count > 0)
            .Select(t => new { t.Id, t.IngestionOrigins })
            .ToListAsync(ct);
        snapshot = IngestionOriginSnapshot.Build(rows.Select(r => (r.Id, (IEnumerable<string>)r.IngestionOrigins)), now);
        cache.Set(snapshot, generation);
        return snapshot;
    }

    private const string ManageRefusal = "Changing the team's browser origins needs the Admin or Owner role (or an API key with the admin scope).";

    private async Task<IngestionOriginSettings> ChangeAsync(Func<List<string>, List<string>> change, CancellationToken ct)
    {
        var teamId = team.TeamId!.Value;
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.Teams.SingleOrDefaultAsync(t => t.Id == teamId, ct) ?? throw new NotFoundException("The team no longer exists.");
        var changed = change([.. row.IngestionOrigins]);
        if (!changed.SequenceEqual(row.IngestionOrigins, StringComparer.Ordinal))
        {
            var before = string.Join(' ', row.IngestionOrigins);
            // A new list, not the same one edited: EF compares primitive collections by value, and a fresh one is surely seen.
            row.IngestionOrigins = changed;
            await db.SaveChangesAsync(ct);
            cache.Invalidate();
            await liveBus.PublishAsync(new IngestionOriginsChanged(teamId), CancellationToken.None);
            await audit.RecordAsync(AuditActions.IngestionOriginsChanged, "browser origins",
                new Dictionary<string, string?> { ["before"] = before, ["after"] = string.Join(' ', changed) }, ct);
        }

        return new IngestionOriginSettings(changed, ConfiguredOrigins());
    }

    private List<string> ConfiguredOrigins() =>
        options.Value.AllowedOrigins
            .Select(o => o.Trim() == IngestionOrigin.Wildcard ? IngestionOrigin.Wildcard : IngestionOrigin.TryNormalize(o, out var n, out _) ? n : null)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .ToList();

    private Guid Require(Permission permission, string refusal) =>
        team.Can(permission) && team.TeamId is { } teamId ? teamId : throw new PermissionDeniedException(refusal);
}
