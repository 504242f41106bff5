using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Teams;

/// <summary>A member of the current team as the members page lists them.</summary>
public sealed record MemberRow(string UserId, string? Email, string? DisplayName, TeamRole Role, DateTimeOffset JoinedAt, DateTimeOffset? LastSignInAt);

/// <summary>
/// The current team's members: list, change a role, remove, transfer ownership, leave. Every check is here, not only in
/// the UI. Rules: managing needs <see cref="Permission.ManageMembers"/>; nobody acts above their own rank (an Admin can
/// neither make an Owner nor change or remove one; an <c>admin</c> key ranks as an Admin); the team always keeps an
/// Owner. Changes to one team's members are serialised by a lock on the team's row, so two Owners demoting each other
/// at once cannot leave the team without one. Each change is one method (audit records hook in there) and publishes
/// <see cref="MembersChanged"/> so the affected users' open pages re-check at once.
/// </summary>
public sealed class MemberService(IEvalDbContextFactory dbFactory, ITeamContext team, IMemberAccounts accounts, ILiveBus liveBus, AuditLog audit)
{
    /// <summary>The team's members, Owners first, then by e-mail. Any member may see them; a key needs <c>admin</c>.</summary>
    public async Task<IReadOnlyList<MemberRow>> ListAsync(CancellationToken ct = default)
    {
        if (team.TeamId is null || (team.Role is null && !team.Can(Permission.ManageMembers)))
        {
            throw new PermissionDeniedException("Listing members needs a member of the team or an admin-scoped key.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var members = await db.TeamMembers.AsNoTracking().ToListAsync(ct);
        var found = await accounts.FindAsync(members.Select(m => m.UserId).ToList(), ct);
        return members
            .Select(m =>
            {
                var account = found.GetValueOrDefault(m.UserId);
                return new MemberRow(m.UserId, account?.Email, account?.DisplayName, m.Role, m.CreatedAt, account?.LastSignInAt);
            })
            .OrderByDescending(m => m.Role)
            .ThenBy(m => m.Email ?? m.UserId, StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    /// <summary>member.role_changed. Refuses to act above the actor's rank and to demote the last Owner.</summary>
    public async Task ChangeRoleAsync(string userId, TeamRole role, CancellationToken ct = default)
    {
        var (teamId, rank) = RequireManage();
        if (!Enum.IsDefined(role))
        {
            throw new DomainValidationException("role", "Choose viewer, reviewer, admin or owner.");
        }

        if (role == TeamRole.Owner && rank != TeamRole.Owner)
        {
            throw new PermissionDeniedException("Only an Owner can make someone an Owner.");
        }

        var before = role;
        await ChangeAsync(teamId, async db =>
        {
            var member = await FindAsync(db, userId, ct);
            if (member.Role == TeamRole.Owner && rank != TeamRole.Owner)
            {
                throw new PermissionDeniedException("Only an Owner can change an Owner's role.");
            }

            if (member.Role == TeamRole.Owner && role != TeamRole.Owner)
            {
                await RequireAnotherOwnerAsync(db, "demoted", ct);
            }

            before = member.Role;
            member.Role = role;
            return [userId];
        }, ct);
        if (before != role)
        {
            await audit.RecordAsync(AuditActions.MemberRoleChanged, await EmailOfAsync(userId, ct),
                new Dictionary<string, string?> { ["from"] = TeamRoleText.Format(before), ["to"] = TeamRoleText.Format(role) }, ct);
        }
    }

    /// <summary>member.removed. Refuses to remove an Owner unless an Owner acts, and never removes the last Owner.</summary>
    public async Task RemoveAsync(string userId, CancellationToken ct = default)
    {
        var (teamId, rank) = RequireManage();
        var removedRole = TeamRole.Viewer;
        await ChangeAsync(teamId, async db =>
        {
            var member = await FindAsync(db, userId, ct);
            if (member.Role == TeamRole.Owner)
            {
                if (rank != TeamRole.Owner)
                {
                    throw new PermissionDeniedException("Only an Owner can remove an Owner.");
                }

                await RequireAnotherOwnerAsync(db, "removed", ct);
            }

            removedRole = member.Role;
            db.TeamMembers.Remove(member);
            return [userId];
        }, ct);
        await audit.RecordAsync(AuditActions.MemberRemoved, await EmailOfAsync(userId, ct), new Dictionary<string, string?> { ["role"] = TeamRoleText.Format(removedRole) }, ct);
    }

    /// <summary>team.ownership_transferred: the acting Owner makes <paramref name="userId"/> Owner and becomes an Admin.</summary>
    public async Task TransferOwnershipAsync(string userId, CancellationToken ct = default)
    {
        if (team.TeamId is not { } teamId || team.Role != TeamRole.Owner || team.UserId is not { } ownerId)
        {
            throw new PermissionDeniedException("Only an Owner can transfer ownership.");
        }

        if (userId == ownerId)
        {
            throw new DomainValidationException("userId", "Choose another member: you are already an Owner.");
        }

        await ChangeAsync(teamId, async db =>
        {
            var target = await FindAsync(db, userId, ct);
            var self = await FindAsync(db, ownerId, ct);
            if (self.Role != TeamRole.Owner)
            {
                throw new PermissionDeniedException("Only an Owner can transfer ownership.");
            }

            target.Role = TeamRole.Owner;
            self.Role = TeamRole.Admin;
            return [userId, ownerId];
        }, ct);
        await audit.RecordAsync(AuditActions.OwnershipTransferred, await EmailOfAsync(userId, ct),
            new Dictionary<string, string?> { ["previous_owner"] = await EmailOfAsync(ownerId, ct) }, ct);
    }

    /// <summary>member.removed (by themselves): the signed-in member leaves the current team; the last Owner cannot.</summary>
    public async Task LeaveAsync(CancellationToken ct = default)
    {
        if (team.TeamId is not { } teamId || team.UserId is not { } userId)
        {
            throw new PermissionDeniedException("Only a signed-in member can leave a team.");
        }

        await ChangeAsync(teamId, async db =>
        {
            var member = await FindAsync(db, userId, ct);
            if (member.Role == TeamRole.Owner)
            {
                await RequireAnotherOwnerAsync(db, "leave", ct);
            }

            db.TeamMembers.Remove(member);
            return [userId];
        }, ct);
        await audit.RecordAsync(AuditActions.MemberRemoved, await EmailOfAsync(userId, ct), new Dictionary<string, string?> { ["left"] = "true" }, ct);
    }

    private (Guid TeamId, TeamRole Rank) RequireManage()
    {
        if (!team.Can(Permission.ManageMembers) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Managing members needs the Admin or Owner role (or an admin-scoped key).");
        }

        return (teamId, team.Role ?? TeamRole.Admin);
    }

    /// <summary>
    /// Runs one change to the team's members in a transaction that first locks the team's row (a no-op update), so
    /// changes to one team's members happen one after the other and the Owner count read inside is still true at commit.
    /// </summary>
    private async Task ChangeAsync(Guid teamId, Func<IEvalDbContext, Task<IReadOnlyList<string>>> change, CancellationToken ct)
    {
        IReadOnlyList<string> affected;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            await db.Teams.Where(t => t.Id == teamId).ExecuteUpdateAsync(s => s.SetProperty(t => t.Name, t => t.Name), ct);
            affected = await change(db);
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }

        await liveBus.PublishAsync(new MembersChanged(teamId, affected), CancellationToken.None);
    }

    private async Task<string> EmailOfAsync(string userId, CancellationToken ct) =>
        (await accounts.FindAsync([userId], ct)).TryGetValue(userId, out var account) ? account.Email ?? userId : userId;

    private static async Task<TeamMember> FindAsync(IEvalDbContext db, string userId, CancellationToken ct) =>
        await db.TeamMembers.SingleOrDefaultAsync(m => m.UserId == userId, ct)
        ?? throw new NotFoundException("No such member in this team.");

    private static async Task RequireAnotherOwnerAsync(IEvalDbContext db, string what, CancellationToken ct)
    {
        if (await db.TeamMembers.CountAsync(m => m.Role == TeamRole.Owner, ct) <= 1)
        {
            throw new ConflictException(what == "leave"
                ? "You are the team's last Owner: transfer ownership to another member before leaving."
                : $"The team's last Owner cannot be {what}: make another member an Owner first.");
        }
    }
}
