using EvalPlatform.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Infrastructure;

public enum TestDatabase
{
    Postgres,
    Sqlite,
}

/// <summary>
/// The real app (its Program) on a real database: a fresh PostgreSQL database on the test
/// cluster, or a fresh SQLite file; with Redis when asked; on a real Kestrel port when asked.
/// </summary>
public class EvalAppFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    private readonly TestDatabase _database;
    private readonly bool _redis;
    private readonly bool _kestrel;
    private PostgresTestDatabase? _postgres;
    private string? _sqliteFolder;

    private readonly string? _sharedConnectionString;

    public EvalAppFactory(TestDatabase database, bool redis = false, bool kestrel = false, string? sharedConnectionString = null, string? schedulerName = null)
    {
        _database = database;
        _redis = redis;
        _kestrel = kestrel;
        _sharedConnectionString = sharedConnectionString;
        SchedulerName = schedulerName ?? $"EvalTest-{Guid.NewGuid():N}";
    }

    /// <summary>
    /// The Quartz scheduler's name (Jobs:SchedulerName): unique per host unless given, so two hosts on one database never run
    /// each other's jobs; the two nodes of a cluster test pass the same one.
    /// </summary>
    public string SchedulerName { get; }

    /// <summary>Where a browser reaches the app (only with a Kestrel port).</summary>
    public Uri ServerAddress { get; private set; } = default!;

    public string ConnectionString { get; private set; } = "";

    public TestDatabase Database => _database;

    public virtual async Task InitializeAsync()
    {
        if (_sharedConnectionString is not null)
        {
            // A second node of the same installation: same database, no database of its own to drop.
            ConnectionString = _sharedConnectionString;
        }
        else if (_database == TestDatabase.Postgres)
        {
            _postgres = await PostgresTestDatabase.CreateAsync();
            ConnectionString = _postgres.ConnectionString;
        }
        else
        {
            _sqliteFolder = Directory.CreateTempSubdirectory("evaltest-").FullName;
            ConnectionString = $"Data Source={Path.Combine(_sqliteFolder, "eval.db")}";
        }

        if (_kestrel)
        {
            UseKestrel(0);
            StartServer();
            var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            ServerAddress = new Uri(addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
        }
        else
        {
            _ = Server;
        }

        // Guard against the test silently running on the wrong database.
        var target = Services.GetRequiredService<DatabaseTarget>();
        Assert.Equal(_database == TestDatabase.Postgres ? DatabaseProvider.Postgres : DatabaseProvider.Sqlite, target.Provider);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("ConnectionStrings:Postgres", _database == TestDatabase.Postgres ? ConnectionString : "");
        builder.UseSetting("ConnectionStrings:Sqlite", _database == TestDatabase.Sqlite ? ConnectionString : "");
        builder.UseSetting("ConnectionStrings:Redis", _redis ? TestEnvironment.Redis : "");
        builder.UseSetting("Jobs:SchedulerName", SchedulerName);
        builder.UseSetting("Setup:Token", TestEnvironment.SetupToken);
        // Every host counts its own rate limits in the shared test Redis (a per-address sign-in limit would otherwise add up
        // across the whole run); the nodes of one cluster test share the scheduler name, and so their counters too.
        builder.UseSetting("RateLimits:RedisKeyPrefix", $"evaltest:{SchedulerName}:ratelimit:");
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        if (_sqliteFolder is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_sqliteFolder, recursive: true);
        }
    }
}

public sealed class PostgresAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true);

public sealed class SqliteAppFactory() : EvalAppFactory(TestDatabase.Sqlite);
