using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Experiments;

/// <summary>
/// A unit's assignment: the variant (null when the unit is not in the experiment) and its config (a JSON object), the shape of
/// the API's answer and of the SDKs' local <c>assign</c>.
/// </summary>
public sealed record ExperimentAssignmentResult(string Experiment, string UnitId, string? Variant, string? Config, bool InExperiment);

/// <summary>
/// Assigns units to the variants of the team's running experiments (ADR 27): the GrowthBook v2 hash of (key, unit id) into
/// the weights and coverage (<see cref="GrowthBookHash"/>), the first assignment stored and winning afterwards (sticky across
/// weight changes), each call counted as an exposure on the stored row. This is the one door for everything that assigns on
/// the server: the assign endpoint, and the LLM proxy, which calls <see cref="AssignAsync"/> and applies the variant's config.
/// </summary>
public sealed class ExperimentAssignments(IEvalDbContextFactory dbFactory, ITeamContext team, TimeProvider clock)
{
    public const int MaxUnitIdLength = 256;
    public const int MaxBatch = 1_000;

    /// <summary>Concurrent first assignments of the same units: each lost insert re-reads the winner's rows, at most this often.</summary>
    private const int MaxInsertAttempts = 4;

    /// <summary>
    /// The assignment of one unit; an experiment not running (draft, paused, stopped) answers not in the experiment. With
    /// <paramref name="attributes"/> (the unit's environment, model, provider, tag), a unit the experiment's targeting
    /// filters do not match is not in it either (and nothing is stored); without them the filters are not checked, as in the SDKs.
    /// </summary>
    public async Task<ExperimentAssignmentResult> AssignAsync(
        string experimentKey, string unitId, IReadOnlyDictionary<string, string?>? attributes = null, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(unitId))
        {
            throw new DomainValidationException("unit_id", "Required: the user id, session id or trace id the experiment splits on.");
        }

