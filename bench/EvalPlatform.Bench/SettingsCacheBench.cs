using System.Diagnostics;
using System.Diagnostics.Metrics;
using EvalPlatform.Core;
using EvalPlatform.Core.Caching;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Data;
using EvalPlatform.Web.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EvalPlatform.Bench;

/// <summary>
/// The settings cache under load (ADR 48, issue 14): the app's own services (Core and Data, HybridCache on the bench Redis,
/// the Redis live bus) on the bench database, built as the app builds them but without HTTP, so the figures are the
/// reads themselves. Workers read a random team's review settings and check its API key, as every review call and every
/// API request does, while one writer changes a team's score scale now and then (each change invalidates the entry on
/// every node). Run with the caches on, then off (<see cref="SettingsCacheOptions"/>): hit rate as the app counts it
/// (<c>evalplatform.cache.requests</c>) and p50/p99 of each read.
/// </summary>
internal static class SettingsCacheBench
{
    private sealed record BenchTeam(Guid Id, Guid KeyId, string Key);

    private sealed class Latencies
    {
        public List<double> Settings { get; } = new(100_000);
        public List<double> Keys { get; } = new(100_000);
    }

    public static async Task<int> RunAsync(BenchSettings settings, CancellationToken ct)
    {
        await using (var connection = new NpgsqlConnection(settings.Postgres))
        {
            await connection.OpenAsync(ct);
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS {settings.Database} WITH (FORCE)", connection).ExecuteNonQueryAsync(ct);
            await new NpgsqlCommand($"CREATE DATABASE {settings.Database}", connection).ExecuteNonQueryAsync(ct);
        }

        Console.WriteLine($"Settings cache bench: {settings.CacheTeams} teams, {settings.CacheWorkers} workers, {settings.CacheSeconds} s a side " +
            $"after {settings.CacheWarmupSeconds} s of warm-up, a team's setting changed every {settings.CacheWriteMs} ms.");
        List<BenchTeam>? teams = null;
        foreach (var enabled in new[] { true, false })
        {
            await using var app = Build(settings, enabled);
            if (teams is null)
            {
                await using (var scope = app.Services.CreateAsyncScope())
                {
                    await scope.ServiceProvider.GetRequiredService<DatabaseMigrator>().MigrateAsync(ct);
                }

                teams = await SeedAsync(app.Services, settings.CacheTeams, ct);
            }

            // Subscribes this "node" to the live bus (the app does the same at start), so invalidations arrive.
            _ = app.Services.GetRequiredService<ILiveBus>();
            await RunSideAsync(app.Services, teams, settings, enabled, ct);
        }

        return 0;
    }

