using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Queries.Teams;

/// <summary>
/// Identity's addresses of one team's members. The team is the caller's explicit argument (the outbox runs in jobs
/// too), so this is the one place here that leaves the team query filter, and it reads only that team's memberships.
/// </summary>
internal sealed class MemberEmails(IDbContextFactory<EvalDbContext> factory) : IMemberEmails
{
    public async Task<IReadOnlyDictionary<string, string>> FindAsync(Guid teamId, IReadOnlyCollection<string> userIds, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        if (userIds.Count == 0)
        {
            return new Dictionary<string, string>();
        }

        var ids = userIds.Distinct().ToList();
        await using var db = await factory.CreateDbContextAsync(ct);
        var rows = await db.TeamMembers.IgnoreQueryFilters()
            .Where(m => m.TeamId == teamId && ids.Contains(m.UserId))
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m.UserId, u.Email })
            .Where(x => x.Email != null && x.Email != "")
            .ToListAsync(ct);
        return rows.ToDictionary(x => x.UserId, x => x.Email!, StringComparer.Ordinal);
    }
}
