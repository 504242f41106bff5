using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Teams;

/// <summary>Why a presented key was refused, or who it is.</summary>
public sealed record ApiKeyCheck(ApiKeyCheckResult Result, Guid KeyId = default, Guid TeamId = default, ApiKeyScopes Scopes = ApiKeyScopes.None, string? TeamName = null);

public enum ApiKeyCheckResult
{
    Valid,
    Malformed,
    Unknown,
    Revoked,
}

/// <summary>
/// Finds the team of a presented API key. This is the one place where keys are read across
/// teams (the key is what tells us the team), hence <c>IgnoreQueryFilters</c>. Keys are read
/// through <see cref="ApiKeyCache"/>; the secret is checked against the stored hash every time.
/// </summary>
public sealed class ApiKeyAuthenticator(IEvalDbContextFactory dbFactory, ApiKeyCache cache, TimeProvider clock)
{
    /// <summary>Last-used times are written at most this often per key, so reads stay reads.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<ApiKeyCheck> CheckAsync(string? presented, CancellationToken ct = default)
    {
        if (!ApiKeyToken.TryGetPrefix(presented, out var prefix))
        {
            return new ApiKeyCheck(ApiKeyCheckResult.Malformed);
        }

        var now = clock.GetUtcNow();
        if (!cache.TryGet(prefix, now, out var key))
        {
            await using var db = await dbFactory.CreateAsync(ct);
            var row = await db.ApiKeys.IgnoreQueryFilters().AsNoTracking()
                .Where(k => k.Prefix == prefix)
                .Join(db.Teams, k => k.TeamId, t => t.Id, (k, t) => new { Key = k, TeamName = t.Name })
                .SingleOrDefaultAsync(ct);
            if (row is null)
            {
                return new ApiKeyCheck(ApiKeyCheckResult.Unknown);
            }

            key = new ApiKeyCache.Entry(row.Key.Id, row.Key.TeamId, row.TeamName, row.Key.Scopes, row.Key.Hash, row.Key.IsRevoked, row.Key.LastUsedAt, now);
            cache.Set(prefix, key);
        }

        if (!ApiKeyToken.Matches(presented!, key.Hash))
        {
            return new ApiKeyCheck(ApiKeyCheckResult.Unknown);
        }

        if (key.Revoked)
        {
            return new ApiKeyCheck(ApiKeyCheckResult.Revoked);
        }

        if (key.ShouldRecordUse(now, LastUsedResolution))
        {
            var keyId = key.KeyId;
            await using var db = await dbFactory.CreateAsync(ct);
            await db.ApiKeys.IgnoreQueryFilters().Where(k => k.Id == keyId)
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), ct);
        }

        return new ApiKeyCheck(ApiKeyCheckResult.Valid, key.KeyId, key.TeamId, key.Scopes, key.TeamName);
    }
}