    private static WebApplication Build(BenchSettings settings, bool enabled)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = settings.AppPostgres,
            [RedisConnection.SettingName] = settings.Redis,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddEvalData();
        builder.Services.AddEvalCore();
        builder.AddEvalCache();
        builder.Services.Configure<SettingsCacheOptions>(o => o.Enabled = enabled);
        return builder.Build();
    }

    /// <summary>Teams with an admin+read key each, and their review settings stored (the first read creates them).</summary>
    private static async Task<List<BenchTeam>> SeedAsync(IServiceProvider services, int count, CancellationToken ct)
    {
        var clock = TimeProvider.System;
        var teams = new List<BenchTeam>(count);
        for (var i = 0; i < count; i++)
        {
            var teamId = Uuid7.Create(clock.GetUtcNow());
            await using var scope = services.CreateAsyncScope();
            var context = scope.ServiceProvider.GetRequiredService<TeamContext>();
            context.SetApiKey(teamId, Guid.Empty, ApiKeyScopes.Admin);
            var factory = scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>();
            await using (var db = await factory.CreateAsync(ct))
            {
                db.AllowCrossTeamWrites();
                await db.Teams.AddAsync(new Team { Id = teamId, Name = $"bench {i}", NormalizedName = $"BENCH {i}", CreatedAt = clock.GetUtcNow() }, ct);
                await db.SaveChangesAsync(ct);
            }

            var key = await ApiKeyService.IssueAsync(factory, clock, teamId, "bench", ApiKeyScopes.Admin | ApiKeyScopes.Read, createdBy: null, ct);
            context.SetApiKey(teamId, key.Info.Id, ApiKeyScopes.Admin | ApiKeyScopes.Read);
            await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().GetAsync(ct);
            teams.Add(new BenchTeam(teamId, key.Info.Id, key.Key));
        }

        return teams;
    }

    private static async Task RunSideAsync(IServiceProvider services, List<BenchTeam> teams, BenchSettings settings, bool enabled, CancellationToken ct)
    {
        var counts = new Dictionary<(string Cache, string Result), long>();
        var counting = false;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "EvalPlatform" && instrument.Name == "evalplatform.cache.requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (!Volatile.Read(ref counting))
            {
                return;
            }

            string? cache = null, result = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "cache")
                {
                    cache = tag.Value as string;
                }
                else if (tag.Key == "result")
                {
                    result = tag.Value as string;
                }
            }

            lock (counts)
            {
                counts[(cache ?? "?", result ?? "?")] = counts.GetValueOrDefault((cache ?? "?", result ?? "?")) + value;
            }
        });
        listener.Start();

        // Warm-up (JIT, connection pool, the caches filled), then the timed window.
        await LoadAsync(services, teams, settings, TimeSpan.FromSeconds(settings.CacheWarmupSeconds), ct);
        Volatile.Write(ref counting, true);
        var (latencies, changes, elapsed) = await LoadAsync(services, teams, settings, TimeSpan.FromSeconds(settings.CacheSeconds), ct);
        Volatile.Write(ref counting, false);

        Console.WriteLine();
        Console.WriteLine($"caches {(enabled ? "ON" : "OFF")}: {changes} setting changes in {elapsed.TotalSeconds:0.0} s");
        Print("review settings read", ReviewSettingsService.CacheName, latencies.SelectMany(l => l.Settings).ToList(), counts, elapsed);
        Print("API key check", ApiKeyCache.MetricName, latencies.SelectMany(l => l.Keys).ToList(), counts, elapsed);
    }

    private static void Print(string what, string cache, List<double> times, Dictionary<(string Cache, string Result), long> counts, TimeSpan elapsed)
    {
        times.Sort();
        double At(double q) => times.Count == 0 ? double.NaN : times[(int)Math.Min(times.Count - 1, Math.Ceiling(times.Count * q) - 1)];
        var hits = counts.GetValueOrDefault((cache, "hit"));
        var misses = counts.GetValueOrDefault((cache, "miss"));
        var rate = hits + misses == 0 ? double.NaN : (double)hits / (hits + misses);
        Console.WriteLine($"  {what,-22} {times.Count,9:N0} reads {times.Count / elapsed.TotalSeconds,9:N0}/s   hit rate {rate,6:0.0000} " +
            $"({hits:N0} hits, {misses:N0} misses)   p50 {At(0.50),7:0.000} ms   p99 {At(0.99),7:0.000} ms   max {At(1.0),8:0.000} ms");
    }

    /// <summary>The workers and the writer for <paramref name="length"/>: per worker the latencies, the changes made, the wall time.</summary>
    private static async Task<(List<Latencies> Latencies, int Changes, TimeSpan Elapsed)> LoadAsync(
        IServiceProvider services, List<BenchTeam> teams, BenchSettings settings, TimeSpan length, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var started = Stopwatch.StartNew();
        var authenticator = services.GetRequiredService<ApiKeyAuthenticator>();
        var workers = Enumerable.Range(0, settings.CacheWorkers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var mine = new Latencies();
            while (started.Elapsed < length)
            {
                var team = teams[random.Next(teams.Count)];
                var t0 = Stopwatch.GetTimestamp();
                var check = await authenticator.CheckAsync(team.Key, ct);
                mine.Keys.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (check.Result != ApiKeyCheckResult.Valid)
                {
                    throw new InvalidOperationException($"The bench key of team {team.Id} was refused: {check.Result}.");
                }

                await using var scope = services.CreateAsyncScope();
                scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(team.Id, team.KeyId, ApiKeyScopes.Read);
                var t1 = Stopwatch.GetTimestamp();
                await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().GetAsync(ct);
                mine.Settings.Add(Stopwatch.GetElapsedTime(t1).TotalMilliseconds);
            }

            return mine;
        }, ct)).ToList();

        var changes = 0;
        var writer = Task.Run(async () =>
        {
            var random = new Random(1234);
            var fiveScale = new HashSet<Guid>();
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(settings.CacheWriteMs));
            while (started.Elapsed < length && await timer.WaitForNextTickAsync(ct))
            {
                var team = teams[random.Next(teams.Count)];
                await using var scope = services.CreateAsyncScope();
                scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, "bench-owner", TeamRole.Owner); // changing review settings needs a member role
                // Flips the scale (a real change: audited, committed, invalidated on every node); the writer keeps its own
                // note of each team's scale so that its reads do not count in the figures.
                var five = fiveScale.Add(team.Id) || !fiveScale.Remove(team.Id);
                await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>()
                    .SetScaleAsync(five ? ScoreScale.OneToFive : ScoreScale.GoodBad, ct);
                changes++;
            }
        }, ct);

        var latencies = (await Task.WhenAll(workers)).ToList();
        await writer;
        return (latencies, changes, started.Elapsed);
    }
}
