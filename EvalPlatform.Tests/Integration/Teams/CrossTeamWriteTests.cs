using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>Writes are guarded like reads: a team-owned row is saved only for the current team, unless the writer says otherwise.</summary>
public abstract class CrossTeamWriteTests(EvalAppFactory app)
{
    [Fact]
    public async Task AddingAnotherTeamsRow_Throws_AndStoresNothing()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        await using (var scope = ActingFor(a))
        await using (var db = await Factory(scope).CreateAsync())
        {
            db.ApiKeys.Add(NewKey(b.Id, "smuggled"));
            var error = await Assert.ThrowsAsync<CrossTeamWriteException>(() => db.SaveChangesAsync());
            Assert.Equal(b.Id, error.RowTeamId);
            Assert.Equal(nameof(ApiKey), error.Entity);
        }

        Assert.Equal(0, await CountKeysAsync(b.Id, "smuggled"));
    }

    [Fact]
    public async Task ChangingOrDeletingAnotherTeamsRow_Throws()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        var keyOfB = await TestData.CreateKeyAsync(app.Services, b.Id, ApiKeyScopes.Read, "b's key");

        await using var scope = ActingFor(a);
        await using (var db = await Factory(scope).CreateAsync())
        {
            var row = await db.ApiKeys.IgnoreQueryFilters().SingleAsync(k => k.Id == keyOfB.Info.Id);
            row.Name = "renamed by a";
            await Assert.ThrowsAsync<CrossTeamWriteException>(() => db.SaveChangesAsync());
        }

        await using (var db = await Factory(scope).CreateAsync())
        {
            db.ApiKeys.Remove(await db.ApiKeys.IgnoreQueryFilters().SingleAsync(k => k.Id == keyOfB.Info.Id));
            await Assert.ThrowsAsync<CrossTeamWriteException>(() => db.SaveChangesAsync());
        }

        Assert.Equal(1, await CountKeysAsync(b.Id, "b's key"));
    }

    [Fact]
    public async Task MovingOwnRowToAnotherTeam_Throws()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        var keyOfA = await TestData.CreateKeyAsync(app.Services, a.Id, ApiKeyScopes.Read, "a's key");

        await using var scope = ActingFor(a);
        await using var db = await Factory(scope).CreateAsync();
        var row = await db.ApiKeys.SingleAsync(k => k.Id == keyOfA.Info.Id);
        row.TeamId = b.Id;
        await Assert.ThrowsAsync<CrossTeamWriteException>(() => db.SaveChangesAsync());
        Assert.Equal(0, await CountKeysAsync(b.Id, "a's key"));
    }

    [Fact]
    public async Task WithoutATeam_TeamOwnedWritesThrow()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await Factory(scope).CreateAsync();
        db.ApiKeys.Add(NewKey(a.Id, "unscoped"));
        await Assert.ThrowsAsync<CrossTeamWriteException>(() => db.SaveChangesAsync());
    }

    [Fact]
    public async Task OwnTeamsRows_AndTheExplicitWay_AreSaved()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        await using var scope = ActingFor(a);
        await using (var db = await Factory(scope).CreateAsync())
        {
            db.ApiKeys.Add(NewKey(a.Id, "own"));
            await db.SaveChangesAsync();
        }

        await using (var db = await Factory(scope).CreateAsync())
        {
            db.AllowCrossTeamWrites();
            db.ApiKeys.Add(NewKey(b.Id, "declared"));
            await db.SaveChangesAsync();
        }

        Assert.Equal(1, await CountKeysAsync(a.Id, "own"));
        Assert.Equal(1, await CountKeysAsync(b.Id, "declared"));
    }

    [Fact]
    public async Task TheKnownCrossTeamWriters_StillWork()
    {
        // Team creation, a member added by the operator, choosing one's team: each writes a team the caller does not act in.
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        await using var scope = ActingFor(a);
        var teams = scope.ServiceProvider.GetRequiredService<TeamService>();
        await teams.AddMemberAsync(b.Id, a.OwnerId, TeamRole.Viewer);
        await teams.SelectTeamAsync(a.OwnerId, b.Id);
        Assert.Equal(b.Id, (await teams.GetMembershipsAsync(a.OwnerId))[0].TeamId);
    }

    private AsyncServiceScope ActingFor(TestTeam team)
    {
        var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return scope;
    }

    private static IEvalDbContextFactory Factory(AsyncServiceScope scope) => scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>();

    private static ApiKey NewKey(Guid teamId, string name)
    {
        var (_, prefix, hash) = ApiKeyToken.Generate();
        return new ApiKey { Id = Uuid7.Create(TimeProvider.System.GetUtcNow()), TeamId = teamId, Name = name, Prefix = prefix, Hash = hash, Scopes = ApiKeyScopes.Read, CreatedAt = TimeProvider.System.GetUtcNow() };
    }

    private async Task<int> CountKeysAsync(Guid teamId, string name)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await Factory(scope).CreateAsync();
        return await db.ApiKeys.IgnoreQueryFilters().CountAsync(k => k.TeamId == teamId && k.Name == name);
    }
}

public sealed class CrossTeamWritePostgresTests(PostgresAppFactory app) : CrossTeamWriteTests(app), IClassFixture<PostgresAppFactory>;

public sealed class CrossTeamWriteSqliteTests(SqliteAppFactory app) : CrossTeamWriteTests(app), IClassFixture<SqliteAppFactory>;
