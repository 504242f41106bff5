using System.Security.Cryptography;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Webhooks;

/// <summary>A webhook secret as listed: never the secret itself.</summary>
public sealed record WebhookSecretInfo(Guid Id, string Hint, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt)
{
    /// <summary>The secret senders should sign with; the other active one (if any) is being rotated out.</summary>
    public bool IsCurrent => ExpiresAt is null;
}

/// <summary>A secret just created or rotated in: <see cref="Secret"/> is shown once and never again.</summary>
public sealed record CreatedWebhookSecret(WebhookSecretInfo Info, string Secret);

/// <summary>
/// The current team's webhook secrets: create, rotate, expire. Every call checks
/// <see cref="Permission.ManageApiKeys"/> (the team's ingestion credentials: Admin and Owner) here,
/// not only in the UI. A team has at most one current secret (a unique index says so) and, after
/// a rotation, the previous one, valid for <see cref="RotationGrace"/> unless expired sooner.
/// </summary>
public sealed class WebhookSecretService(IEvalDbContextFactory dbFactory, ITeamContext team, IWebhookSecretProtector protector, AuditLog audit, TimeProvider clock)
{
    /// <summary>How long a rotated-out secret keeps working: a day to update the sender.</summary>
    public static readonly TimeSpan RotationGrace = TimeSpan.FromHours(24);

    public const string Marker = "whsec_";
    private const int SecretBytes = 32;
    private const int HintLength = 4;

    /// <summary>The team's active secrets, current first.</summary>
    public async Task<IReadOnlyList<WebhookSecretInfo>> ListAsync(CancellationToken ct = default)
    {
        RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.WebhookSecrets.AsNoTracking().ToListAsync(ct);
        return rows.Where(s => s.IsActiveAt(now))
            .OrderBy(s => s.ExpiresAt is not null)
            .ThenByDescending(s => s.CreatedAt)
            .Select(ToInfo)
            .ToList();
    }

    /// <summary>The team's first secret (or a new one after all were expired); 409 when one is current: rotate it instead.</summary>
    public async Task<CreatedWebhookSecret> CreateAsync(CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        if (await db.WebhookSecrets.AnyAsync(s => s.ExpiresAt == null, ct))
        {
            throw new ConflictException("This team already has a webhook secret; rotate it to get a new one.");
        }

        await RemoveExpiredAsync(db, now, ct);
        var created = Issue(db, teamId, now);
        await SaveAsync(db, ct);
        await audit.RecordAsync(AuditActions.WebhookSecretCreated, $"…{created.Info.Hint}", ct: ct);
        return created;
    }

    /// <summary>
    /// A new current secret. The old current one stays valid for <see cref="RotationGrace"/>; an
    /// older one still in its grace period expires now, so never more than two are active.
    /// </summary>
    public async Task<CreatedWebhookSecret> RotateAsync(CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.WebhookSecrets.ToListAsync(ct);
        var current = rows.SingleOrDefault(s => s.ExpiresAt is null)
            ?? throw new ConflictException("This team has no webhook secret to rotate; create one.");
        foreach (var previous in rows.Where(s => s.ExpiresAt is { } expires && expires > now))
        {
            previous.ExpiresAt = now;
        }

        current.ExpiresAt = now + RotationGrace;
        await RemoveExpiredAsync(db, now, ct);
        var created = Issue(db, teamId, now);
        await SaveAsync(db, ct);
        await audit.RecordAsync(AuditActions.WebhookSecretRotated, $"…{created.Info.Hint}",
            new Dictionary<string, string?> { ["previous"] = $"…{current.Hint}", ["previous_valid_until"] = current.ExpiresAt?.ToString("O") }, ct);
        return created;
    }

    /// <summary>Ends a secret now: the previous one once the sender has switched, or the current one to stop webhooks.</summary>
    public async Task<WebhookSecretInfo> ExpireAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var secret = await db.WebhookSecrets.SingleOrDefaultAsync(s => s.Id == id, ct);
        if (secret is null || !secret.IsActiveAt(now))
        {
            throw new NotFoundException("No active webhook secret with that id in this team.");
        }

        secret.ExpiresAt = now;
        await SaveAsync(db, ct);
        await audit.RecordAsync(AuditActions.WebhookSecretExpired, $"…{secret.Hint}", ct: ct);
        return ToInfo(secret);
    }

    private CreatedWebhookSecret Issue(IEvalDbContext db, Guid teamId, DateTimeOffset now)
    {
        var plaintext = Marker + Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var secret = new WebhookSecret
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            ProtectedSecret = protector.Protect(teamId, plaintext),
            Hint = plaintext[^HintLength..],
            CreatedAt = now,
            CreatedByUserId = team.UserId,
        };
        db.WebhookSecrets.Add(secret);
        return new CreatedWebhookSecret(ToInfo(secret), plaintext);
    }

    /// <summary>Expired rows are of no use to anyone: they go when an Admin next changes the secrets.</summary>
    private static Task<int> RemoveExpiredAsync(IEvalDbContext db, DateTimeOffset now, CancellationToken ct) =>
        db.WebhookSecrets.Where(s => s.ExpiresAt != null && s.ExpiresAt <= now).ExecuteDeleteAsync(ct);

    private static async Task SaveAsync(IEvalDbContext db, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // The unique "one current secret per team" index: another Admin created or rotated meanwhile.
            throw new ConflictException("The webhook secrets were changed meanwhile; reload and try again.");
        }
    }

    private Guid RequireManage()
    {
        if (!team.Can(Permission.ManageApiKeys) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Managing webhook secrets needs the Admin or Owner role.");
        }

        return teamId;
    }

    private static WebhookSecretInfo ToInfo(WebhookSecret s) => new(s.Id, s.Hint, s.CreatedAt, s.ExpiresAt);
}
