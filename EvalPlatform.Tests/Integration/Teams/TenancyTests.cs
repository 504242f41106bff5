using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>The global query filter: a team sees its own rows and never another's.</summary>
public abstract class TenancyTests(EvalAppFactory app)
{
    [Fact]
    public async Task TeamOwnedQueries_SeeOnlyTheCurrentTeamsRows()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        await TestData.CreateKeyAsync(app.Services, a.Id, ApiKeyScopes.Read, "a1");
        await TestData.CreateKeyAsync(app.Services, a.Id, ApiKeyScopes.Read, "a2");
        await TestData.CreateKeyAsync(app.Services, b.Id, ApiKeyScopes.Read, "b1");

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(a.Id, a.OwnerId, TeamRole.Owner);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();

        Assert.Equal(["a1", "a2"], await db.ApiKeys.Select(k => k.Name).OrderBy(n => n).ToArrayAsync());
        Assert.All(await db.TeamMembers.ToListAsync(), m => Assert.Equal(a.Id, m.TeamId));
        Assert.Null(await db.ApiKeys.FirstOrDefaultAsync(k => k.TeamId == b.Id));
    }

    [Fact]
    public async Task WithoutATeam_TeamOwnedQueriesReturnNothing()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        await TestData.CreateKeyAsync(app.Services, a.Id, ApiKeyScopes.Read);

        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();

        Assert.Empty(await db.ApiKeys.ToListAsync());
        Assert.Empty(await db.TeamMembers.ToListAsync());
    }

    [Fact]
    public async Task RevokingAnotherTeamsKey_IsNotFound()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var (_, keyOfB) = await TestData.CreateKeyTeamPairAsync(app.Services);

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(a.Id, a.OwnerId, TeamRole.Owner);
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();

        await Assert.ThrowsAsync<NotFoundException>(() => keys.RevokeAsync(keyOfB.Info.Id));
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    public async Task MembersBelowAdmin_CannotManageKeys_AtTheService(TeamRole role)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, "someone", role);
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();

        await Assert.ThrowsAsync<PermissionDeniedException>(() => keys.CreateAsync("k", ApiKeyScopes.Read));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => keys.ListAsync());
    }

    [Fact]
    public async Task Admin_CreatesAKey_ShownOnceAndStoredOnlyAsPrefixAndHash()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Admin);

        var created = await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync("  ci  ", ApiKeyScopes.Ingest);

        Assert.Equal("ci", created.Info.Name);
        Assert.StartsWith(created.Info.Prefix + "_", created.Key, StringComparison.Ordinal);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var stored = await db.ApiKeys.SingleAsync(k => k.Id == created.Info.Id);
        Assert.Equal(ApiKeyToken.ComputeHash(created.Key), stored.Hash);
        Assert.DoesNotContain(created.Key, stored.Prefix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", ApiKeyScopes.Read, "name")]
    [InlineData("ok", ApiKeyScopes.None, "scopes")]
    public async Task CreatingAKey_WithBadInput_NamesTheField(string name, ApiKeyScopes scopes, string field)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);

        var error = await Assert.ThrowsAsync<DomainValidationException>(
            () => scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(name, scopes));
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public async Task TeamNames_AreUniqueRegardlessOfCase()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var other = await TestData.CreateUserAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();

        await Assert.ThrowsAsync<ConflictException>(
            () => scope.ServiceProvider.GetRequiredService<TeamService>().CreateTeamAsync(team.Name.ToUpperInvariant(), other.Id));
    }

    [Fact]
    public async Task Memberships_ListTheUsersTeams_CurrentFirst_AndSwitching()
    {
        var first = await TestData.CreateTeamAsync(app.Services);
        var second = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        var teams = scope.ServiceProvider.GetRequiredService<TeamService>();
        await teams.AddMemberAsync(second.Id, first.OwnerId, TeamRole.Reviewer);

        await teams.SelectTeamAsync(first.OwnerId, second.Id);
        var memberships = await teams.GetMembershipsAsync(first.OwnerId);

        Assert.Equal([second.Id, first.Id], memberships.Select(m => m.TeamId).ToArray());
        Assert.Equal(TeamRole.Reviewer, memberships[0].Role);
        await Assert.ThrowsAsync<NotFoundException>(() => teams.SelectTeamAsync(second.OwnerId, first.Id));
    }
}

public sealed class TenancyPostgresTests(PostgresAppFactory app) : TenancyTests(app), IClassFixture<PostgresAppFactory>;

public sealed class TenancySqliteTests(SqliteAppFactory app) : TenancyTests(app), IClassFixture<SqliteAppFactory>;
