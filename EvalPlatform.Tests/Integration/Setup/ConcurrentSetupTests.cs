using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Setup;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Integration.Setup;

/// <summary>
/// Issue 12: two nodes of one installation started together, each asked to set up at the same moment. The database
/// decides: one Owner and one team, the other node's request refused in words, nothing half made.
/// </summary>
public sealed class ConcurrentSetupTests : IAsyncLifetime
{
    private readonly EvalAppFactory _first = new(TestDatabase.Postgres);
    private EvalAppFactory _second = default!;

    public async Task InitializeAsync()
    {
        await _first.InitializeAsync();
        _second = new EvalAppFactory(TestDatabase.Postgres, sharedConnectionString: _first.ConnectionString);
        await _second.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await ((IAsyncLifetime)_second).DisposeAsync();
        await ((IAsyncLifetime)_first).DisposeAsync();
    }

    [Fact]
    public async Task TwoNodesSettingUpAtOnce_MakeOneOwnerAndOneTeam_TheOtherIsRefused()
    {
        var answers = await Task.WhenAll(
            SetUpAsync(_first, "first@example.test", "Team one"),
            SetUpAsync(_second, "second@example.test", "Team two"));

        Assert.Single(answers, a => a.Count == 0);
        var refused = Assert.Single(answers, a => a.Count > 0);
        Assert.Equal(SetupService.AlreadySetUp, refused[""]);
        await using var scope = _first.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        Assert.Equal(1, await db.Users.CountAsync());
        Assert.Equal(1, await db.Teams.IgnoreQueryFilters().CountAsync());
        Assert.Equal(1, await db.TeamMembers.IgnoreQueryFilters().CountAsync());
    }

    [Fact]
    public void WithoutAConfiguredToken_EachStartMakesItsOwn_AndOnlyThatOneMatches()
    {
        var made = new SetupToken(Options.Create(new SetupOptions()));
        var other = new SetupToken(Options.Create(new SetupOptions { Token = " " }));

        Assert.False(made.FromConfiguration);
        Assert.Equal(32, made.Value.Length);
        Assert.NotEqual(made.Value, other.Value);
        Assert.True(made.Matches($"  {made.Value} "));
        Assert.False(made.Matches(other.Value));
        Assert.False(made.Matches(null));
        Assert.True(new SetupToken(Options.Create(new SetupOptions { Token = "chosen" })).Matches("chosen"));
    }

    private static async Task<IReadOnlyDictionary<string, string>> SetUpAsync(EvalAppFactory node, string email, string team)
    {
        await using var scope = node.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<SetupService>()
            .CompleteAsync(new SetupRequest(team, email, "a long enough passphrase", null, TestEnvironment.SetupToken));
    }
}
