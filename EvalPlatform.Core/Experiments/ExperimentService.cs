using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Experiments;

/// <summary>What an Admin writes to create or change an experiment (the API's body, already parsed).</summary>
public sealed record ExperimentDefinition(
    string? Key, string? Name, string? Hypothesis, ExperimentUnit Unit, double Coverage, IReadOnlyList<ExperimentVariant> Variants,
    ExperimentMetric PrimaryMetric, IReadOnlyList<ExperimentMetric>? Guardrails = null, ExperimentFilters? Filters = null,
    double MinimumDetectableEffect = 0.05, double SignificanceLevel = 0.05);

/// <summary>
/// The team's experiments and their lifecycle (ADR 27): everyone in the team reads them (<see cref="Permission.ViewTraces"/>);
/// Admins, Owners and <c>admin</c> keys create, change, start, pause and stop them (<see cref="Permission.ManageExperiments"/>).
/// Every change is written to the experiment's history in the same save. The checks are here, not only in the UI.
/// </summary>
public sealed partial class ExperimentService(IEvalDbContextFactory dbFactory, ITeamContext team, IMemberDirectory members, TimeProvider clock)
{
    public const int MaxKeyLength = 100;
    public const int MaxNameLength = 200;
    public const int MaxHypothesisLength = 4_000;
    public const int MaxNoteLength = 4_000;
    public const int MaxVariants = 10;
    public const int MaxGuardrails = 10;
    public const int MaxConfigLength = 32 * 1024;
    public const int MaxExperimentsPerTeam = 500;

    /// <summary>How far the weights may be from adding up to 1 (GrowthBook itself falls back to equal weights past 0.99–1.01).</summary>
    public const double WeightTolerance = 0.001;

    public async Task<IReadOnlyList<Experiment>> ListAsync(CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.Experiments.AsNoTracking().ToListAsync(ct);
        return rows.OrderBy(e => e.Status == ExperimentStatus.Stopped).ThenByDescending(e => e.UpdatedAt).ToList();
    }

    public async Task<Experiment> GetAsync(string key, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.Experiments.AsNoTracking().SingleOrDefaultAsync(e => e.Key == key, ct) ?? throw NotFound();
    }

    /// <summary>The experiment's history, newest first.</summary>
    public async Task<IReadOnlyList<ExperimentChange>> HistoryAsync(string key, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var id = await db.Experiments.Where(e => e.Key == key).Select(e => (Guid?)e.Id).SingleOrDefaultAsync(ct) ?? throw NotFound();
        return await db.ExperimentChanges.AsNoTracking().Where(c => c.ExperimentId == id).OrderByDescending(c => c.Sequence).ToListAsync(ct);
    }

    public async Task<Experiment> CreateAsync(ExperimentDefinition definition, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var d = Validate(definition);
        var key = ValidateKey(d.Key);
        await using var db = await dbFactory.CreateAsync(ct);
        if (await db.Experiments.AnyAsync(e => e.Key == key, ct))
        {
            throw new DomainValidationException("key", "Another experiment of this team has that key.");
        }

        if (await db.Experiments.CountAsync(ct) >= MaxExperimentsPerTeam)
        {
            throw new DomainValidationException("key", $"A team may have at most {MaxExperimentsPerTeam} experiments.");
        }

        var now = clock.GetUtcNow();
        var experiment = new Experiment
        {
            Id = Uuid7.Create(now), TeamId = teamId, Key = key, Name = d.Name!, CreatedBy = team.UserId, CreatedAt = now, Status = ExperimentStatus.Draft,
        };
        Fill(experiment, d, now);
        db.Experiments.Add(experiment);
        db.ExperimentChanges.Add(Change(experiment, "created", $"Created with {d.Variants.Count} variants ({Weights(d.Variants)}).", await ActorAsync(ct), now));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Two creations of one key at once: the unique index let one through.
            if (await KeyTakenAsync(key, ct))
            {
                throw new DomainValidationException("key", "Another experiment of this team has that key.");
            }

            throw;
        }

