using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Teams;

/// <summary>A user's team as the app bar shows it.</summary>
public sealed record Membership(Guid TeamId, string TeamName, TeamRole Role, DateTimeOffset? LastSelectedAt);

/// <summary>A team as an operator lists it.</summary>
public sealed record TeamSummary(Guid Id, string Name, DateTimeOffset CreatedAt, int Members, int ActiveApiKeys);

/// <summary>
/// Teams and memberships. These operations cross teams by nature (a user's teams, the operator's
/// list), so they are the one place here that reads team-owned rows with <c>IgnoreQueryFilters</c>;
/// each is keyed by the acting user's id or run by the operator (first-run page, admin commands).
/// </summary>
public sealed class TeamService(IEvalDbContextFactory dbFactory, TimeProvider clock)
{
    public const int MaxNameLength = 100;

    public async Task<Team> CreateTeamAsync(string name, string ownerUserId, CancellationToken ct = default)
    {
        var teamName = Require.Text("name", name, MaxNameLength);
        await using var db = await dbFactory.CreateAsync(ct);
        db.AllowCrossTeamWrites();
        if (await FindByNameAsync(db, teamName, ct) is not null)
        {
            throw new ConflictException($"A team named '{teamName}' already exists.");
        }

        var now = clock.GetUtcNow();
        var team = new Team { Id = Uuid7.Create(now), Name = teamName, NormalizedName = Team.Normalize(teamName), CreatedAt = now };
        db.Teams.Add(team);
        db.TeamMembers.Add(new TeamMember
        {
            Id = Uuid7.Create(now),
            TeamId = team.Id,
            UserId = ownerUserId,
            Role = TeamRole.Owner,
            CreatedAt = now,
            LastSelectedAt = now,
        });
        await db.SaveChangesAsync(ct);
        return team;
    }

    public async Task AddMemberAsync(Guid teamId, string userId, TeamRole role, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        db.AllowCrossTeamWrites();
        var existing = await db.TeamMembers.IgnoreQueryFilters()
            .SingleOrDefaultAsync(m => m.TeamId == teamId && m.UserId == userId, ct);
        if (existing is not null)
        {
            existing.Role = role;
        }
        else
        {
            var now = clock.GetUtcNow();
            db.TeamMembers.Add(new TeamMember { Id = Uuid7.Create(now), TeamId = teamId, UserId = userId, Role = role, CreatedAt = now });
        }

        await db.SaveChangesAsync(ct);
    }

    /// <summary>The user's teams, the current one (most recently chosen) first.</summary>
    public async Task<IReadOnlyList<Membership>> GetMembershipsAsync(string userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.TeamMembers.IgnoreQueryFilters()
            .Where(m => m.UserId == userId)
            .Join(db.Teams, m => m.TeamId, t => t.Id, (m, t) => new Membership(t.Id, t.Name, m.Role, m.LastSelectedAt))
            .ToListAsync(ct);
        return rows
            .OrderByDescending(m => m.LastSelectedAt ?? DateTimeOffset.MinValue)
            .ThenBy(m => m.TeamName, StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    /// <summary>Makes <paramref name="teamId"/> the user's current team; 404 unless they are a member.</summary>
    public async Task SelectTeamAsync(string userId, Guid teamId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        db.AllowCrossTeamWrites();
        var membership = await db.TeamMembers.IgnoreQueryFilters()
            .SingleOrDefaultAsync(m => m.UserId == userId && m.TeamId == teamId, ct)
            ?? throw new NotFoundException("You are not a member of that team.");
        membership.LastSelectedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
    }

    public async Task<Team?> FindTeamByNameAsync(string name, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        return await FindByNameAsync(db, name, ct);
    }

    public async Task<IReadOnlyList<TeamSummary>> ListTeamsAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var teams = await db.Teams.OrderBy(t => t.Name).ToListAsync(ct);
        var members = await db.TeamMembers.IgnoreQueryFilters()
            .GroupBy(m => m.TeamId).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, ct);
        var keys = await db.ApiKeys.IgnoreQueryFilters().Where(k => k.RevokedAt == null)
            .GroupBy(k => k.TeamId).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, ct);
        return teams
            .Select(t => new TeamSummary(t.Id, t.Name, t.CreatedAt, members.GetValueOrDefault(t.Id), keys.GetValueOrDefault(t.Id)))
            .ToList();
    }

    private static Task<Team?> FindByNameAsync(IEvalDbContext db, string name, CancellationToken ct)
    {
        var normalized = Team.Normalize(name);
        return db.Teams.AsNoTracking().SingleOrDefaultAsync(t => t.NormalizedName == normalized, ct);
    }
}
