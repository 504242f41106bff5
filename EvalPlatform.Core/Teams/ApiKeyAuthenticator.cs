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
/// teams (the key is what tells us the team), hence <c>IgnoreQueryFilters</c>.
/// </summary>
public sealed class ApiKeyAuthenticator(IEvalDbContextFactory dbFactory, TimeProvider clock)
{
    /// <summary>Last-used times are written at most this often per key, so reads stay reads.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<ApiKeyCheck> CheckAsync(string? presented, CancellationToken ct = default)
    {
        if (!ApiKeyToken.TryGetPrefix(presented, out var prefix))
        {
            return new ApiKeyCheck(ApiKeyCheckResult.Malformed);
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var key = await db.ApiKeys.IgnoreQueryFilters().AsNoTracking()
            .Where(k => k.Prefix == prefix)
            .Join(db.Teams, k => k.TeamId, t => t.Id, (k, t) => new { Key = k, TeamName = t.Name })
            .SingleOrDefaultAsync(ct);
        if (key is null || !ApiKeyToken.Matches(presented!, key.Key.Hash))
        {
            return new ApiKeyCheck(ApiKeyCheckResult.Unknown);
        }

        if (key.Key.IsRevoked)
        {
            return new ApiKeyCheck(ApiKeyCheckResult.Revoked);
        }

        var now = clock.GetUtcNow();
        if (key.Key.LastUsedAt is null || now - key.Key.LastUsedAt >= LastUsedResolution)
        {
            var keyId = key.Key.Id;
            await db.ApiKeys.IgnoreQueryFilters().Where(k => k.Id == keyId)
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), ct);
        }

        return new ApiKeyCheck(ApiKeyCheckResult.Valid, key.Key.Id, key.Key.TeamId, key.Key.Scopes, key.TeamName);
    }
}
