using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>
/// The app on a test clock with a fake OpenAI (<see cref="OpenAi"/>) and a fake Anthropic (<see cref="Anthropic"/>) on
/// loopback ports, private targets allowed for them and a 5-second outbound timeout.
/// </summary>
public abstract class ProviderAppFactory(TestDatabase database, bool redis) : ClockedAppFactory(database, redis)
{
    public FakeOpenAiServer OpenAi { get; private set; } = default!;

    public FakeAnthropicServer Anthropic { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        OpenAi = await FakeOpenAiServer.StartNewAsync();
        Anthropic = await FakeAnthropicServer.StartNewAsync();
        await base.InitializeAsync();
        // The fakes go when the app goes (the base class's disposal is not virtual).
        Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() =>
        {
            OpenAi.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Anthropic.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
        builder.UseSetting("Outbound:TimeoutSeconds", "5");
    }

    /// <summary>A scope acting as the team's owner.</summary>
    public AsyncServiceScope ScopeFor(TestTeam team)
    {
        var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return scope;
    }

    /// <summary>Stores a connection for the team directly (the key protected as the API does), created at <paramref name="createdAt"/>.</summary>
    public async Task<ProviderConnection> AddConnectionAsync(TestTeam team, ProviderKind kind, string name, string baseUrl, string apiKey, DateTimeOffset createdAt)
    {
        await using var scope = ScopeFor(team);
        var protector = scope.ServiceProvider.GetRequiredService<IProviderKeyProtector>();
        var connection = new ProviderConnection
        {
            Id = Uuid7.Create(createdAt),
            TeamId = team.Id,
            Kind = kind,
            Name = name,
            BaseUrl = baseUrl,
            ProtectedApiKey = protector.Protect(team.Id, apiKey),
            KeyHint = apiKey[^4..],
            CreatedAt = createdAt,
        };
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        db.ProviderConnections.Add(connection);
        await db.SaveChangesAsync();
        await scope.ServiceProvider.GetRequiredService<Microsoft.Extensions.Caching.Hybrid.HybridCache>().RemoveAsync(ProviderConnections.CacheKey(team.Id));
        return connection;
    }
}

public sealed class ProviderPostgresAppFactory() : ProviderAppFactory(TestDatabase.Postgres, redis: true);

public sealed class ProviderSqliteAppFactory() : ProviderAppFactory(TestDatabase.Sqlite, redis: false);