        return (await AssignCoreAsync(experimentKey, [unitId], "unit_id", attributes, ct))[0];
    }

    /// <summary>The assignments of up to <see cref="MaxBatch"/> units, in the order given (a repeated id answers alike, counted once); <paramref name="attributes"/> as in <see cref="AssignAsync"/>, for all of them.</summary>
    public Task<IReadOnlyList<ExperimentAssignmentResult>> AssignManyAsync(
        string experimentKey, IReadOnlyList<string?> unitIds, IReadOnlyDictionary<string, string?>? attributes = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(unitIds);
        if (unitIds.Count is 0 or > MaxBatch)
        {
            throw new DomainValidationException("unit_ids", $"From 1 to {MaxBatch} unit ids.");
        }

        for (var i = 0; i < unitIds.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(unitIds[i]))
            {
                throw new DomainValidationException($"unit_ids[{i}]", "Must be a non-empty string.");
            }
        }

        return AssignCoreAsync(experimentKey, unitIds!, "unit_ids", attributes, ct);
    }

    /// <summary>The running experiments of the team, for SDKs that assign locally (the definitions endpoint).</summary>
    public async Task<IReadOnlyList<Experiment>> RunningAsync(CancellationToken ct = default)
    {
        if (!(team.Can(Permission.IngestTraces) || team.Can(Permission.ViewTraces)))
        {
            throw new PermissionDeniedException("Experiment definitions need an API key with the 'ingest' or 'read' scope.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        return await db.Experiments.AsNoTracking().Where(e => e.Status == ExperimentStatus.Running).OrderBy(e => e.Key).ToListAsync(ct);
    }

    /// <summary>What the hash alone gives <paramref name="unitId"/> under the experiment's current weights and coverage (-1: not in it).</summary>
    public static int HashVariant(Experiment experiment, string unitId)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        var variants = experiment.Variants;
        var ranges = GrowthBookHash.BucketRanges(variants.Count, experiment.Coverage, variants.Select(v => v.Weight).ToList());
        return GrowthBookHash.ChooseVariant(GrowthBookHash.HashV2(experiment.Key, unitId), ranges);
    }

    /// <summary>Whether the unit's <paramref name="attributes"/> match every targeting filter of the experiment (a filter the attributes lack does not).</summary>
    public static bool IsTargeted(Experiment experiment, IReadOnlyDictionary<string, string?>? attributes)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        return attributes is null || experiment.Filters.ToDictionary()
            .All(f => attributes.TryGetValue(f.Key, out var value) && string.Equals(value, f.Value, StringComparison.Ordinal));
    }

    private async Task<IReadOnlyList<ExperimentAssignmentResult>> AssignCoreAsync(
        string key, IReadOnlyList<string> unitIds, string field, IReadOnlyDictionary<string, string?>? attributes, CancellationToken ct)
    {
        var teamId = team.Can(Permission.IngestTraces) && team.TeamId is { } id
            ? id
            : throw new PermissionDeniedException("Assigning units needs an API key with the 'ingest' scope.");
        for (var i = 0; i < unitIds.Count; i++)
        {
            if (unitIds[i].Length > MaxUnitIdLength)
            {
                throw new DomainValidationException(field == "unit_id" ? field : $"{field}[{i}]", $"At most {MaxUnitIdLength} characters.");
            }
        }

        Experiment experiment;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            experiment = await db.Experiments.AsNoTracking().SingleOrDefaultAsync(e => e.Key == key, ct)
                ?? throw new NotFoundException("No such experiment in this team.");
        }

        if (experiment.Status != ExperimentStatus.Running || !IsTargeted(experiment, attributes))
        {
            return unitIds.Select(u => new ExperimentAssignmentResult(experiment.Key, u, null, null, false)).ToList();
        }

        var variants = experiment.Variants.ToDictionary(v => v.Key, StringComparer.Ordinal);
        var assigned = await StickyVariantsAsync(experiment, teamId, unitIds.Distinct(StringComparer.Ordinal).ToList(), ct);
        return unitIds.Select(u => assigned.TryGetValue(u, out var v) && variants.TryGetValue(v, out var variant)
            ? new ExperimentAssignmentResult(experiment.Key, u, variant.Key, variant.Config, true)
            : new ExperimentAssignmentResult(experiment.Key, u, null, null, false)).ToList();
    }

    /// <summary>
    /// The stored variant of each unit that has one (its exposure counted), and for the others the hash's, stored now when it
    /// puts them in the experiment. Insert-if-absent then read: when a concurrent call stored some of the same units first,
    /// the insert fails as a whole, and the next attempt reads those units' stored rows, so every caller answers alike.
    /// </summary>
    private async Task<Dictionary<string, string>> StickyVariantsAsync(Experiment experiment, Guid teamId, List<string> unitIds, CancellationToken ct)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var pending = unitIds;
        for (var attempt = 1; pending.Count > 0; attempt++)
        {
            var now = clock.GetUtcNow();
            await using var db = await dbFactory.CreateAsync(ct);
            var stored = await db.ExperimentAssignments.AsNoTracking()
                .Where(a => a.ExperimentId == experiment.Id && pending.Contains(a.UnitId))
                .Select(a => new { a.UnitId, a.Variant }).ToListAsync(ct);
            if (stored.Count > 0)
            {
                var storedIds = stored.Select(s => s.UnitId).ToList();
                try
                {
                    await db.ExperimentAssignments.Where(a => a.ExperimentId == experiment.Id && storedIds.Contains(a.UnitId))
                        .ExecuteUpdateAsync(s => s.SetProperty(a => a.Exposures, a => a.Exposures + 1).SetProperty(a => a.LastExposedAt, now), ct);
                }
                catch (Exception e) when (attempt < MaxInsertAttempts && DatabaseFailures.IsTransient(e))
                {
                    // Two calls counting overlapping units lock their rows in the order each scan meets them, which can
                    // deadlock; the database cancels one statement, whose count then never happened: do this attempt again.
                    continue;
                }

                foreach (var s in stored)
                {
                    result[s.UnitId] = s.Variant;
                }
            }

            var variants = experiment.Variants;
            var fresh = new List<ExperimentAssignment>();
            foreach (var unit in pending.Where(u => !result.ContainsKey(u)).Order(StringComparer.Ordinal))
            {
                var index = HashVariant(experiment, unit);
                if (index >= 0)
                {
                    fresh.Add(new ExperimentAssignment
                    {
                        TeamId = teamId, ExperimentId = experiment.Id, UnitId = unit, Variant = variants[index].Key, AssignedAt = now, Exposures = 1,
                        FirstExposedAt = now, LastExposedAt = now,
                    });
                }
            }

            if (fresh.Count == 0)
            {
                break;
            }

            db.ExperimentAssignments.AddRange(fresh);
            try
            {
                await db.SaveChangesAsync(ct);
                foreach (var a in fresh)
                {
                    result[a.UnitId] = a.Variant;
                }

                break;
            }
            catch (DbUpdateException) when (attempt < MaxInsertAttempts)
            {
                // Another call stored some of these units first: read theirs on the next attempt.
                pending = fresh.Select(a => a.UnitId).ToList();
            }
        }

        return result;
    }
}
