using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Reviews;

/// <summary>A team's review configuration: its score scale and its rejection reasons, in order.</summary>
public sealed record ReviewConfig(ScoreScale Scale, IReadOnlyList<RejectionReason> Reasons)
{
    public RejectionReason? FindReason(string? key) => key is null ? null : Reasons.FirstOrDefault(r => r.Key == key);

    /// <summary>A reason's label, or its key when the reason has since been removed.</summary>
    public string? ReasonLabel(string? key) => key is null ? null : FindReason(key)?.Label ?? key;

    public string ScoreLabel(double? score) => score is { } s ? ReviewScores.Label(Scale, s) : "";
}

/// <summary>
/// The current team's review settings. Anyone who may read or review traces reads them; only
/// members with <see cref="Permission.ManageTeam"/> (Admins, Owners) change them, checked here.
/// A team without settings gets the defaults on first read (existing teams included), so every
/// team has them without a data migration.
/// </summary>
public sealed class ReviewSettingsService(IEvalDbContextFactory dbFactory, ITeamContext team, AuditLog audit, TimeProvider clock, Caching.SettingsCache cache)
{
    public const int MaxLabelLength = 100;
    public const int MaxDescriptionLength = 500;

    /// <summary>The reasons every team starts with.</summary>
    public static readonly IReadOnlyList<(string Label, string Description)> DefaultReasons =
    [
        ("Hallucination", "States facts, sources or results that are not true or not in the context."),
        ("Incorrect tool call", "Called the wrong tool, or the right one with wrong arguments, or ignored its result."),
        ("Unsafe or policy violation", "Harmful, insecure or against the usage policy."),
        ("Off-topic", "Does not answer what was asked."),
        ("Formatting", "Right content in the wrong shape: markup, length, language or structure."),
        ("Incomplete", "Stops short, or leaves part of the request unanswered."),
    ];

    public async Task<ReviewConfig> GetAsync(CancellationToken ct = default)
    {
        var teamId = team.TeamId;
        if (teamId is null || !(team.Can(Permission.ViewTraces) || team.Can(Permission.ReviewTraces)))
        {
            throw new PermissionDeniedException("Reading review settings needs a team role, or an API key with the 'read' or 'review' scope.");
        }

        // Read on every review page and review call: cached per team on every node, dropped on every change (ADR 48).
        return await cache.GetOrLoadAsync(CacheName, teamId.Value, async token =>
        {
            await using var db = await dbFactory.CreateAsync(token);
            return await LoadAsync(db, teamId.Value, clock, token);
        }, ct);
    }

    /// <summary>The settings' name in <see cref="Caching.SettingsCache"/> (and in the cache metrics).</summary>
    public const string CacheName = "review_settings";

    /// <summary>After a committed change: every node drops its copy, then the caller gets the settings as they now are.</summary>
    private async Task<ReviewConfig> ChangedAsync(IEvalDbContext db, Guid teamId, CancellationToken ct)
    {
        await cache.InvalidateAsync(CacheName, teamId, ct);
        return await LoadAsync(db, teamId, clock, ct);
    }

    public async Task<ReviewConfig> SetScaleAsync(ScoreScale scale, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        if (!Enum.IsDefined(scale))
        {
            throw new DomainValidationException("score_scale", "Choose good_bad, one_to_five or zero_to_one.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        await LoadAsync(db, teamId, clock, ct);
        var settings = await db.ReviewSettings.SingleAsync(ct);
        var before = settings.ScoreScale;
        settings.ScoreScale = scale;
        settings.UpdatedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        if (before != scale)
        {
            await audit.RecordAsync(AuditActions.ScoreScaleChanged, "score scale",
                new Dictionary<string, string?> { ["from"] = ReviewScores.Wire(before), ["to"] = ReviewScores.Wire(scale) }, ct);
        }

        return await ChangedAsync(db, teamId, ct);
    }

    public async Task<ReviewConfig> AddReasonAsync(string label, string? description, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var name = Require.Text("label", label, MaxLabelLength);
        var text = Optional("description", description, MaxDescriptionLength);
        await using var db = await dbFactory.CreateAsync(ct);
        var config = await LoadAsync(db, teamId, clock, ct);
        RequireUniqueLabel(config, name, except: null);
        var baseKey = ReviewScores.KeyOf(name) is { Length: > 0 } k ? k : "reason";
        var key = baseKey;
        for (var n = 2; config.Reasons.Any(r => r.Key == key) || await db.Traces.AnyAsync(t => t.ReviewReason == key, ct); n++)
        {
            // A removed reason's key may still be on traces: a new reason must not inherit them.
            key = $"{baseKey}_{n}";
        }

        db.RejectionReasons.Add(new RejectionReason
        {
            Id = Uuid7.Create(clock.GetUtcNow()), TeamId = teamId, Key = key, Label = name, Description = text,
            Position = config.Reasons.Count == 0 ? 0 : config.Reasons.Max(r => r.Position) + 1, CreatedAt = clock.GetUtcNow(),
        });
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.RejectionReasonAdded, name, new Dictionary<string, string?> { ["key"] = key }, ct);
        return await ChangedAsync(db, teamId, ct);
    }

    /// <summary>Renames or redescribes a reason; its key (on traces and in the API) stays.</summary>
    public async Task<ReviewConfig> UpdateReasonAsync(Guid id, string label, string? description, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var name = Require.Text("label", label, MaxLabelLength);
        var text = Optional("description", description, MaxDescriptionLength);
        await using var db = await dbFactory.CreateAsync(ct);
        var config = await LoadAsync(db, teamId, clock, ct);
        RequireUniqueLabel(config, name, except: id);
        var reason = await db.RejectionReasons.SingleOrDefaultAsync(r => r.Id == id, ct) ?? throw new NotFoundException("No such rejection reason in this team.");
        var before = reason.Label;
        reason.Label = name;
        reason.Description = text;
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.RejectionReasonChanged, name,
            new Dictionary<string, string?> { ["key"] = reason.Key, ["label_before"] = before }, ct);
        return await ChangedAsync(db, teamId, ct);
    }

