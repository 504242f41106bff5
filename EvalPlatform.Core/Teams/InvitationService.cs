using System.Net;
using System.Net.Mail;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Teams;

/// <summary>Where an invitation stands.</summary>
public enum InvitationStatus
{
    Pending,
    Expired,
    Accepted,
    Revoked,
}

/// <summary>An invitation as the members page lists it: never its link (only the hash is stored).</summary>
public sealed record InvitationInfo(
    Guid Id, string Email, TeamRole Role, InvitationStatus Status, DateTimeOffset CreatedAt, DateTimeOffset SentAt, DateTimeOffset ExpiresAt);

/// <summary>
/// A link just issued (invited, re-sent, or copied again): <see cref="Link"/> is shown once. <see cref="Mail"/> is the SMTP
/// server's answer when the link was mailed, null when it was not (no SMTP, or only a copy was asked for).
/// </summary>
public sealed record IssuedInvitation(InvitationInfo Info, string Link, EmailSendResult? Mail);

/// <summary>What opening a link finds.</summary>
public enum InvitationCheck
{
    Valid,
    Unknown,
    Expired,
    Used,
    Revoked,
}

/// <summary>The invitation behind a link, for the acceptance page; team and e-mail only when <see cref="Check"/> is Valid.</summary>
public sealed record InvitationPreview(InvitationCheck Check, string? TeamName = null, string? Email = null, TeamRole Role = TeamRole.Viewer);

