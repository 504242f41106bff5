using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>
/// Which connection a call uses (<see cref="IProviderConnections"/>): by kind (OpenAI-shaped calls take OpenAI and
/// compatible servers), the oldest first, by name when given; keys encrypted at rest; nothing across teams; and the usage
/// rows <see cref="IProviderUsage"/> leaves.
/// </summary>
public abstract class ProviderConnectionsTests(ProviderAppFactory app)
{
    [Fact]
    public async Task Resolve_TakesTheOldestOfTheKind_OrTheNamedOne_AndOpenAiShapedCallsMatchCompatibleServers()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var t0 = app.Clock.GetUtcNow();
        var compatible = await app.AddConnectionAsync(team, ProviderKind.OpenAiCompatible, "local vllm", "http://vllm.internal/v1", "key-vllm-aaaa", t0.AddMinutes(-10));
        var openAi = await app.AddConnectionAsync(team, ProviderKind.OpenAi, "openai prod", ProviderKinds.OpenAiDefaultBaseUrl, "sk-prod-bbbb", t0.AddMinutes(-5));
        var anthropic = await app.AddConnectionAsync(team, ProviderKind.Anthropic, "claude", ProviderKinds.AnthropicDefaultBaseUrl, "sk-ant-cccc", t0);

        await using var scope = app.ScopeFor(team);
        var connections = scope.ServiceProvider.GetRequiredService<IProviderConnections>();

        var first = await connections.ResolveAsync(ProviderKind.OpenAi, null, default);
        Assert.Equal(compatible.Id, first!.ConnectionId);
        Assert.Equal("key-vllm-aaaa", first.ApiKey);
        Assert.Equal(new Uri("http://vllm.internal/v1"), first.BaseUrl);

        var named = await connections.ResolveAsync(ProviderKind.OpenAi, "openai prod", default);
        Assert.Equal(openAi.Id, named!.ConnectionId);
        Assert.Equal("sk-prod-bbbb", named.ApiKey);
        Assert.Equal(ProviderKind.OpenAi, named.Kind);

        var claude = await connections.ResolveAsync(ProviderKind.Anthropic, null, default);
        Assert.Equal(anthropic.Id, claude!.ConnectionId);
        Assert.Equal("sk-ant-cccc", claude.ApiKey);