        return experiment;
    }

    /// <summary>
    /// Replaces an experiment's definition. Once it has run, its key, unit and variant keys stay as they are (units already
    /// hold a variant); its weights, coverage, names, configs, metrics and filters may change. A stopped experiment is final.
    /// </summary>
    public async Task<Experiment> UpdateAsync(string key, ExperimentDefinition definition, CancellationToken ct = default)
    {
        RequireManage();
        var d = Validate(definition);
        await using var db = await dbFactory.CreateAsync(ct);
        var experiment = await db.Experiments.SingleOrDefaultAsync(e => e.Key == key, ct) ?? throw NotFound();
        if (experiment.Status == ExperimentStatus.Stopped)
        {
            throw new ConflictException("A stopped experiment cannot change.");
        }

        var newKey = d.Key is null ? experiment.Key : ValidateKey(d.Key);
        if (experiment.HasRun)
        {
            if (!string.Equals(newKey, experiment.Key, StringComparison.Ordinal))
            {
                throw new DomainValidationException("key", "The key cannot change once the experiment has run (it seeds the assignment).");
            }

            if (d.Unit != experiment.Unit)
            {
                throw new DomainValidationException("unit", "The unit cannot change once the experiment has run.");
            }

            if (!experiment.Variants.Select(v => v.Key).SequenceEqual(d.Variants.Select(v => v.Key), StringComparer.Ordinal))
            {
                throw new DomainValidationException("variants", "Variants cannot be added, removed, renamed (key) or reordered once the experiment has run; change their weights instead.");
            }
        }
        else if (!string.Equals(newKey, experiment.Key, StringComparison.Ordinal) && await db.Experiments.AnyAsync(e => e.Key == newKey, ct))
        {
            throw new DomainValidationException("key", "Another experiment of this team has that key.");
        }

        var before = Describe(experiment);
        experiment.Key = newKey;
        var now = clock.GetUtcNow();
        Fill(experiment, d, now);
        var after = Describe(experiment);
        var changes = before.Where(p => !string.Equals(after.GetValueOrDefault(p.Key), p.Value, StringComparison.Ordinal))
            .Select(p => $"{p.Key}: {p.Value} → {after[p.Key]}").ToList();
        if (changes.Count > 0)
        {
            db.ExperimentChanges.Add(Change(experiment, "updated", string.Join("; ", changes), await ActorAsync(ct), now));
        }

        await SaveChangeAsync(db, ct);
        return experiment;
    }

    /// <summary>Starts a draft, or resumes a paused experiment.</summary>
    public Task<Experiment> StartAsync(string key, CancellationToken ct = default) =>
        TransitionAsync(key, (e, now) =>
        {
            if (e.Status is not (ExperimentStatus.Draft or ExperimentStatus.Paused))
            {
                throw new ConflictException($"Only a draft or paused experiment can start; this one is {Wire(e.Status)}.");
            }

            var resumed = e.Status == ExperimentStatus.Paused;
            e.Status = ExperimentStatus.Running;
            e.StartedAt ??= now;
            return (resumed ? "resumed" : "started", null);
        }, ct);

    public Task<Experiment> PauseAsync(string key, CancellationToken ct = default) =>
        TransitionAsync(key, (e, _) =>
        {
            if (e.Status != ExperimentStatus.Running)
            {
                throw new ConflictException($"Only a running experiment can pause; this one is {Wire(e.Status)}.");
            }

            e.Status = ExperimentStatus.Paused;
            return ("paused", null);
        }, ct);

    /// <summary>Stops a running or paused experiment for good, with the decision (shipping names the variant) and a note.</summary>
    public Task<Experiment> StopAsync(string key, ExperimentDecision? decision, string? variant, string? note, CancellationToken ct = default)
    {
        if (decision is null)
        {
            throw new DomainValidationException("decision", "Required: ship, rollback or inconclusive.");
        }

        if (note is { Length: > MaxNoteLength })
        {
            throw new DomainValidationException("note", $"At most {MaxNoteLength} characters.");
        }

        return TransitionAsync(key, (e, now) =>
        {
            if (e.Status is not (ExperimentStatus.Running or ExperimentStatus.Paused))
            {
                throw new ConflictException($"Only a running or paused experiment can stop; this one is {Wire(e.Status)}.");
            }

            string? shipped = null;
            if (decision == ExperimentDecision.Ship)
            {
                shipped = e.Variants.FirstOrDefault(v => string.Equals(v.Key, variant, StringComparison.Ordinal))?.Key
                    ?? throw new DomainValidationException("variant", $"Shipping names the variant: one of {string.Join(", ", e.Variants.Select(v => v.Key))}.");
            }
            else if (!string.IsNullOrEmpty(variant))
            {
                throw new DomainValidationException("variant", "Only the decision 'ship' names a variant.");
            }

            e.Status = ExperimentStatus.Stopped;
            e.StoppedAt = now;
            e.Decision = decision;
            e.ShippedVariant = shipped;
            e.DecisionNote = string.IsNullOrWhiteSpace(note) ? null : note.Trim();
            var detail = decision switch
            {
                ExperimentDecision.Ship => $"Decision: ship {shipped}.",
                ExperimentDecision.Rollback => "Decision: roll back.",
                _ => "Decision: inconclusive.",
            };
            return ("stopped", e.DecisionNote is null ? detail : $"{detail} {e.DecisionNote}");
        }, ct);
    }

    public static string Wire(ExperimentStatus status) => status switch
    {
        ExperimentStatus.Draft => "draft",
        ExperimentStatus.Running => "running",
        ExperimentStatus.Paused => "paused",
        _ => "stopped",
    };

    public static string Wire(ExperimentUnit unit) => unit switch
    {
        ExperimentUnit.UserId => "user_id",
        ExperimentUnit.SessionId => "session_id",
        _ => "trace",
    };

    public static string Wire(ExperimentDecision decision) => decision switch
    {
        ExperimentDecision.Ship => "ship",
        ExperimentDecision.Rollback => "rollback",
        _ => "inconclusive",
    };

    public static bool TryParseUnit(string? text, out ExperimentUnit unit)
    {
        unit = text switch { "user_id" => ExperimentUnit.UserId, "session_id" => ExperimentUnit.SessionId, "trace" => ExperimentUnit.Trace, _ => (ExperimentUnit)(-1) };
        return unit >= 0;
    }

    public static bool TryParseDecision(string? text, out ExperimentDecision decision)
    {
        decision = text switch { "ship" => ExperimentDecision.Ship, "rollback" => ExperimentDecision.Rollback, "inconclusive" => ExperimentDecision.Inconclusive, _ => (ExperimentDecision)(-1) };
        return decision >= 0;
    }

    /// <summary>A key is an identifier: a letter or digit, then letters, digits, '.', '_' or '-', at most 100.</summary>
    public static bool IsValidKey(string? key) => key is not null && KeyPattern().IsMatch(key);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", RegexOptions.CultureInvariant)]
    private static partial Regex KeyPattern();

    private async Task<Experiment> TransitionAsync(string key, Func<Experiment, DateTimeOffset, (string Action, string? Detail)> change, CancellationToken ct)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var experiment = await db.Experiments.SingleOrDefaultAsync(e => e.Key == key, ct) ?? throw NotFound();
        var now = clock.GetUtcNow();
        var (action, detail) = change(experiment, now);
        experiment.UpdatedAt = now;
        db.ExperimentChanges.Add(Change(experiment, action, detail, await ActorAsync(ct), now));
        await SaveChangeAsync(db, ct);
        return experiment;
    }

    private static string ValidateKey(string? key)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            throw new DomainValidationException("key", "Required: an identifier such as checkout-test.");
        }

        return IsValidKey(key)
            ? key
            : throw new DomainValidationException("key", "An identifier: a letter or digit, then letters, digits, '.', '_' or '-' (at most 100).");
    }

    /// <summary>The definition checked and trimmed; every failure names its field (variants[1].weight, guardrails[0]…).</summary>
    public static ExperimentDefinition Validate(ExperimentDefinition d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var name = Require.Text("name", d.Name, MaxNameLength);
        var hypothesis = string.IsNullOrWhiteSpace(d.Hypothesis) ? null : d.Hypothesis.Trim();
        if (hypothesis is { Length: > MaxHypothesisLength })
        {
            throw new DomainValidationException("hypothesis", $"At most {MaxHypothesisLength} characters.");
        }

        if (!Enum.IsDefined(d.Unit))
        {
            throw new DomainValidationException("unit", "Must be user_id, session_id or trace.");
        }

        if (!double.IsFinite(d.Coverage) || d.Coverage is < 0 or > 1)
        {
            throw new DomainValidationException("coverage", "The share of units included, from 0 to 1.");
        }

        var variants = d.Variants ?? [];
        if (variants.Count < 2 || variants.Count > MaxVariants)
        {
            throw new DomainValidationException("variants", $"From 2 to {MaxVariants} variants; the first is the control.");
        }

        var clean = new List<ExperimentVariant>(variants.Count);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < variants.Count; i++)
        {
            var v = variants[i];
            var at = $"variants[{i}]";
            if (!IsValidKey(v.Key))
            {
                throw new DomainValidationException($"{at}.key", "An identifier: a letter or digit, then letters, digits, '.', '_' or '-' (at most 100).");
            }

            if (!keys.Add(v.Key))
            {
                throw new DomainValidationException($"{at}.key", $"Two variants have the key '{v.Key}'.");
            }

            var variantName = string.IsNullOrWhiteSpace(v.Name) ? v.Key : Require.Text($"{at}.name", v.Name, MaxNameLength);
            if (!double.IsFinite(v.Weight) || v.Weight is < 0 or > 1)
            {
                throw new DomainValidationException($"{at}.weight", "A share of traffic from 0 to 1.");
            }

            clean.Add(new ExperimentVariant(v.Key, variantName, v.Weight, ValidateConfig($"{at}.config", v.Config)));
        }

        var total = clean.Sum(v => v.Weight);
        if (Math.Abs(total - 1) > WeightTolerance)
        {
            throw new DomainValidationException("variants", $"The weights must add up to 1; they add up to {total.ToString("0.###", CultureInfo.InvariantCulture)}.");
        }

        var guardrails = (d.Guardrails ?? []).ToList();
        if (guardrails.Count > MaxGuardrails)
        {
            throw new DomainValidationException("guardrails", $"At most {MaxGuardrails} guardrail metrics.");
        }

        for (var i = 0; i < guardrails.Count; i++)
        {
            if (guardrails[i] == d.PrimaryMetric || guardrails.Take(i).Contains(guardrails[i]))
            {
                throw new DomainValidationException($"guardrails[{i}]", "Each guardrail once, and not the primary metric.");
            }
        }

        var f = d.Filters ?? new ExperimentFilters();
        f = new ExperimentFilters(Filter("environment", f.Environment), Filter("model", f.Model), Filter("provider", f.Provider), Filter("tag", f.Tag));
        if (!double.IsFinite(d.MinimumDetectableEffect) || d.MinimumDetectableEffect <= 0 || d.MinimumDetectableEffect > 10)
        {
            throw new DomainValidationException("minimum_detectable_effect", "The relative effect to detect, above 0 (0.05 = 5 %), at most 10.");
        }

        if (!double.IsFinite(d.SignificanceLevel) || d.SignificanceLevel <= 0 || d.SignificanceLevel > 0.5)
        {
            throw new DomainValidationException("significance_level", "Alpha, above 0 and at most 0.5 (0.05 is usual).");
        }

        return d with { Name = name, Hypothesis = hypothesis, Variants = clean, Guardrails = guardrails, Filters = f };
    }

    /// <summary>A variant's config: a JSON object (model, system prompt, parameters), at most 32 KB; empty is {}.</summary>
    public static string ValidateConfig(string field, string? config)
    {
        if (string.IsNullOrWhiteSpace(config))
        {
            return "{}";
        }

        if (config.Length > MaxConfigLength)
        {
            throw new DomainValidationException(field, $"At most {MaxConfigLength / 1024} KB of JSON.");
        }

        try
        {
            using var doc = JsonDocument.Parse(config);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? doc.RootElement.GetRawText()
                : throw new DomainValidationException(field, "Must be a JSON object, e.g. {\"model\": \"gpt-4o\", \"temperature\": 0.2}.");
        }
        catch (JsonException e)
        {
            throw new DomainValidationException(field, $"Not valid JSON: {e.Message.Split(" Path:", 2)[0]}");
        }
    }

    private static string? Filter(string field, string? value) => Require.Filter(field, value, IngestionLimits.MaxShortText);

    private static void Fill(Experiment e, ExperimentDefinition d, DateTimeOffset now)
    {
        e.Name = d.Name!;
        e.Hypothesis = d.Hypothesis;
        e.Unit = d.Unit;
        e.Coverage = d.Coverage;
        e.VariantsJson = ExperimentJson.WriteVariants(d.Variants);
        e.FiltersJson = ExperimentJson.WriteFilters(d.Filters ?? new ExperimentFilters());
        e.PrimaryMetric = d.PrimaryMetric.Wire;
        e.GuardrailsJson = ExperimentJson.WriteMetrics(d.Guardrails ?? []);
        e.MinimumDetectableEffect = d.MinimumDetectableEffect;
        e.SignificanceLevel = d.SignificanceLevel;
        e.UpdatedAt = now;
    }

    /// <summary>The experiment's fields in words, to write what an update changed.</summary>
    private static Dictionary<string, string> Describe(Experiment e) => new(StringComparer.Ordinal)
    {
        ["key"] = e.Key,
        ["name"] = e.Name,
        ["hypothesis"] = e.Hypothesis ?? "(none)",
        ["unit"] = Wire(e.Unit),
        ["coverage"] = e.Coverage.ToString("0.###", CultureInfo.InvariantCulture),
        ["variants"] = string.Join(", ", e.Variants.Select(v => v.Key)),
        ["weights"] = Weights(e.Variants),
        ["configs"] = string.Join(" | ", e.Variants.Select(v => v.Config)),
        ["primary_metric"] = e.PrimaryMetric,
        ["guardrails"] = string.Join(", ", e.Guardrails.Select(g => g.Wire)),
        ["filters"] = string.Join(", ", e.Filters.ToDictionary().Select(p => $"{p.Key}={p.Value}")),
        ["minimum_detectable_effect"] = e.MinimumDetectableEffect.ToString(CultureInfo.InvariantCulture),
        ["significance_level"] = e.SignificanceLevel.ToString(CultureInfo.InvariantCulture),
    };

    private static string Weights(IEnumerable<ExperimentVariant> variants) =>
        string.Join("/", variants.Select(v => v.Weight.ToString("0.###", CultureInfo.InvariantCulture)));

    /// <summary>The history row of a change, numbered by the experiment's next version.</summary>
    private static ExperimentChange Change(Experiment e, string action, string? detail, string actor, DateTimeOffset now) => new()
    {
        Id = Uuid7.Create(now), TeamId = e.TeamId, ExperimentId = e.Id, At = now, Sequence = ++e.Version, Actor = actor, Action = action,
        Detail = detail is { Length: > 4000 } ? detail[..4000] : detail,
    };

    /// <summary>Saves a change; a concurrent change of the same experiment (same version) committed first is a conflict.</summary>
    private static async Task SaveChangeAsync(IEvalDbContext db, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            throw new ConflictException("The experiment changed meanwhile; reload it and try again.");
        }
    }

    private async Task<string> ActorAsync(CancellationToken ct) =>
        team.UserId is { } user ? await members.FindNameAsync(user, ct) ?? user
            : team.ApiKeyId is { } key ? $"API key {key}" : "someone";

    private async Task<bool> KeyTakenAsync(string key, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.Experiments.AnyAsync(e => e.Key == key, ct);
    }

    private Guid RequireView() => team.Can(Permission.ViewTraces) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Reading experiments needs an API key with the 'read' scope.");

    private Guid RequireManage() => team.Can(Permission.ManageExperiments) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Managing experiments needs an Admin, or an API key with the 'admin' scope.");

    private static NotFoundException NotFound() => new("No such experiment in this team.");
}
