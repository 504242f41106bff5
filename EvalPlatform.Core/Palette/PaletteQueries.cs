using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Palette;

/// <summary>One thing the command palette can jump to: its id, the text shown and a line under it.</summary>
public sealed record PaletteHit(Guid Id, string Title, string? Detail, string? Key = null);

/// <summary>
/// The command palette's look-ups in the current team (the query filters scope every set to it): a trace by its id or
/// its exact external id, and queues, experiments and evaluators by a part of their name, without case. Each answers at
/// most the asked number of hits and needs <see cref="Permission.ViewTraces"/>, as the pages they lead to do.
/// </summary>
public sealed class PaletteQueries(IEvalDbContextFactory dbFactory, ITeamContext team)
{
    public const int DefaultLimit = 5;

    /// <summary>The longest term looked up: longer input is no name or id anyone types.</summary>
    public const int MaxTermLength = 200;

    /// <summary>Traces whose id is <paramref name="term"/> or whose external id is exactly it (external ids are unique per team).</summary>
    public async Task<IReadOnlyList<PaletteHit>> TracesAsync(string term, int limit = DefaultLimit, CancellationToken ct = default)
    {
        if (!Prepare(ref term))
        {
            return [];
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var query = db.Traces.AsNoTracking();
        query = Guid.TryParse(term, out var id)
            ? query.Where(t => t.Id == id || t.ExternalId == term)
            : query.Where(t => t.ExternalId == term);
        return await query.OrderByDescending(t => t.SortKey).Take(limit)
            .Select(t => new PaletteHit(t.Id, t.Name ?? t.ExternalId ?? "Trace", t.ExternalId ?? t.InputPreview, t.ExternalId))
            .ToListAsync(ct);
    }

    public async Task<IReadOnlyList<PaletteHit>> QueuesAsync(string term, int limit = DefaultLimit, CancellationToken ct = default)
    {
        if (!Prepare(ref term))
        {
            return [];
        }

        var lower = term.ToLowerInvariant();
        await using var db = await dbFactory.CreateAsync(ct);
#pragma warning disable CA1304, CA1311, CA1862 // ToLower() is translated to SQL lower() on both providers; no culture is involved
        return await db.ReviewQueues.AsNoTracking().Where(q => q.Name.ToLower().Contains(lower))
            .OrderBy(q => q.Name).Take(limit)
            .Select(q => new PaletteHit(q.Id, q.Name, null, null))
            .ToListAsync(ct);
    }

    /// <summary>Experiments by name or key; <see cref="PaletteHit.Key"/> is the key their pages are addressed by.</summary>
    public async Task<IReadOnlyList<PaletteHit>> ExperimentsAsync(string term, int limit = DefaultLimit, CancellationToken ct = default)
    {
        if (!Prepare(ref term))
        {
            return [];
        }

        var lower = term.ToLowerInvariant();
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.Experiments.AsNoTracking().Where(e => e.Name.ToLower().Contains(lower) || e.Key.ToLower().Contains(lower))
            .OrderBy(e => e.Name).Take(limit)
            .Select(e => new PaletteHit(e.Id, e.Name, e.Key, e.Key))
            .ToListAsync(ct);
    }

    public async Task<IReadOnlyList<PaletteHit>> EvaluatorsAsync(string term, int limit = DefaultLimit, CancellationToken ct = default)
    {
        if (!Prepare(ref term))
        {
            return [];
        }

        var lower = term.ToLowerInvariant();
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.Evaluators.AsNoTracking().Where(e => e.Name.ToLower().Contains(lower))
            .OrderBy(e => e.Name).Take(limit)
            .Select(e => new PaletteHit(e.Id, e.Name, e.Model, null))
            .ToListAsync(ct);
#pragma warning restore CA1304, CA1311, CA1862
    }

    /// <summary>Checks the permission and trims the term; false when there is nothing to look up.</summary>
    private bool Prepare(ref string term)
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Looking things up needs a team role, or an API key with the 'read' scope.");
        }

        term = (term ?? "").Trim();
        return term.Length is > 0 and <= MaxTermLength;
    }
}
