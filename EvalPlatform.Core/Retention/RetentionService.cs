using System.Globalization;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Retention;

/// <summary>The current team's trace retention: how many days traces are kept, or null for forever.</summary>
public sealed record RetentionSettings(int? KeepDays);

/// <summary>
/// The current team's trace retention setting (ADR 37): every member (and a <c>read</c> key) reads it; changing it needs
/// <see cref="Permission.ManageTeam"/> (Admins, Owners) and is recorded in the audit log as <c>team.retention_changed</c>
/// with the old and new value. The nightly <see cref="TracePurge"/> applies it.
/// </summary>
public sealed class RetentionService(IEvalDbContextFactory dbFactory, ITeamContext team, AuditLog audit)
{
    public const int MinDays = 1;

    /// <summary>Ten years: more is "forever" in practice, and a typo such as 36500 is caught.</summary>
    public const int MaxDays = 3_650;

    public async Task<RetentionSettings> GetAsync(CancellationToken ct = default)
    {
        var teamId = team.Can(Permission.ViewTraces) ? team.TeamId!.Value
            : throw new PermissionDeniedException("Reading the retention setting needs a team role, or an API key with the 'read' scope.");
        await using var db = await dbFactory.CreateAsync(ct);
        var days = await db.Teams.Where(t => t.Id == teamId).Select(t => new { t.TraceRetentionDays }).SingleOrDefaultAsync(ct)
            ?? throw new NotFoundException("No such team.");
        return new RetentionSettings(days.TraceRetentionDays);
    }

    /// <summary>Keeps traces <paramref name="keepDays"/> days (1 to 3650), or forever when null.</summary>
    public async Task<RetentionSettings> SetAsync(int? keepDays, CancellationToken ct = default)
    {
        var teamId = team.Can(Permission.ManageTeam) ? team.TeamId!.Value
            : throw new PermissionDeniedException("Changing how long traces are kept needs the Admin or Owner role.");
        if (keepDays is { } days && days is < MinDays or > MaxDays)
        {
            throw new DomainValidationException("keep_days", $"Keep traces from {MinDays} to {MaxDays} days, or leave it empty to keep them forever.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.Teams.SingleOrDefaultAsync(t => t.Id == teamId, ct) ?? throw new NotFoundException("No such team.");
        var before = row.TraceRetentionDays;
        if (before != keepDays)
        {
            row.TraceRetentionDays = keepDays;
            await db.SaveChangesAsync(ct);
            await audit.RecordAsync(AuditActions.RetentionChanged, "trace retention",
                new Dictionary<string, string?> { ["from"] = Text(before), ["to"] = Text(keepDays) }, ct);
        }

        return new RetentionSettings(keepDays);
    }

    /// <summary>"30 days" or "forever", as the audit log shows it.</summary>
    public static string Text(int? keepDays) => keepDays is { } d ? d.ToString(CultureInfo.InvariantCulture) + (d == 1 ? " day" : " days") : "forever";
}
