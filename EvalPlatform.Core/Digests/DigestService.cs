using System.Globalization;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Digests;

/// <summary>
/// The current team's time zone and daily digest settings: everyone with a role (or a <c>read</c> key) reads them;
/// changing them and previewing the digest needs <see cref="Permission.ManageNotifications"/> (Admins, Owners, <c>admin</c> keys).
/// </summary>
public sealed class DigestService(IEvalDbContextFactory dbFactory, ITeamContext team, DigestBuilder builder, TimeProvider clock)
{
    public static readonly TimeOnly DefaultTime = new(9, 0);

    public async Task<DigestSettings> GetAsync(CancellationToken ct = default)
    {
        var teamId = team.Can(Permission.ViewTraces) ? team.TeamId!.Value
            : throw new PermissionDeniedException("Reading the digest settings needs a team role, or an API key with the 'read' scope.");
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.Teams.AsNoTracking().SingleOrDefaultAsync(t => t.Id == teamId, ct) ?? throw new NotFoundException("No such team.");
        return ToSettings(row);
    }

    public async Task<DigestSettings> UpdateAsync(DigestSettingsInput input, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var teamId = RequireManage();
        var zone = input.TimeZone is null ? null : LocalDays.FindZone(input.TimeZone);
        var time = input.Time is null ? (TimeOnly?)null : ParseTime(input.Time);
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.Teams.SingleOrDefaultAsync(t => t.Id == teamId, ct) ?? throw new NotFoundException("No such team.");
        if (zone is not null)
        {
            row.TimeZone = zone.Id;
        }

        if (time is { } t)
        {
            row.DigestTime = t;
        }

        if (input.Enabled is { } enabled)
        {
            row.DigestEnabled = enabled;
        }

        await db.SaveChangesAsync(ct);
        return ToSettings(row);
    }

    /// <summary>
    /// Yesterday's digest (in the team's time zone) as it would be sent now, without sending anything; null when the team
    /// has never had a trace (then no digest is sent either).
    /// </summary>
    public async Task<DailyDigest?> PreviewAsync(CancellationToken ct = default)
    {
        RequireManage();
        var settings = await GetAsync(ct);
        var zone = LocalDays.FindZone(settings.TimeZone);
        return await builder.BuildAsync(LocalDays.DateAt(clock.GetUtcNow(), zone).AddDays(-1), zone, ct);
    }

    /// <summary>
    /// "HH:mm", 00:00 to 23:59 (a browser's time input may add seconds, "08:30:00": they are dropped); else a 400 naming
    /// <c>time</c>.
    /// </summary>
    public static TimeOnly ParseTime(string text) =>
        TimeOnly.TryParseExact(text?.Trim(), ["HH:mm", "H:mm", "HH:mm:ss", "HH:mm:ss.FFFFFFF"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            ? new TimeOnly(time.Hour, time.Minute)
            : throw new DomainValidationException("time", "A local time of day as HH:mm, such as 09:00 or 17:30.");

    public static string FormatTime(TimeOnly time) => time.ToString("HH:mm", CultureInfo.InvariantCulture);

    private DigestSettings ToSettings(Team row)
    {
        DateTimeOffset? next = null;
        if (row.DigestEnabled)
        {
            try
            {
                next = LocalDays.NextAt(clock.GetUtcNow(), LocalDays.FindZone(row.TimeZone), row.DigestTime);
            }
            catch (DomainValidationException)
            {
                // A zone this machine's time zone database no longer knows: shown as stored, with no next time.
            }
        }

        return new DigestSettings(row.TimeZone, row.DigestEnabled, row.DigestTime, next);
    }

    private Guid RequireManage() =>
        team.Can(Permission.ManageNotifications) ? team.TeamId!.Value
            : throw new PermissionDeniedException("Changing the daily digest needs the Admin or Owner role, or an API key with the 'admin' scope.");
}
