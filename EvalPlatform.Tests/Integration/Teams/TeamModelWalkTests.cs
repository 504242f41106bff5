using System.Linq.Expressions;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>
/// Walks each provider's EF model: every entity with a <c>TeamId</c> is <see cref="ITeamOwned"/> and filtered to the current
/// team (or is in <see cref="NotTeamOwned"/> with its reason), and the filter is in the SQL of a query of each of them.
/// </summary>
public abstract class TeamModelWalkTests(EvalAppFactory app)
{
    /// <summary>Entities with a <c>TeamId</c> that are deliberately not filtered, each with why. Keep it short.</summary>
    public static readonly IReadOnlyDictionary<string, string> NotTeamOwned = new Dictionary<string, string>(StringComparer.Ordinal);

    public static IEnumerable<IEntityType> EntityTypes(EvalDbContext db) =>
        db.Model.GetEntityTypes().Where(e => !e.IsOwned() && e.ClrType != typeof(Dictionary<string, object>));

    [Fact]
    public void EveryEntityWithATeamId_IsTeamOwned_AndFiltered()
    {
        using var scope = app.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        var problems = new List<string>();
        foreach (var entity in EntityTypes(db))
        {
            var hasTeamId = entity.FindProperty(nameof(ITeamOwned.TeamId)) is not null;
            var owned = typeof(ITeamOwned).IsAssignableFrom(entity.ClrType);
            var filtered = entity.GetDeclaredQueryFilters().Count > 0;
            if (hasTeamId && !owned && !NotTeamOwned.ContainsKey(entity.ClrType.Name))
            {
                problems.Add($"{entity.ClrType.Name} has a TeamId but is not ITeamOwned (nor allow-listed with a reason)");
            }

            if (owned && !filtered)
            {
                problems.Add($"{entity.ClrType.Name} is ITeamOwned but has no query filter");
            }
        }

        Assert.Empty(problems);
        Assert.All(NotTeamOwned.Keys, name => Assert.Contains(EntityTypes(db), e => e.ClrType.Name == name));
        Assert.True(EntityTypes(db).Count(e => typeof(ITeamOwned).IsAssignableFrom(e.ClrType)) >= 30, "the walk found the team-owned entities");
    }

    [Fact]
    public void EveryTeamOwnedQuery_CarriesTheTeamFilter_InItsSql()
    {
        using var scope = app.Services.CreateScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(Guid.NewGuid(), "model walk");
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        var missing = EntityTypes(db)
            .Where(e => typeof(ITeamOwned).IsAssignableFrom(e.ClrType))
            .Where(e => !Query(db, e.ClrType).ToQueryString().Contains("CurrentTeamId", StringComparison.Ordinal))
            .Select(e => e.ClrType.Name)
            .ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public async Task TeamOwnedRows_OfOneTeam_AreInvisibleToAnother()
    {
        // Team A with its owner and a key; its rows exist (seen past the filter) and none is visible to team B.
        var a = await TestData.CreateTeamAsync(app.Services);
        await TestData.CreateKeyAsync(app.Services, a.Id, Core.Teams.ApiKeyScopes.Read);
        using var scope = app.Services.CreateScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(Guid.NewGuid(), "another team");
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        var seen = 0;
        foreach (var entity in EntityTypes(db).Where(e => typeof(ITeamOwned).IsAssignableFrom(e.ClrType)))
        {
            var stored = await CountOfTeamAsync(db, entity.ClrType, a.Id, ignoreFilters: true);
            Assert.Equal(0, await CountOfTeamAsync(db, entity.ClrType, a.Id, ignoreFilters: false));
            seen += stored > 0 ? 1 : 0;
        }

        Assert.True(seen >= 2, "team A's member and key rows were there to hide");
    }

    /// <summary><c>db.Set&lt;T&gt;()</c> for a runtime type.</summary>
    public static IQueryable Query(DbContext db, Type clrType) =>
        (IQueryable)typeof(DbContext).GetMethod(nameof(DbContext.Set), Type.EmptyTypes)!.MakeGenericMethod(clrType).Invoke(db, null)!;

    /// <summary>How many rows of <paramref name="clrType"/> belong to <paramref name="teamId"/>, with or without the team filter.</summary>
    public static Task<int> CountOfTeamAsync(DbContext db, Type clrType, Guid teamId, bool ignoreFilters) =>
        (Task<int>)typeof(TeamModelWalkTests).GetMethod(nameof(CountOfTeamGenericAsync), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(clrType).Invoke(null, [db, teamId, ignoreFilters])!;

    private static Task<int> CountOfTeamGenericAsync<T>(DbContext db, Guid teamId, bool ignoreFilters)
        where T : class, ITeamOwned
    {
        var query = ignoreFilters ? db.Set<T>().IgnoreQueryFilters() : db.Set<T>();
        Expression<Func<T, bool>> ofTeam = e => e.TeamId == teamId;
        return query.CountAsync(ofTeam);
    }
}

public sealed class TeamModelWalkPostgresTests(PostgresAppFactory app) : TeamModelWalkTests(app), IClassFixture<PostgresAppFactory>;

public sealed class TeamModelWalkSqliteTests(SqliteAppFactory app) : TeamModelWalkTests(app), IClassFixture<SqliteAppFactory>;
