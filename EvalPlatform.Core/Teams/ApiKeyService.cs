using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Teams;

/// <summary>An API key as listed: never the key itself.</summary>
public sealed record ApiKeyInfo(
    Guid Id, string Name, string Prefix, ApiKeyScopes Scopes, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>A key just created: <see cref="Key"/> is shown once and never again.</summary>
public sealed record CreatedApiKey(ApiKeyInfo Info, string Key);

/// <summary>The current team's API keys. Every call checks <see cref="Permission.ManageApiKeys"/> here, not only in the UI.</summary>
public sealed class ApiKeyService(IEvalDbContextFactory dbFactory, ITeamContext team, ApiKeyCache cache, ILiveBus liveBus, AuditLog audit, TimeProvider clock)
{
    public const int MaxNameLength = 100;

    public async Task<CreatedApiKey> CreateAsync(string name, ApiKeyScopes scopes, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var created = await IssueAsync(dbFactory, clock, teamId, name, scopes, team.UserId, ct);
        await audit.RecordAsync(AuditActions.ApiKeyCreated, created.Info.Name,
            new Dictionary<string, string?> { ["prefix"] = created.Info.Prefix, ["scopes"] = ApiKeyScopesText.Format(created.Info.Scopes) }, ct);
        return created;
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var keys = await db.ApiKeys.AsNoTracking().ToListAsync(ct);
        return keys
            .OrderBy(k => k.IsRevoked)
            .ThenByDescending(k => k.CreatedAt)
            .Select(ToInfo)
            .ToList();
    }

    public async Task<ApiKeyInfo> RevokeAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, ct)
            ?? throw new NotFoundException("No API key with that id in this team.");
        var revokedNow = key.RevokedAt is null;
        key.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        if (revokedNow)
        {
            await audit.RecordAsync(AuditActions.ApiKeyRevoked, key.Name, new Dictionary<string, string?> { ["prefix"] = key.Prefix }, ct);
        }

        // Refused from now on: here at once, on other nodes as soon as the bus delivers.
        cache.Evict(key.Prefix);
        await liveBus.PublishAsync(new ApiKeyRevoked(key.TeamId, key.Prefix), CancellationToken.None);
        return ToInfo(key);
    }

    /// <summary>
    /// Creates a key for <paramref name="teamId"/> without an acting member: for the operator's
    /// admin commands, which are trusted as the database itself is.
    /// </summary>
    public static async Task<CreatedApiKey> IssueAsync(
        IEvalDbContextFactory dbFactory, TimeProvider clock, Guid teamId, string name, ApiKeyScopes scopes, string? createdBy, CancellationToken ct = default)
    {
        var keyName = Require.Text("name", name, MaxNameLength);
        if (scopes == ApiKeyScopes.None || (scopes & ~ApiKeyScopesText.All) != 0)
        {
            throw new DomainValidationException("scopes", "Choose at least one scope: ingest, read, review or admin.");
        }

        var (key, prefix, hash) = ApiKeyToken.Generate();
        var now = clock.GetUtcNow();
        var apiKey = new ApiKey
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            Name = keyName,
            Prefix = prefix,
            Hash = hash,
            Scopes = scopes,
            CreatedAt = now,
            CreatedByUserId = createdBy,
        };
        await using var db = await dbFactory.CreateAsync(ct);
        db.ApiKeys.Add(apiKey);
        await db.SaveChangesAsync(ct);
        return new CreatedApiKey(ToInfo(apiKey), key);
    }

    private Guid RequireManage()
    {
        if (!team.Can(Permission.ManageApiKeys) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Managing API keys needs the Admin or Owner role (or an admin-scoped key).");
        }

        return teamId;
    }

    private static ApiKeyInfo ToInfo(ApiKey k) => new(k.Id, k.Name, k.Prefix, k.Scopes, k.CreatedAt, k.LastUsedAt, k.RevokedAt);
}
