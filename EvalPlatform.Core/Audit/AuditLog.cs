using System.Data.Common;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Audit;

/// <summary>
/// What to list: each filter optional. <see cref="Action"/> matches a whole action or its subject (<c>api_key</c>);
/// <see cref="Actor"/> and <see cref="Target"/> match a part, as written (e-mails and names are compared as stored).
/// </summary>
public sealed record AuditFilter(string? Action = null, string? Actor = null, string? Target = null, DateTimeOffset? From = null, DateTimeOffset? To = null);

/// <summary>A page of entries, newest first, with the cursor of the next (older) page.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Items, string? NextCursor);

/// <summary>
/// The current team's audit log: services record what they changed after the change is stored; Admins, Owners and
/// <c>admin</c> keys read it (<see cref="Permission.ViewAuditLog"/>). Entries are never changed or deleted.
/// </summary>
public sealed partial class AuditLog(IEvalDbContextFactory dbFactory, ITeamContext team, IMemberDirectory members, TimeProvider clock, ILogger<AuditLog> log)
{
    public const int MaxPageSize = 200;
    public const int MaxActorLength = 256;
    public const int MaxActionLength = 64;
    public const int MaxTargetLength = 512;
    public const int MaxDetailsLength = 4_000;

    /// <summary>
    /// Records <paramref name="action"/> by the current actor (member or key) in the current team. Called after the
    /// change it records is stored; an entry that cannot be stored is logged, never thrown at the action that succeeded.
    /// </summary>
    public async Task RecordAsync(string action, string? target, IReadOnlyDictionary<string, string?>? details = null, CancellationToken ct = default)
    {
        var teamId = team.TeamId ?? throw new InvalidOperationException("An audit entry needs a team.");
        var (actorId, actor) = await DescribeActorAsync(ct);
        await AppendAsync(dbFactory, clock, log, [teamId], actorId, actor, action, target, details, ct);
    }

    /// <summary>Records an action in <paramref name="teamId"/> by an actor who is not (yet) acting in it: a person joining by invitation.</summary>
    public Task RecordAsAsync(Guid teamId, string? actorId, string actor, string action, string? target, IReadOnlyDictionary<string, string?>? details, CancellationToken ct) =>
        AppendAsync(dbFactory, clock, log, [teamId], actorId, actor, action, target, details, ct);