        // A name of the other kind does not match; an unknown name neither.
        Assert.Null(await connections.ResolveAsync(ProviderKind.Anthropic, "openai prod", default));
        Assert.Null(await connections.ResolveAsync(ProviderKind.OpenAi, "no such", default));
        Assert.Equal(anthropic.Id, (await connections.FindAsync(anthropic.Id, default))!.ConnectionId);
    }

    [Fact]
    public async Task ADeletedOrAddedConnection_IsSeenAtOnce_ThoughTheTeamsListIsCached()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var old = await app.AddConnectionAsync(team, ProviderKind.OpenAi, "old", ProviderKinds.OpenAiDefaultBaseUrl, "sk-old-key-1111", app.Clock.GetUtcNow().AddMinutes(-1));
        await using var scope = app.ScopeFor(team);
        var connections = scope.ServiceProvider.GetRequiredService<IProviderConnections>();
        var providers = scope.ServiceProvider.GetRequiredService<ProviderService>();
        Assert.Equal(old.Id, (await connections.ResolveAsync(ProviderKind.OpenAi, null, default))!.ConnectionId); // now cached

        await providers.DeleteAsync(old.Id);
        Assert.Null(await connections.ResolveAsync(ProviderKind.OpenAi, null, default));

        var added = await providers.CreateAsync(new ProviderInput("openai", "new", app.OpenAi.BaseUrl, "sk-new-key-2222"));
        var resolved = await connections.ResolveAsync(ProviderKind.OpenAi, null, default);
        Assert.Equal(added.Id, resolved!.ConnectionId);
        Assert.Equal("sk-new-key-2222", resolved.ApiKey);
    }

    [Fact]
    public async Task Keys_AreEncryptedAtRest_AndNoConnectionCrossesTeams()
    {
        var mine = await TestData.CreateTeamAsync(app.Services);
        var theirs = await TestData.CreateTeamAsync(app.Services);
        const string key = "sk-very-secret-key-9876";
        var connection = await app.AddConnectionAsync(mine, ProviderKind.OpenAi, "prod", ProviderKinds.OpenAiDefaultBaseUrl, key, app.Clock.GetUtcNow());

        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var stored = await db.ProviderConnections.IgnoreQueryFilters().AsNoTracking().SingleAsync(c => c.Id == connection.Id);
            Assert.DoesNotContain(key, stored.ProtectedApiKey, StringComparison.Ordinal);
            Assert.Equal("9876", stored.KeyHint);
        }

        await using var other = app.ScopeFor(theirs);
        var connections = other.ServiceProvider.GetRequiredService<IProviderConnections>();
        Assert.Null(await connections.ResolveAsync(ProviderKind.OpenAi, null, default));
        Assert.Null(await connections.ResolveAsync(ProviderKind.OpenAi, "prod", default));
        Assert.Null(await connections.FindAsync(connection.Id, default));

        // A key protected for one team does not open for another, even when read past the filter.
        var protector = other.ServiceProvider.GetRequiredService<IProviderKeyProtector>();
        var protectedForMine = protector.Protect(mine.Id, key);
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => protector.Unprotect(theirs.Id, protectedForMine));
    }

    [Fact]
    public async Task Usage_RecordsEachCallForTheTeamInContext_AndRefusesAnotherTeams()
    {
        var mine = await TestData.CreateTeamAsync(app.Services);
        var theirs = await TestData.CreateTeamAsync(app.Services);
        var connection = await app.AddConnectionAsync(mine, ProviderKind.Anthropic, "claude", ProviderKinds.AnthropicDefaultBaseUrl, "sk-ant-1234", app.Clock.GetUtcNow());

        await using (var scope = app.ScopeFor(mine))
        {
            var usage = scope.ServiceProvider.GetRequiredService<IProviderUsage>();
            await usage.RecordAsync(new ProviderCall { ConnectionId = connection.Id, Source = ProviderCallSource.Playground, Model = "claude-sonnet-4", InputTokens = 12, OutputTokens = 30, Cost = 0.000486m, LatencyMs = 812.5, TimeToFirstTokenMs = 140, Status = 200 }, default);
            await usage.RecordAsync(new ProviderCall { ConnectionId = connection.Id, Source = ProviderCallSource.Evaluator, LatencyMs = 30, Status = 429, IsError = true }, default);
            await Assert.ThrowsAsync<InvalidOperationException>(() => usage.RecordAsync(new ProviderCall { TeamId = theirs.Id, ConnectionId = connection.Id, LatencyMs = 1 }, default));

            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var calls = await db.ProviderCalls.AsNoTracking().Where(c => c.ConnectionId == connection.Id).ToListAsync();
            Assert.Equal(2, calls.Count);
            Assert.All(calls, c => Assert.Equal(mine.Id, c.TeamId));
            var answered = calls.Single(c => !c.IsError);
            Assert.Equal(0.000486m, answered.Cost);
            Assert.Equal(140, answered.TimeToFirstTokenMs);
            Assert.Equal(ProviderCallSource.Playground, answered.Source);
            Assert.NotEqual(default, answered.At);
        }

        await using var other = app.ScopeFor(theirs);
        await using var theirDb = await other.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        Assert.Empty(await theirDb.ProviderCalls.ToListAsync());
    }
}

public sealed class PostgresProviderConnectionsTests(ProviderPostgresAppFactory app) : ProviderConnectionsTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqliteProviderConnectionsTests(ProviderSqliteAppFactory app) : ProviderConnectionsTests(app), IClassFixture<ProviderSqliteAppFactory>;
