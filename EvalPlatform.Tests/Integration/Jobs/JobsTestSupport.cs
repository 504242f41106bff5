using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvalPlatform.Tests.Integration.Jobs;

/// <summary>
/// A real <see cref="IMetricsRollup"/> whose answer the test decides: the jobs runtime is what is under test, so the rollup
/// stands for whichever implementation the build registers. It counts its calls and fails with the test's message when told.
/// </summary>
public sealed class ControlledRollup : IMetricsRollup
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>When set, every call throws <see cref="InvalidOperationException"/> with this message.</summary>
    public string? FailWith { get; set; }

    public Task<RollupRun> RollUpAsync(CancellationToken ct = default)
    {
        Interlocked.Increment(ref _calls);
        return FailWith is { } message ? throw new InvalidOperationException(message) : Task.FromResult(new RollupRun(0, 0, 0));
    }
}

/// <summary>The app with <see cref="ControlledRollup"/> as its rollup (whatever the build registers is replaced).</summary>
public abstract class RollupAppFactory(TestDatabase database, bool kestrel = false) : EvalAppFactory(database, redis: kestrel, kestrel: kestrel)
{
    public ControlledRollup Rollup { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s =>
        {
            s.RemoveAll<IMetricsRollup>();
            s.AddSingleton<IMetricsRollup>(Rollup);
        });
    }
}

public sealed class RollupPostgresAppFactory() : RollupAppFactory(TestDatabase.Postgres);

public sealed class RollupSqliteAppFactory() : RollupAppFactory(TestDatabase.Sqlite);

/// <summary>For the browser: the app on a real port, on PostgreSQL with Redis, with a controlled rollup.</summary>
public sealed class RollupKestrelAppFactory() : RollupAppFactory(TestDatabase.Postgres, kestrel: true);

/// <summary>The app as a build without any rollup implementation (before the metrics feature is merged, or with it removed).</summary>
public sealed class NoRollupAppFactory() : EvalAppFactory(TestDatabase.Sqlite)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s => s.RemoveAll<IMetricsRollup>());
    }
}

internal static class JobRuns
{
    public static async Task<List<JobRun>> OfAsync(IServiceProvider services, string jobKey)
    {
        await using var scope = services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.JobRuns.AsNoTracking().Where(r => r.JobKey == jobKey).OrderBy(r => r.StartedAt).ToListAsync();
    }

    /// <summary>Waits (polling the run log) until <paramref name="condition"/> holds for the job's runs; fails after <paramref name="timeout"/>.</summary>
    public static async Task<List<JobRun>> WaitForAsync(IServiceProvider services, string jobKey, Func<List<JobRun>, bool> condition, TimeSpan? timeout = null)
    {
        List<JobRun> runs = [];
        await Wait.UntilAsync(async () => condition(runs = await OfAsync(services, jobKey)), $"the run log of {jobKey}", timeout,
            () => $"It has {runs.Count} runs: " + string.Join("; ", runs.Select(r => $"{r.Outcome} manual={r.Manual} {r.Error}")));
        return runs;
    }

    public static Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        Wait.UntilAsync(condition, what, timeout);
}