    /// <summary>
    /// Records an action in each of <paramref name="teamIds"/> for an actor the team context does not know (a sign-in,
    /// an operator's command): the one way entries are stored.
    /// </summary>
    public static async Task AppendAsync(
        IEvalDbContextFactory dbFactory, TimeProvider clock, ILogger log, IReadOnlyCollection<Guid> teamIds,
        string? actorId, string actor, string action, string? target, IReadOnlyDictionary<string, string?>? details, CancellationToken ct)
    {
        if (teamIds.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow();
        var detailsJson = details is { Count: > 0 } ? Truncate(JsonSerializer.Serialize(details), MaxDetailsLength) : null;
        try
        {
            await using var db = await dbFactory.CreateAsync(ct);
            // Entries name their teams explicitly (a sign-in is recorded in each of the user's teams).
            db.AllowCrossTeamWrites();
            foreach (var teamId in teamIds)
            {
                db.AuditEntries.Add(new AuditEntry
                {
                    Id = Uuid7.Create(now),
                    TeamId = teamId,
                    At = now,
                    Actor = Truncate(actor, MaxActorLength),
                    ActorId = actorId,
                    Action = action,
                    Target = target is null ? null : Truncate(target, MaxTargetLength),
                    Details = detailsJson,
                });
            }

            await db.SaveChangesAsync(ct);
        }
        catch (Exception e) when (e is DbUpdateException or DbException or TimeoutException)
        {
            LogNotStored(log, e, action, actor);
        }
    }

    /// <summary>The team's entries, newest first. The cursor is the last entry's id (ids are time-ordered UUIDv7).</summary>
    public async Task<AuditPage> ListAsync(AuditFilter filter, string? cursor = null, int limit = 50, CancellationToken ct = default)
    {
        if (!team.Can(Permission.ViewAuditLog))
        {
            throw new PermissionDeniedException("Only Admins and Owners (or an admin key) can read the audit log.");
        }

        if (limit is < 1 or > MaxPageSize)
        {
            throw new DomainValidationException("limit", $"Must be from 1 to {MaxPageSize}.");
        }

        if (filter.From is { } from && filter.To is { } to && to < from)
        {
            throw new DomainValidationException("to", "'to' must not be before 'from'.");
        }

        var action = Require.Filter("action", filter.Action, MaxActionLength);
        var actor = Require.Filter("actor", filter.Actor, MaxActorLength);
        var target = Require.Filter("target", filter.Target, MaxTargetLength);

        await using var db = await dbFactory.CreateAsync(ct);
        var query = db.AuditEntries.AsNoTracking();
        if (action is not null)
        {
            var subject = action + ".";
            query = query.Where(e => e.Action == action || e.Action.StartsWith(subject));
        }

        if (actor is not null)
        {
            query = query.Where(e => e.Actor.Contains(actor));
        }

        if (target is not null)
        {
            query = query.Where(e => e.Target != null && e.Target.Contains(target));
        }

        if (filter.From is { } f)
        {
            query = query.Where(e => e.At >= f);
        }

        if (filter.To is { } t)
        {
            query = query.Where(e => e.At < t);
        }

        if (!string.IsNullOrEmpty(cursor))
        {
            var before = Guid.TryParse(cursor, out var id) ? id : throw new DomainValidationException("cursor", "Not a cursor this list gave.");
            var at = await db.AuditEntries.Where(e => e.Id == before).Select(e => (DateTimeOffset?)e.At).SingleOrDefaultAsync(ct)
                ?? throw new DomainValidationException("cursor", "Not a cursor this list gave.");
            query = query.Where(e => e.At < at || (e.At == at && e.Id.CompareTo(before) < 0));
        }

        var rows = await query.OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Take(limit + 1).ToListAsync(ct);
        var page = rows.Take(limit).ToList();
        return new AuditPage(page, rows.Count > limit ? page[^1].Id.ToString() : null);
    }

    /// <summary>The details of an entry as stored, or an empty map.</summary>
    public static IReadOnlyDictionary<string, string?> ReadDetails(AuditEntry entry)
    {
        if (string.IsNullOrEmpty(entry.Details))
        {
            return new Dictionary<string, string?>();
        }

        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string?>>(entry.Details) ?? new Dictionary<string, string?>();
        }
        catch (JsonException)
        {
            // Cut at the length limit: shown as stored rather than lost.
            return new Dictionary<string, string?> { ["text"] = entry.Details };
        }
    }

    private async Task<(string? Id, string Name)> DescribeActorAsync(CancellationToken ct)
    {
        if (team.UserId is { } user)
        {
            return (user, await members.FindNameAsync(user, ct) ?? user);
        }

        if (team.ApiKeyId == Guid.Empty)
        {
            // The operator's `admin` commands act with an admin key's rights but no key of their own.
            return (null, "the admin command line");
        }

        if (team.ApiKeyId is { } keyId)
        {
            await using var db = await dbFactory.CreateAsync(ct);
            var name = await db.ApiKeys.Where(k => k.Id == keyId).Select(k => k.Name).SingleOrDefaultAsync(ct);
            return (keyId.ToString(), $"API key '{name ?? keyId.ToString()}'");
        }

        return (null, team.WebhookSource is { } source ? $"webhook '{source}'" : "the platform");
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit entry {Action} by {Actor} could not be stored")]
    private static partial void LogNotStored(ILogger logger, Exception exception, string action, string actor);
}
