using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Queries.Teams;

/// <summary>Identity's users by id or address; the services decide which ids a caller may see.</summary>
internal sealed class MemberAccounts(IDbContextFactory<EvalDbContext> factory) : IMemberAccounts
{
    public async Task<IReadOnlyDictionary<string, MemberAccount>> FindAsync(IReadOnlyCollection<string> userIds, CancellationToken ct = default)
    {
        if (userIds.Count == 0)
        {
            return new Dictionary<string, MemberAccount>();
        }

        await using var db = await factory.CreateDbContextAsync(ct);
        var ids = userIds.Distinct().ToList();
        var rows = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id))
            .Select(u => new MemberAccount(u.Id, u.Email, u.DisplayName, u.LastSignInAt))
            .ToListAsync(ct);
        return rows.ToDictionary(r => r.UserId);
    }

    public async Task<string?> FindUserIdByEmailAsync(string email, CancellationToken ct = default)
    {
        var normalized = email.Trim().ToUpperInvariant();
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.Users.Where(u => u.NormalizedEmail == normalized).Select(u => u.Id).FirstOrDefaultAsync(ct);
    }
}