/// <summary>
/// Invitations to the current team (ADR 33): Admins and Owners (and <c>admin</c> keys) invite an e-mail address as
/// Viewer, Reviewer or Admin; the link is single use, expires after <see cref="Lifetime"/>, and can be revoked or issued
/// again (the old link dies). Accepting is done by the account with the invited address, which then joins the team.
/// member.invited and member.joined each happen in one method here.
/// </summary>
public sealed class InvitationService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IMemberAccounts accounts, IEmailSender email, ILiveBus liveBus, AuditLog audit, TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(7);
    public const int MaxEmailLength = 256;

    /// <summary>Whether invitations are mailed (SMTP is configured); they are always shown to copy.</summary>
    public bool CanMail => email.IsConfigured;

    /// <summary>member.invited. <paramref name="appBase"/> is where people reach the app, for the link.</summary>
    public async Task<IssuedInvitation> InviteAsync(string address, TeamRole role, Uri appBase, CancellationToken ct = default)
    {
        var (teamId, rank) = RequireManage();
        var to = RequireEmail(address);
        if (role == TeamRole.Owner)
        {
            throw rank == TeamRole.Owner
                ? new DomainValidationException("role", "Invite as viewer, reviewer or admin; make an Owner by transferring ownership.")
                : new PermissionDeniedException("An Admin cannot invite an Owner.");
        }

        if (!Enum.IsDefined(role))
        {
            throw new DomainValidationException("role", "Choose viewer, reviewer or admin.");
        }

        var normalized = to.ToUpperInvariant();
        await using var db = await dbFactory.CreateAsync(ct);
        if (await accounts.FindUserIdByEmailAsync(to, ct) is { } existing && await db.TeamMembers.AnyAsync(m => m.UserId == existing, ct))
        {
            throw new ConflictException($"{to} is already a member of this team.");
        }

        var now = clock.GetUtcNow();
        if (await db.Invitations.AnyAsync(i => i.NormalizedEmail == normalized && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now, ct))
        {
            throw new ConflictException($"{to} already has a pending invitation: re-send or revoke it.");
        }

        var (token, hash) = InvitationToken.Generate();
        var invitation = new Invitation
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            Email = to,
            NormalizedEmail = normalized,
            Role = role,
            TokenHash = hash,
            CreatedAt = now,
            SentAt = now,
            ExpiresAt = now + Lifetime,
            CreatedByUserId = team.UserId,
        };
        db.Invitations.Add(invitation);
        await db.SaveChangesAsync(ct);
        var issued = await IssueAsync(db, invitation, token, appBase, mail: true, ct);
        await audit.RecordAsync(AuditActions.MemberInvited, to, RoleDetails(role), ct);
        return issued;
    }

    /// <summary>The team's invitations not yet accepted or revoked (expired ones too, to re-send), newest first.</summary>
    public async Task<IReadOnlyList<InvitationInfo>> ListPendingAsync(CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.Invitations.AsNoTracking().Where(i => i.AcceptedAt == null && i.RevokedAt == null).ToListAsync(ct);
        var now = clock.GetUtcNow();
        return rows.OrderByDescending(i => i.CreatedAt).Select(i => ToInfo(i, now)).ToList();
    }

    /// <summary>A new link for a pending (or expired) invitation, valid for another <see cref="Lifetime"/>; the old link dies. Mailed when <paramref name="mail"/>.</summary>
    public async Task<IssuedInvitation> ReissueAsync(Guid id, Uri appBase, bool mail, CancellationToken ct = default)
    {
        var (_, rank) = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var invitation = await FindOpenAsync(db, id, ct);
        if (invitation.Role > rank)
        {
            throw new PermissionDeniedException("Only an Owner can re-send this invitation.");
        }

        var (token, hash) = InvitationToken.Generate();
        var now = clock.GetUtcNow();
        invitation.TokenHash = hash;
        invitation.SentAt = now;
        invitation.ExpiresAt = now + Lifetime;
        await db.SaveChangesAsync(ct);
        var issued = await IssueAsync(db, invitation, token, appBase, mail, ct);
        await audit.RecordAsync(AuditActions.InvitationResent, invitation.Email, RoleDetails(invitation.Role), ct);
        return issued;
    }

    public async Task<InvitationInfo> RevokeAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var invitation = await FindOpenAsync(db, id, ct);
        var now = clock.GetUtcNow();
        invitation.RevokedAt = now;
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.InvitationRevoked, invitation.Email, RoleDetails(invitation.Role), ct);
        return ToInfo(invitation, now);
    }

    /// <summary>What a link leads to. Needs no team or sign-in: the token is the secret.</summary>
    public async Task<InvitationPreview> PreviewAsync(string token, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var invitation = await FindByTokenAsync(db, token, ct);
        var check = Check(invitation, clock.GetUtcNow());
        if (check != InvitationCheck.Valid)
        {
            return new InvitationPreview(check);
        }

        var teamName = await db.Teams.Where(t => t.Id == invitation!.TeamId).Select(t => t.Name).SingleAsync(ct);
        return new InvitationPreview(check, teamName, invitation!.Email, invitation.Role);
    }

    /// <summary>
    /// member.joined: the account <paramref name="userId"/>, whose address is <paramref name="accountEmail"/>, accepts the
    /// invitation and joins its team with its role; the team becomes their current one. Single use even when two
    /// requests race: the claim is one conditional update. Returns the team's id.
    /// </summary>
    public async Task<Guid> AcceptAsync(string token, string userId, string accountEmail, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        // The person joining acts in no team yet: their membership is the invitation's team's row.
        db.AllowCrossTeamWrites();
        var invitation = await FindByTokenAsync(db, token, ct);
        var now = clock.GetUtcNow();
        var check = Check(invitation, now);
        if (check != InvitationCheck.Valid)
        {
            throw new NotFoundException(Explain(check));
        }

        if (!string.Equals(invitation!.NormalizedEmail, accountEmail.Trim().ToUpperInvariant(), StringComparison.Ordinal))
        {
            throw new PermissionDeniedException($"This invitation is for {invitation.Email}: sign in with that address.");
        }

        if (await db.TeamMembers.IgnoreQueryFilters().AnyAsync(m => m.TeamId == invitation.TeamId && m.UserId == userId, ct))
        {
            throw new ConflictException("You are already a member of this team.");
        }

        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            var hash = invitation.TokenHash;
            var claimed = await db.Invitations.IgnoreQueryFilters()
                .Where(i => i.Id == invitation.Id && i.TokenHash == hash && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.AcceptedAt, now).SetProperty(i => i.AcceptedByUserId, userId), ct);
            if (claimed != 1)
            {
                throw new NotFoundException(Explain(InvitationCheck.Used));
            }

            db.TeamMembers.Add(new TeamMember
            {
                Id = Uuid7.Create(now),
                TeamId = invitation.TeamId,
                UserId = userId,
                Role = invitation.Role,
                CreatedAt = now,
                LastSelectedAt = now,
            });
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }

        await liveBus.PublishAsync(new MembersChanged(invitation.TeamId, [userId]), CancellationToken.None);
        await audit.RecordAsAsync(invitation.TeamId, userId, accountEmail, AuditActions.MemberJoined, accountEmail, RoleDetails(invitation.Role), ct);
        return invitation.TeamId;
    }

    private static Dictionary<string, string?> RoleDetails(TeamRole role) => new() { ["role"] = TeamRoleText.Format(role) };

    /// <summary>The sentence the acceptance page shows for a link that cannot be used.</summary>
    public static string Explain(InvitationCheck check) => check switch
    {
        InvitationCheck.Expired => "This invitation has expired. Ask the person who invited you to send it again.",
        InvitationCheck.Used => "This invitation has already been used. Sign in to open your team.",
        InvitationCheck.Revoked => "This invitation was withdrawn. Ask the team's Admin for a new one.",
        InvitationCheck.Unknown => "This invitation link is not valid. Check that you copied all of it, or ask for a new one.",
        _ => "",
    };

    private async Task<IssuedInvitation> IssueAsync(IEvalDbContext db, Invitation invitation, string token, Uri appBase, bool mail, CancellationToken ct)
    {
        var link = new Uri(new Uri(appBase.ToString().TrimEnd('/') + "/"), InvitationToken.Path(token)).ToString();
        EmailSendResult? result = null;
        if (mail && email.IsConfigured)
        {
            var teamName = await db.Teams.Where(t => t.Id == invitation.TeamId).Select(t => t.Name).SingleAsync(ct);
            result = await email.SendAsync(Compose(invitation, teamName, link), ct);
        }

        return new IssuedInvitation(ToInfo(invitation, clock.GetUtcNow()), link, result);
    }

    private static EmailMessage Compose(Invitation invitation, string teamName, string link)
    {
        var role = invitation.Role.ToString();
        var expires = invitation.ExpiresAt.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
        var text = $"You are invited to join the team {teamName} on EvalPlatform as {role}.\n\nOpen this link to join (it works once, until {expires}):\n{link}\n";
        var html = $"<p>You are invited to join the team <strong>{WebUtility.HtmlEncode(teamName)}</strong> on EvalPlatform as {role}.</p>"
            + $"<p><a href=\"{WebUtility.HtmlEncode(link)}\">Join {WebUtility.HtmlEncode(teamName)}</a></p>"
            + $"<p>The link works once, until {expires}.</p>";
        return new EmailMessage(invitation.Email, $"Join {teamName} on EvalPlatform", text, html);
    }

    private (Guid TeamId, TeamRole Rank) RequireManage()
    {
        if (!team.Can(Permission.ManageMembers) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Inviting people needs the Admin or Owner role (or an admin-scoped key).");
        }

        return (teamId, team.Role ?? TeamRole.Admin);
    }

    private static string RequireEmail(string? address)
    {
        var trimmed = Require.Text("email", address, MaxEmailLength);
        if (!MailAddress.TryCreate(trimmed, out var parsed) || parsed.Address != trimmed)
        {
            throw new DomainValidationException("email", "Enter an e-mail address such as ana@example.com.");
        }

        return trimmed;
    }

    private static async Task<Invitation> FindOpenAsync(IEvalDbContext db, Guid id, CancellationToken ct)
    {
        var invitation = await db.Invitations.SingleOrDefaultAsync(i => i.Id == id, ct)
            ?? throw new NotFoundException("No invitation with that id in this team.");
        if (invitation.AcceptedAt is not null || invitation.RevokedAt is not null)
        {
            throw new ConflictException(invitation.AcceptedAt is not null ? "This invitation has been accepted." : "This invitation was revoked.");
        }

        return invitation;
    }

    private static async Task<Invitation?> FindByTokenAsync(IEvalDbContext db, string token, CancellationToken ct)
    {
        if (!InvitationToken.IsWellFormed(token))
        {
            return null;
        }

        var hash = InvitationToken.ComputeHash(token);
        // The one cross-team read here: a link belongs to no team until it is opened.
        return await db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleOrDefaultAsync(i => i.TokenHash == hash, ct);
    }

    private static InvitationCheck Check(Invitation? invitation, DateTimeOffset now) => invitation switch
    {
        null => InvitationCheck.Unknown,
        { RevokedAt: not null } => InvitationCheck.Revoked,
        { AcceptedAt: not null } => InvitationCheck.Used,
        _ when invitation.ExpiresAt <= now => InvitationCheck.Expired,
        _ => InvitationCheck.Valid,
    };

    private static InvitationInfo ToInfo(Invitation i, DateTimeOffset now) => new(
        i.Id, i.Email, i.Role,
        i.RevokedAt is not null ? InvitationStatus.Revoked : i.AcceptedAt is not null ? InvitationStatus.Accepted : i.ExpiresAt <= now ? InvitationStatus.Expired : InvitationStatus.Pending,
        i.CreatedAt, i.SentAt, i.ExpiresAt);
}