    /// <summary>Moves a reason one place up (-1) or down (+1).</summary>
    public async Task<ReviewConfig> MoveReasonAsync(Guid id, int direction, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        await LoadAsync(db, teamId, clock, ct);
        var reasons = await db.RejectionReasons.OrderBy(r => r.Position).ToListAsync(ct);
        var index = reasons.FindIndex(r => r.Id == id);
        if (index < 0)
        {
            throw new NotFoundException("No such rejection reason in this team.");
        }

        var target = index + Math.Sign(direction);
        if (target >= 0 && target < reasons.Count)
        {
            (reasons[index], reasons[target]) = (reasons[target], reasons[index]);
            for (var i = 0; i < reasons.Count; i++)
            {
                reasons[i].Position = i;
            }

            await db.SaveChangesAsync(ct);
        }

        return await ChangedAsync(db, teamId, ct);
    }

    /// <summary>Removes a reason from the list. Traces rejected with it keep its key, shown as is.</summary>
    public async Task<ReviewConfig> RemoveReasonAsync(Guid id, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var config = await LoadAsync(db, teamId, clock, ct);
        var reason = await db.RejectionReasons.SingleOrDefaultAsync(r => r.Id == id, ct) ?? throw new NotFoundException("No such rejection reason in this team.");
        if (config.Reasons.Count <= 1)
        {
            throw new DomainValidationException("reasons", "A team needs at least one rejection reason: add another before removing this one.");
        }

        db.RejectionReasons.Remove(reason);
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.RejectionReasonRemoved, reason.Label, new Dictionary<string, string?> { ["key"] = reason.Key }, ct);
        return await ChangedAsync(db, teamId, ct);
    }

    /// <summary>
    /// Reads the team's settings, creating the defaults first when the team has none. Used by the
    /// review service too (whose caller may hold only the review permission). Two first reads at
    /// once race on the settings' key; the loser reads what the winner wrote.
    /// </summary>
    internal static async Task<ReviewConfig> LoadAsync(IEvalDbContext db, Guid teamId, TimeProvider clock, CancellationToken ct)
    {
        var settings = await db.ReviewSettings.AsNoTracking().SingleOrDefaultAsync(ct);
        if (settings is null)
        {
            await SeedDefaultsAsync(db, teamId, clock, ct);
            settings = await db.ReviewSettings.AsNoTracking().SingleAsync(ct);
        }

        var reasons = await db.RejectionReasons.AsNoTracking().OrderBy(r => r.Position).ThenBy(r => r.Label).ToListAsync(ct);
        return new ReviewConfig(settings.ScoreScale, reasons);
    }

    private static async Task SeedDefaultsAsync(IEvalDbContext db, Guid teamId, TimeProvider clock, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var settings = new ReviewSettings { TeamId = teamId, ScoreScale = ScoreScale.GoodBad, UpdatedAt = now };
        var reasons = DefaultReasons.Select((r, i) => new RejectionReason
        {
            Id = Uuid7.Create(now), TeamId = teamId, Key = ReviewScores.KeyOf(r.Label), Label = r.Label, Description = r.Description,
            Position = i, CreatedAt = now,
        }).ToList();
        try
        {
            // The settings row first, on its own: its key (the team) admits one seeder. The others wait
            // on it and then fail there, before touching the reasons' keys, so two first reads can
            // neither deadlock over the reasons nor leave half a set.
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            db.ReviewSettings.Add(settings);
            await db.SaveChangesAsync(ct);
            db.RejectionReasons.AddRange(reasons);
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Someone else seeded this team a moment ago (their commit is what failed our key); theirs stands.
            db.ReviewSettings.Entry(settings).State = EntityState.Detached;
            foreach (var reason in reasons)
            {
                db.RejectionReasons.Entry(reason).State = EntityState.Detached;
            }

            if (!await db.ReviewSettings.AnyAsync(ct))
            {
                throw;
            }
        }
    }

    private static void RequireUniqueLabel(ReviewConfig config, string label, Guid? except)
    {
        if (config.Reasons.Any(r => r.Id != except && string.Equals(r.Label, label, StringComparison.OrdinalIgnoreCase)))
        {
            throw new DomainValidationException("label", $"There is already a reason called '{label}'.");
        }
    }

    private static string? Optional(string field, string? value, int maxLength)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            return null;
        }

        return trimmed.Length > maxLength ? throw new DomainValidationException(field, $"'{field}' must be at most {maxLength} characters.") : trimmed;
    }

    private Guid RequireManage()
    {
        if (!team.Can(Permission.ManageTeam) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Changing review settings needs the Admin or Owner role.");
        }

        return teamId;
    }
}
