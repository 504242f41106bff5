using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Members;

/// <summary>Invitations and member management at the service: every rule, every refusal, and two teams kept apart.</summary>
public abstract class MemberServiceTests(ClockedAppFactory app)
{
    private static readonly Uri AppBase = new("https://eval.example.test/");

    [Fact]
    public async Task Invite_StoresOnlyTheHash_AndTheLinkJoinsTheTeamOnce()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var email = $"{TestData.Unique("new")}@example.test";
        var issued = await AsAsync<InvitationService, IssuedInvitation>(team.Id, team.OwnerId, TeamRole.Admin, s => s.InviteAsync($"  {email} ", TeamRole.Reviewer, AppBase));

        Assert.StartsWith("https://eval.example.test/invite/inv_", issued.Link, StringComparison.Ordinal);
        Assert.Equal(InvitationStatus.Pending, issued.Info.Status);
        Assert.Equal(issued.Info.CreatedAt + TimeSpan.FromDays(7), issued.Info.ExpiresAt);
        Assert.Null(issued.Mail);
        var token = issued.Link[(issued.Link.LastIndexOf('/') + 1)..];
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var stored = await db.Invitations.IgnoreQueryFilters().SingleAsync(i => i.Id == issued.Info.Id);
            Assert.Equal(InvitationToken.ComputeHash(token), stored.TokenHash);
            Assert.Equal(email, stored.Email);
        }

        var preview = await AnonymousAsync(s => s.PreviewAsync(token));
        Assert.Equal(new InvitationPreview(InvitationCheck.Valid, team.Name, email, TeamRole.Reviewer), preview);

        var user = await TestData.CreateUserAsync(app.Services, email.ToUpperInvariant());
        Assert.Equal(team.Id, await AnonymousAsync(s => s.AcceptAsync(token, user.Id, user.Email!)));
        var memberships = await Teams().GetMembershipsAsync(user.Id);
        Assert.Equal((team.Id, TeamRole.Reviewer), (memberships[0].TeamId, memberships[0].Role));

        Assert.Equal(InvitationCheck.Used, (await AnonymousAsync(s => s.PreviewAsync(token))).Check);
        await Assert.ThrowsAsync<NotFoundException>(() => AnonymousAsync(s => s.AcceptAsync(token, user.Id, user.Email!)));
        Assert.Empty(await AsAsync<InvitationService, IReadOnlyList<InvitationInfo>>(team.Id, team.OwnerId, TeamRole.Owner, s => s.ListPendingAsync()));
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    public async Task MembersBelowAdmin_CannotInviteOrSeeInvitations(TeamRole role)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync<InvitationService, IssuedInvitation>(team.Id, "someone", role, s => s.InviteAsync("a@example.test", TeamRole.Viewer, AppBase)));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync<InvitationService, IReadOnlyList<InvitationInfo>>(team.Id, "someone", role, s => s.ListPendingAsync()));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync<MemberService, bool>(team.Id, "someone", role, async s => { await s.ChangeRoleAsync(team.OwnerId, TeamRole.Viewer); return true; }));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync<MemberService, bool>(team.Id, "someone", role, async s => { await s.RemoveAsync(team.OwnerId); return true; }));
    }

    [Fact]
    public async Task Invite_RefusesOwnersBadAddressesMembersAndDuplicates()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (_, memberEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);

        await Assert.ThrowsAsync<PermissionDeniedException>(() => InviteAsync(team, TeamRole.Admin, "x@example.test", TeamRole.Owner));
        var ownerRole = await Assert.ThrowsAsync<DomainValidationException>(() => InviteAsync(team, TeamRole.Owner, "x@example.test", TeamRole.Owner));
        Assert.Equal("role", ownerRole.Field);
        foreach (var bad in new[] { "", "not-an-address", "a@b@c", new string('a', 250) + "@example.test" })
        {
            var e = await Assert.ThrowsAsync<DomainValidationException>(() => InviteAsync(team, TeamRole.Owner, bad, TeamRole.Viewer));
            Assert.Equal("email", e.Field);
        }

        await Assert.ThrowsAsync<ConflictException>(() => InviteAsync(team, TeamRole.Owner, memberEmail.ToUpperInvariant(), TeamRole.Viewer));
        await InviteAsync(team, TeamRole.Owner, "twice@example.test", TeamRole.Viewer);
        await Assert.ThrowsAsync<ConflictException>(() => InviteAsync(team, TeamRole.Admin, "Twice@Example.test", TeamRole.Reviewer));
    }

    [Fact]
    public async Task Reissue_KillsTheOldLink_Revoke_KillsTheLink_Expiry_KillsTheLink()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var first = await InviteAsync(team, TeamRole.Admin, $"{TestData.Unique("r")}@example.test", TeamRole.Viewer);
        var second = await AsAsync<InvitationService, IssuedInvitation>(team.Id, team.OwnerId, TeamRole.Admin, s => s.ReissueAsync(first.Info.Id, AppBase, mail: true));

        Assert.NotEqual(first.Link, second.Link);
        Assert.Equal(InvitationCheck.Unknown, (await AnonymousAsync(s => s.PreviewAsync(Token(first)))).Check);
        Assert.Equal(InvitationCheck.Valid, (await AnonymousAsync(s => s.PreviewAsync(Token(second)))).Check);

        app.Clock.Advance(InvitationService.Lifetime + TimeSpan.FromMinutes(1));
        Assert.Equal(InvitationCheck.Expired, (await AnonymousAsync(s => s.PreviewAsync(Token(second)))).Check);
        var invitee = await TestData.CreateUserAsync(app.Services, first.Info.Email);
        await Assert.ThrowsAsync<NotFoundException>(() => AnonymousAsync(s => s.AcceptAsync(Token(second), invitee.Id, invitee.Email!)));
        var pending = await AsAsync<InvitationService, IReadOnlyList<InvitationInfo>>(team.Id, team.OwnerId, TeamRole.Owner, s => s.ListPendingAsync());
        Assert.Equal(InvitationStatus.Expired, Assert.Single(pending).Status);

        var third = await AsAsync<InvitationService, IssuedInvitation>(team.Id, team.OwnerId, TeamRole.Admin, s => s.ReissueAsync(first.Info.Id, AppBase, mail: false));
        Assert.Equal(InvitationStatus.Pending, third.Info.Status);
        var revoked = await AsAsync<InvitationService, InvitationInfo>(team.Id, team.OwnerId, TeamRole.Admin, s => s.RevokeAsync(first.Info.Id));
        Assert.Equal(InvitationStatus.Revoked, revoked.Status);
        Assert.Equal(InvitationCheck.Revoked, (await AnonymousAsync(s => s.PreviewAsync(Token(third)))).Check);
        await Assert.ThrowsAsync<NotFoundException>(() => AnonymousAsync(s => s.AcceptAsync(Token(third), invitee.Id, invitee.Email!)));
        await Assert.ThrowsAsync<ConflictException>(() => AsAsync<InvitationService, IssuedInvitation>(team.Id, team.OwnerId, TeamRole.Admin, s => s.ReissueAsync(first.Info.Id, AppBase, mail: false)));
        Assert.Equal(InvitationCheck.Unknown, (await AnonymousAsync(s => s.PreviewAsync("inv_nonsense"))).Check);
        Assert.Equal(InvitationCheck.Unknown, (await AnonymousAsync(s => s.PreviewAsync("'; drop table invitations; --"))).Check);
    }

    [Fact]
    public async Task Accept_FromTwoTabsAtOnce_JoinsOnce()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var email = $"{TestData.Unique("race")}@example.test";
        var issued = await InviteAsync(team, TeamRole.Owner, email, TeamRole.Reviewer);
        var user = await TestData.CreateUserAsync(app.Services, email);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            try
            {
                await AnonymousAsync(s => s.AcceptAsync(Token(issued), user.Id, email));
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }));

        Assert.Equal(1, outcomes.Count(o => o is null));
        Assert.All(outcomes.Where(o => o is not null), o => Assert.True(o is NotFoundException or ConflictException, o!.ToString()));
        Assert.Single(await Teams().GetMembershipsAsync(user.Id));
    }

    [Fact]
    public async Task Accept_ByAnAccountWithAnotherAddress_IsRefused()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var issued = await InviteAsync(team, TeamRole.Owner, $"{TestData.Unique("x")}@example.test", TeamRole.Viewer);
        var stranger = await TestData.CreateUserAsync(app.Services);

        await Assert.ThrowsAsync<PermissionDeniedException>(() => AnonymousAsync(s => s.AcceptAsync(Token(issued), stranger.Id, stranger.Email!)));
        Assert.Equal(InvitationCheck.Valid, (await AnonymousAsync(s => s.PreviewAsync(Token(issued)))).Check);
    }

    [Fact]
    public async Task AnotherTeamsAdmin_CannotTouchThisTeamsMembersOrInvitations()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        var (reviewerOfA, _) = await TestData.CreateMemberAsync(app.Services, a.Id, TeamRole.Reviewer);
        var invitationOfA = await InviteAsync(a, TeamRole.Owner, $"{TestData.Unique("a")}@example.test", TeamRole.Viewer);

        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync<MemberService, bool>(b.Id, b.OwnerId, TeamRole.Owner, async s => { await s.ChangeRoleAsync(reviewerOfA, TeamRole.Viewer); return true; }));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync<MemberService, bool>(b.Id, b.OwnerId, TeamRole.Owner, async s => { await s.RemoveAsync(reviewerOfA); return true; }));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync<MemberService, bool>(b.Id, b.OwnerId, TeamRole.Owner, async s => { await s.TransferOwnershipAsync(reviewerOfA); return true; }));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync<InvitationService, InvitationInfo>(b.Id, b.OwnerId, TeamRole.Owner, s => s.RevokeAsync(invitationOfA.Info.Id)));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync<InvitationService, IssuedInvitation>(b.Id, b.OwnerId, TeamRole.Owner, s => s.ReissueAsync(invitationOfA.Info.Id, AppBase, mail: false)));

        var membersOfB = await AsAsync<MemberService, IReadOnlyList<MemberRow>>(b.Id, b.OwnerId, TeamRole.Owner, s => s.ListAsync());
        Assert.Equal([b.OwnerId], membersOfB.Select(m => m.UserId).ToArray());
        Assert.Empty(await AsAsync<InvitationService, IReadOnlyList<InvitationInfo>>(b.Id, b.OwnerId, TeamRole.Owner, s => s.ListPendingAsync()));
        var membersOfA = await AsAsync<MemberService, IReadOnlyList<MemberRow>>(a.Id, a.OwnerId, TeamRole.Owner, s => s.ListAsync());
        Assert.Equal(TeamRole.Reviewer, membersOfA.Single(m => m.UserId == reviewerOfA).Role);
        Assert.Equal(InvitationCheck.Valid, (await AnonymousAsync(s => s.PreviewAsync(Token(invitationOfA)))).Check);
    }

    [Fact]
    public async Task ChangeRole_NobodyActsAboveTheirRank_AndTheLastOwnerStays()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (admin, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);
        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);

        await ChangeRoleAsync(team.Id, admin, TeamRole.Admin, reviewer, TeamRole.Viewer);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => ChangeRoleAsync(team.Id, admin, TeamRole.Admin, reviewer, TeamRole.Owner));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => ChangeRoleAsync(team.Id, admin, TeamRole.Admin, team.OwnerId, TeamRole.Viewer));
        var last = await Assert.ThrowsAsync<ConflictException>(() => ChangeRoleAsync(team.Id, team.OwnerId, TeamRole.Owner, team.OwnerId, TeamRole.Admin));
        Assert.Contains("last Owner", last.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<DomainValidationException>(() => ChangeRoleAsync(team.Id, team.OwnerId, TeamRole.Owner, reviewer, (TeamRole)42));

        await ChangeRoleAsync(team.Id, team.OwnerId, TeamRole.Owner, admin, TeamRole.Owner);
        await ChangeRoleAsync(team.Id, admin, TeamRole.Owner, team.OwnerId, TeamRole.Viewer);
        var members = await AsAsync<MemberService, IReadOnlyList<MemberRow>>(team.Id, admin, TeamRole.Owner, s => s.ListAsync());
        Assert.Equal([TeamRole.Owner, TeamRole.Viewer, TeamRole.Viewer], members.Select(m => m.Role).ToArray());
        Assert.Equal(admin, members[0].UserId);
        Assert.All(members, m => Assert.EndsWith("@example.test", m.Email, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Remove_AdminsCannotRemoveOwners_AndNobodyRemovesTheLastOwner()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (admin, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);
        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);

        await Assert.ThrowsAsync<PermissionDeniedException>(() => RemoveAsync(team.Id, admin, TeamRole.Admin, team.OwnerId));
        await Assert.ThrowsAsync<ConflictException>(() => RemoveAsync(team.Id, team.OwnerId, TeamRole.Owner, team.OwnerId));
        await RemoveAsync(team.Id, admin, TeamRole.Admin, reviewer);

        Assert.Empty(await Teams().GetMembershipsAsync(reviewer));
        await Assert.ThrowsAsync<NotFoundException>(() => RemoveAsync(team.Id, admin, TeamRole.Admin, reviewer));
    }

    [Fact]
    public async Task TransferOwnership_OnlyByAnOwner_WhoBecomesAnAdmin()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (admin, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);
        var (viewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);

        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync<MemberService, bool>(team.Id, admin, TeamRole.Admin, async s => { await s.TransferOwnershipAsync(viewer); return true; }));
        await Assert.ThrowsAsync<DomainValidationException>(() => AsAsync<MemberService, bool>(team.Id, team.OwnerId, TeamRole.Owner, async s => { await s.TransferOwnershipAsync(team.OwnerId); return true; }));
        await AsAsync<MemberService, bool>(team.Id, team.OwnerId, TeamRole.Owner, async s => { await s.TransferOwnershipAsync(viewer); return true; });

        var roles = (await AsAsync<MemberService, IReadOnlyList<MemberRow>>(team.Id, viewer, TeamRole.Owner, s => s.ListAsync())).ToDictionary(m => m.UserId, m => m.Role);
        Assert.Equal(TeamRole.Owner, roles[viewer]);
        Assert.Equal(TeamRole.Admin, roles[team.OwnerId]);
        Assert.Equal(TeamRole.Admin, roles[admin]);
    }

    [Fact]
    public async Task Leave_AnyMemberMay_ButNotTheLastOwner()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);

        var e = await Assert.ThrowsAsync<ConflictException>(() => AsAsync<MemberService, bool>(team.Id, team.OwnerId, TeamRole.Owner, async s => { await s.LeaveAsync(); return true; }));
        Assert.Contains("transfer ownership", e.Message, StringComparison.Ordinal);
        await AsAsync<MemberService, bool>(team.Id, reviewer, TeamRole.Reviewer, async s => { await s.LeaveAsync(); return true; });
        Assert.Empty(await Teams().GetMembershipsAsync(reviewer));
    }

    [Fact]
    public async Task TwoOwnersDemotingEachOtherAtOnce_LeaveTheTeamAnOwner()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (second, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Owner);

        var results = await Task.WhenAll(
            Outcome(() => ChangeRoleAsync(team.Id, team.OwnerId, TeamRole.Owner, second, TeamRole.Admin)),
            Outcome(() => ChangeRoleAsync(team.Id, second, TeamRole.Owner, team.OwnerId, TeamRole.Admin)));

        Assert.Equal(1, results.Count(r => r is null));
        Assert.IsType<ConflictException>(results.Single(r => r is not null));
        var members = await AsAsync<MemberService, IReadOnlyList<MemberRow>>(team.Id, team.OwnerId, TeamRole.Admin, s => s.ListAsync());
        Assert.Equal(1, members.Count(m => m.Role == TeamRole.Owner));

        static async Task<Exception?> Outcome(Func<Task> act)
        {
            try
            {
                await act();
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }
    }

    [Fact]
    public async Task MemberChanges_ReachOpenPagesThroughTheLiveBus()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var received = new TaskCompletionSource<MembersChanged>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = app.Services.GetRequiredService<ILiveBus>().Subscribe(team.Id, e =>
        {
            if (e is MembersChanged changed)
            {
                received.TrySetResult(changed);
            }

            return Task.CompletedTask;
        });

        await ChangeRoleAsync(team.Id, team.OwnerId, TeamRole.Owner, reviewer, TeamRole.Viewer);

        var changed = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([reviewer], changed.UserIds);
    }

    private Task<IssuedInvitation> InviteAsync(TestTeam team, TeamRole actorRole, string email, TeamRole role) =>
        AsAsync<InvitationService, IssuedInvitation>(team.Id, team.OwnerId, actorRole, s => s.InviteAsync(email, role, AppBase));

    private Task<bool> ChangeRoleAsync(Guid teamId, string actor, TeamRole actorRole, string target, TeamRole role) =>
        AsAsync<MemberService, bool>(teamId, actor, actorRole, async s => { await s.ChangeRoleAsync(target, role); return true; });

    private Task<bool> RemoveAsync(Guid teamId, string actor, TeamRole actorRole, string target) =>
        AsAsync<MemberService, bool>(teamId, actor, actorRole, async s => { await s.RemoveAsync(target); return true; });

    private static string Token(IssuedInvitation issued) => issued.Link[(issued.Link.LastIndexOf('/') + 1)..];

    private TeamService Teams() => app.Services.CreateScope().ServiceProvider.GetRequiredService<TeamService>();

    private async Task<TResult> AsAsync<TService, TResult>(Guid teamId, string userId, TeamRole role, Func<TService, Task<TResult>> act)
        where TService : notnull
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return await act(scope.ServiceProvider.GetRequiredService<TService>());
    }

    private async Task<TResult> AnonymousAsync<TResult>(Func<InvitationService, Task<TResult>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await act(scope.ServiceProvider.GetRequiredService<InvitationService>());
    }
}

public sealed class MemberServicePostgresTests(ClockedPostgresAppFactory app) : MemberServiceTests(app), IClassFixture<ClockedPostgresAppFactory>;

public sealed class MemberServiceSqliteTests(ClockedSqliteAppFactory app) : MemberServiceTests(app), IClassFixture<ClockedSqliteAppFactory>;
