using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>A team with its owner, made through the real services.</summary>
public sealed record TestTeam(Guid Id, string Name, string OwnerId, string OwnerEmail, string OwnerPassword);

/// <summary>Creates users, teams and keys through the app's own services (no SQL shortcuts).</summary>
public static class TestData
{
    public const string Password = "correct horse battery staple";

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public static async Task<ApplicationUser> CreateUserAsync(IServiceProvider services, string? email = null)
    {
        await using var scope = services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var user = new ApplicationUser { UserName = email ?? $"{Unique("user")}@example.test", EmailConfirmed = true };
        user.Email = user.UserName;
        var result = await users.CreateAsync(user, Password);
        Assert.True(result.Succeeded, string.Join("; ", result.Errors.Select(e => e.Description)));
        return user;
    }

    public static async Task<TestTeam> CreateTeamAsync(IServiceProvider services, string? name = null)
    {
        var owner = await CreateUserAsync(services);
        await using var scope = services.CreateAsyncScope();
        var team = await scope.ServiceProvider.GetRequiredService<TeamService>().CreateTeamAsync(name ?? Unique("team"), owner.Id);
        return new TestTeam(team.Id, team.Name, owner.Id, owner.Email!, Password);
    }

    public static async Task<string> CreateUserInTeamAsync(IServiceProvider services, Guid teamId, TeamRole role) =>
        (await CreateMemberAsync(services, teamId, role)).Email;

    /// <summary>A new user with <paramref name="role"/> in the team: their id and e-mail (the password is <see cref="Password"/>).</summary>
    public static async Task<(string UserId, string Email)> CreateMemberAsync(IServiceProvider services, Guid teamId, TeamRole role)
    {
        var user = await CreateUserAsync(services);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<TeamService>().AddMemberAsync(teamId, user.Id, role);
        return (user.Id, user.Email!);
    }

    /// <summary>Another team with a key of its own: the neighbour that must stay invisible.</summary>
    public static async Task<(TestTeam Team, CreatedApiKey Key)> CreateKeyTeamPairAsync(IServiceProvider services)
    {
        var team = await CreateTeamAsync(services);
        return (team, await CreateKeyAsync(services, team.Id, ApiKeyScopes.Admin | ApiKeyScopes.Read | ApiKeyScopes.Ingest, "other team's key"));
    }

    public static async Task<CreatedApiKey> CreateKeyAsync(IServiceProvider services, Guid teamId, ApiKeyScopes scopes, string name = "test key")
    {
        await using var scope = services.CreateAsyncScope();
        // Issued as the team's operator would (the admin command line acts for the team), so the write guard sees its own team.
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(teamId, Guid.Empty, ApiKeyScopes.Admin);
        var db = scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>();
        return await ApiKeyService.IssueAsync(db, TimeProvider.System, teamId, name, scopes, createdBy: null);
    }
}
