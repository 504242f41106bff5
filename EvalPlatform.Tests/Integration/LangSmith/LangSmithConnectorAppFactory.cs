using EvalPlatform.Core.Data;
using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// The app on a test clock with its jobs off (tests run the sync themselves), a fake LangSmith (<see cref="LangSmith"/>) on a
/// loopback port that private targets are allowed for, and short backoffs. A second host on the same database (a restart)
/// takes <paramref name="sharedConnectionString"/> and the first host's fake.
/// </summary>
public class LangSmithConnectorAppFactory(TestDatabase database, bool redis, string? sharedConnectionString = null, FakeLangSmithServer? sharedFake = null)
    : EvalAppFactory(database, redis, sharedConnectionString: sharedConnectionString)
{
    public FakeTimeProvider Clock { get; } = new(TimeProvider.System.GetUtcNow());

    public FakeLangSmithServer LangSmith { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        LangSmith = sharedFake ?? await FakeLangSmithServer.StartNewAsync();
        await base.InitializeAsync();
        if (sharedFake is null)
        {
            // The fake goes when the app goes (the base class's disposal is not virtual).
            Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() => LangSmith.DisposeAsync().AsTask().GetAwaiter().GetResult());
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Jobs:Enabled", "false");
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
        builder.UseSetting("LangSmithImport:BackoffSeconds", "0.05");
        builder.UseSetting("LangSmithImport:MaxRetryAfterSeconds", "5");
        builder.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(Clock));
    }

    /// <summary>Syncs the connection now, as the sync job does (acting for its team).</summary>
    public async Task<LangSmithSyncOutcome> SyncAsync(Guid teamId, Guid connectionId, CancellationToken ct = default)
    {
        await using var scope = Services.CreateAsyncScope();
        var outcome = await scope.ServiceProvider.GetRequiredService<LangSmithSync>().SyncOneAsync(teamId, connectionId, ct);
        Assert.NotNull(outcome);
        return outcome;
    }

    /// <summary>One pass of the outbox's delivery job (LangSmith feedback among its rows).</summary>
    public async Task<DeliveryRun> DeliverAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<NotificationDeliverer>().DeliverDueAsync();
    }

    /// <summary>A context reading as the team's owner.</summary>
    public async Task<T> ReadAsync<T>(TestTeam team, Func<IEvalDbContext, Task<T>> read)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await read(db);
    }
}

public sealed class LangSmithConnectorPostgresAppFactory() : LangSmithConnectorAppFactory(TestDatabase.Postgres, redis: true);

public sealed class LangSmithConnectorSqliteAppFactory() : LangSmithConnectorAppFactory(TestDatabase.Sqlite, redis: false);
