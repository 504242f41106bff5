using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// The app on a clock the test moves (<see cref="Clock"/>), starting at the real time. Its jobs are off: Quartz follows the
/// app's clock, so a scheduled job (the minute rollup, say) would fire whenever a test moves the clock past its time, beside
/// the work the test drives itself. The jobs' own tests run them on purpose.
/// </summary>
public abstract class ClockedAppFactory(TestDatabase database, bool redis) : EvalAppFactory(database, redis)
{
    public FakeTimeProvider Clock { get; } = new(TimeProvider.System.GetUtcNow());

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Jobs:Enabled", "false");
        builder.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(Clock));
    }
}

public sealed class ClockedPostgresAppFactory() : ClockedAppFactory(TestDatabase.Postgres, redis: true);

public sealed class ClockedSqliteAppFactory() : ClockedAppFactory(TestDatabase.Sqlite, redis: false);
