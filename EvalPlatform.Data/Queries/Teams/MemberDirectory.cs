using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Queries.Teams;

/// <summary>
/// Identity's users seen through the current team's memberships (the team query filter applies
/// to <c>TeamMembers</c>), so nothing here reveals a user of another team.
/// </summary>
internal sealed class MemberDirectory(IDbContextFactory<EvalDbContext> factory) : IMemberDirectory
{
    public async Task<IReadOnlyList<MemberInfo>> ListMembersAsync(CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var members = await db.TeamMembers
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m.UserId, Name = u.DisplayName ?? u.Email ?? u.UserName ?? m.UserId, m.Role })
            .ToListAsync(ct);
        return members
            .Select(m => new MemberInfo(m.UserId, m.Name, m.Role))
            .OrderBy(m => m.Name, StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    public async Task<string?> FindNameAsync(string userId, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.TeamMembers.Where(m => m.UserId == userId)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => u.DisplayName ?? u.Email ?? u.UserName)
            .FirstOrDefaultAsync(ct);
    }

    public async Task<string?> FindUserIdByEmailAsync(string email, CancellationToken ct = default)
    {
        var normalized = email.Trim().ToUpperInvariant();
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.TeamMembers
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m.UserId, u.NormalizedEmail })
            .Where(x => x.NormalizedEmail == normalized)
            .Select(x => x.UserId)
            .FirstOrDefaultAsync(ct);
    }
}
