using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Traces;
using EvalPlatform.Data;
using EvalPlatform.Data.Ingestion;
using EvalPlatform.Data.Postgres;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Trace = EvalPlatform.Core.Traces.Trace;
using static EvalPlatform.Bench.IngestionBench;

namespace EvalPlatform.Bench;

/// <summary>
/// The analytics figures of issue 15 (<c>bench/run.sh --analytics</c>): a month of traces with reviews on the durable
/// PostgreSQL, the rollup's throughput over them, the dashboard's queries over HTTP, ingestion with and without the
/// rollup running beside it, and how soon a new trace counts.
/// </summary>
internal static class AnalyticsBench
{
    private const double TargetQueryP99Ms = 200;
    private const double AimQueryP99Ms = 50;
    private const double TargetRollupPerSecond = 10_000;
    private const double TargetIngestRatio = 0.9;
    private const double TargetLiveP95Ms = 1_000;

    private static readonly (string Model, string Provider, double Price)[] Models =
        [("gpt-4o", "openai", 0.000_01), ("gpt-4o-mini", "openai", 0.000_000_6), ("claude-sonnet-4", "anthropic", 0.000_015), ("llama-3.1-70b", "groq", 0.000_000_8)];

    private static readonly string?[] Reasons = ["hallucination", "off_topic", "incorrect_tool_call", "tone", null];

    public static async Task<int> RunAsync(BenchSettings s, CancellationToken ct)
    {
        if (!File.Exists(s.WebDll))
        {
            await Console.Error.WriteLineAsync($"bench: {s.WebDll} is missing; build first: dotnet build bench/EvalPlatform.Bench -c Release");
            return 1;
        }

        Log($"creating database '{s.Database}' on {Describe(s.Postgres)}");
        await RecreateDatabaseAsync(s, ct);
        var server = await ServerSettingsAsync(s.AppPostgres, ct);

        // The app's own jobs are off: the bench runs the same rollup service itself, so that it can time each run
        // and run it beside ingestion on purpose. The app still answers every query, live edge included.
        var environment = AppHost.Environment(s.AppPostgres, s.Redis);
        environment["Jobs__Enabled"] = "false";
        Log($"starting the app: dotnet {s.WebDll}");
        await using var app = await AppHost.StartAsync(s.WebDll, environment, AppLogPath(s), ct);
        if (s.PidFile is not null)
        {
            await File.WriteAllTextAsync(s.PidFile, app.ProcessId.ToString(CultureInfo.InvariantCulture), ct);
        }

        await AppHost.AdminAsync(s.WebDll, environment, ["create-team", "--name", "bench", "--owner", "bench@example.test", "--password-stdin"], "Bench-Passw0rd!2026", ct);
        var key = (await AppHost.AdminAsync(s.WebDll, environment, ["create-api-key", "--team", "bench", "--name", "bench", "--scopes", "ingest,read"], null, ct)).Trim();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseProxy = false, UseCookies = false };
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var teamId = (await http.GetFromJsonAsync<JsonElement>(new Uri("api/v1/whoami", UriKind.Relative), ct)).GetProperty("team_id").GetGuid();
        var cpu = new CpuMeter(app.ProcessId, s.PostmasterPid);
        await using var services = RollupServices(s.AppPostgres);

        var now = TimeProvider.System.GetUtcNow();
        Log($"seeding {s.AnalyticsTraces:N0} traces over {s.AnalyticsDays} days by COPY (40 % reviewed, 3 % errors, 4 models, 2,000 users)");
        var seedWatch = Stopwatch.StartNew();
        await SeedAsync(s.AppPostgres, teamId, s.AnalyticsTraces, s.AnalyticsDays, now, ct);
        var seedSeconds = seedWatch.Elapsed.TotalSeconds;
        Log($"seeded in {seedSeconds:0.0} s; VACUUM ANALYZE and CHECKPOINT");
        await SettleDatabaseAsync(s.AppPostgres, ct);
        await WaitForQuietAsync(cpu, s.QuietWait, ct);

        Log("rollup: the first run over the whole month");
        var catchUp = await RollUpAsync(services, ct);
        Log($"rollup: {catchUp.Run.TracesRead:N0} traces, {catchUp.Run.HoursRecomputed:N0} team-hours in {catchUp.Seconds:0.0} s");
        var second = await RollUpAsync(services, ct);
        Log($"rollup: a second run right after: {second.Run.HoursRecomputed} team-hours in {second.Seconds * 1000:0} ms");
        await SettleDatabaseAsync(s.AppPostgres, ct);

        var queries = DashboardQueries(now);
        Log($"dashboard queries: {queries.Count} kinds x {s.QueryRepeats} after a warm-up, one at a time over HTTP");
        var queryRuns = new List<(string Name, double P50, double P99, double Max, double MaxAt)>();
        foreach (var (name, path) in queries)
        {
            for (var i = 0; i < 3; i++)
            {
                await GetAsync(http, path, ct);
            }

            var times = new List<double>(s.QueryRepeats);
            var maxAt = 0.0;
            for (var i = 0; i < s.QueryRepeats; i++)
            {
                var startedAt = TimeProvider.System.GetUtcNow();
                var start = Stopwatch.GetTimestamp();
                await GetAsync(http, path, ct);
                var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (times.Count == 0 || elapsed > times.Max())
                {
                    // Where in its minute the slowest one started: the app's minute jobs run at :00.
                    maxAt = startedAt.Second + (startedAt.Millisecond / 1000.0);
                }

                times.Add(elapsed);
            }

            times.Sort();
            queryRuns.Add((name, Percentile(times, 0.50), Percentile(times, 0.99), times[^1], maxAt));
        }

        Log($"ingestion side by side: HTTP batches alone and with the rollup running every second beside them, {s.AnalyticsRounds} rounds, "
            + "the order alternating, each phase started 2 s before a minute boundary (so the rollup rolls a minute of the phase's traces during it)");
        var warm = Payloads.Batches("awarm", 40, 500, seed: 61);
        Check((await Phases.HttpBatchesAsync(http, warm, 500, s.Clients, ct)).Errors, null, "warm-up batches");
        await RollUpAsync(services, ct);
        var alone = new List<BatchRun>();
        var beside = new List<(BatchRun Run, long Rolled, int Runs, double DrainSeconds)>();
        for (var round = 0; round < s.AnalyticsRounds; round++)
        {
            // Alternate which goes first, so a drift of the machine (another process, a checkpoint) falls on both sides.
            foreach (var withRollup in round % 2 == 0 ? new[] { false, true } : [true, false])
            {
                await SettleDatabaseAsync(s.AppPostgres, ct);
                await WaitForQuietAsync(cpu, s.QuietWait, ct);
                var batches = Payloads.Batches($"{(withRollup ? "beside" : "alone")}{round}", s.BatchTraces / 500, 500, seed: (withRollup ? 80 : 70) + round);
                await BeforeMinuteBoundaryAsync(TimeSpan.FromSeconds(2), ct);
                if (!withRollup)
                {
                    var a = await Phases.HttpBatchesAsync(http, batches, 500, s.Clients, ct);
                    Check(a.Errors, a.FirstError, "batches alone");
                    alone.Add(a);
                    await RollUpAsync(services, ct);
                    continue;
                }

                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                long rolled = 0;
                var runs = 0;
                var loop = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        var r = await RollUpAsync(services, ct);
                        Interlocked.Add(ref rolled, r.Run.TracesRead);
                        runs++;
                        try
                        {
                            await Task.Delay(1_000, stop.Token);
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested)
                        {
                            return;
                        }
                    }
                }, ct);
                var b = await Phases.HttpBatchesAsync(http, batches, 500, s.Clients, ct);
                await stop.CancelAsync();
                await loop;
                Check(b.Errors, b.FirstError, "batches beside the rollup");
                var drain = await RollUpAsync(services, ct);
                beside.Add((b, Interlocked.Read(ref rolled), runs, drain.Seconds));
            }
        }

        Log("live: a trace sent now, until the summary of the last hour counts it");
        var live = new List<double>();
        var rng = new Random(90);
        for (var i = 0; i < s.AnalyticsLiveSamples; i++)
        {
            var path = $"api/v1/analytics/summary?from={Iso(TimeProvider.System.GetUtcNow() - TimeSpan.FromHours(1))}&to={Iso(TimeProvider.System.GetUtcNow() + TimeSpan.FromHours(1))}";
            var before = (await GetAsync(http, path, ct)).GetProperty("traces").GetInt64();
            var start = Stopwatch.GetTimestamp();
            using (var body = new ByteArrayContent(Payloads.Single($"alive-{i:D4}", rng)))
            {
                body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var sent = await http.PostAsync(new Uri("api/v1/traces", UriKind.Relative), body, ct);
                sent.EnsureSuccessStatusCode();
            }

            while ((await GetAsync(http, path, ct)).GetProperty("traces").GetInt64() <= before)
            {
                if (Stopwatch.GetElapsedTime(start) > TimeSpan.FromSeconds(10))
                {
                    throw new InvalidOperationException("A trace sent now did not count within 10 s.");
                }

                await Task.Delay(10, ct);
            }

            live.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        live.Sort();
        Print(s, server, seedSeconds, catchUp, second, queryRuns, alone, beside, live);
        if (app.HasExited)
        {
            await Console.Error.WriteLineAsync($"bench: the app ended before the bench stopped it ({app.ExitDescription}). Log:\n{app.LogTail()}");
            return 1;
        }

        return 0;
    }

    private static void Print(
        BenchSettings s, string server, double seedSeconds, (RollupRun Run, double Seconds) catchUp, (RollupRun Run, double Seconds) second,
        List<(string Name, double P50, double P99, double Max, double MaxAt)> queries, List<BatchRun> alone,
        List<(BatchRun Run, long Rolled, int Runs, double DrainSeconds)> beside, List<double> live)
    {
        static string Verdict(bool pass) => pass ? "PASS" : "FAIL";
        var rollupRate = catchUp.Run.TracesRead / catchUp.Seconds;
        var worstP99 = queries.Max(q => q.P99);
        var aloneRate = alone.Average(r => r.TracesPerSecond);
        var besideRate = beside.Average(r => r.Run.TracesPerSecond);
        var ratios = alone.Select((a, i) => beside[i].Run.TracesPerSecond / a.TracesPerSecond).Order().ToList();
        var ratio = ratios.Count % 2 == 1 ? ratios[ratios.Count / 2] : (ratios[(ratios.Count / 2) - 1] + ratios[ratios.Count / 2]) / 2;
        var liveP95 = Percentile(live, 0.95);

        Console.WriteLine();
        Console.WriteLine($"== analytics bench: {s.AnalyticsTraces:N0} traces over {s.AnalyticsDays} days, {server}, {Environment.ProcessorCount} cores");
        Console.WriteLine($"seed by COPY: {seedSeconds:0.0} s");
        Console.WriteLine($"1. rollup over the month: {catchUp.Run.TracesRead:N0} traces, {catchUp.Run.HoursRecomputed:N0} team-hours, {catchUp.Seconds:0.0} s = {rollupRate:N0} traces/s   target >= {TargetRollupPerSecond:N0}: {Verdict(rollupRate >= TargetRollupPerSecond)}");
        Console.WriteLine($"   a second run at once: {second.Run.HoursRecomputed} team-hours recomputed, {second.Seconds * 1000:0} ms");
        Console.WriteLine($"2. dashboard queries over HTTP (client-side time on loopback, an upper bound of server time), {s.QueryRepeats} each:");
        foreach (var (name, p50, p99, max, maxAt) in queries)
        {
            Console.WriteLine($"   {name,-58} p50 {p50,7:0.0} ms  p99 {p99,7:0.0} ms  max {max,7:0.0} ms (at :{maxAt:00.0})");
        }

        Console.WriteLine($"   worst p99 {worstP99:0.0} ms   target < {TargetQueryP99Ms:0} ms: {Verdict(worstP99 < TargetQueryP99Ms)}; aim < {AimQueryP99Ms:0} ms: {(worstP99 < AimQueryP99Ms ? "met" : "not met")}");
        Console.WriteLine($"3. ingestion, {s.BatchTraces:N0} traces per phase in batches of 500, {s.Clients} clients:");
        for (var i = 0; i < alone.Count; i++)
        {
            var b = beside[i];
            Console.WriteLine($"   round {i + 1} ({(i % 2 == 0 ? "alone first" : "beside first")}): alone {alone[i].TracesPerSecond:N0} traces/s; beside the rollup {b.Run.TracesPerSecond:N0} traces/s = {b.Run.TracesPerSecond / alone[i].TracesPerSecond:0.000} ({b.Runs} rollup runs read {b.Rolled:N0} traces meanwhile; the backlog after the phase took {b.DrainSeconds:0.00} s)");
        }

        Console.WriteLine($"   beside / alone, median of the rounds = {ratio:0.000} (ratio of the means {besideRate / aloneRate:0.000})   target >= {TargetIngestRatio:0.0} (within 10 %): {Verdict(ratio >= TargetIngestRatio)}");
        Console.WriteLine($"4. a new trace counts in the summary: p50 {Percentile(live, 0.5):0} ms, p95 {liveP95:0} ms, max {live[^1]:0} ms over {live.Count}   target p95 < {TargetLiveP95Ms:0} ms: {Verdict(liveP95 < TargetLiveP95Ms)}");
    }

    private static List<(string Name, string Path)> DashboardQueries(DateTimeOffset now)
    {
        var to = Iso(now + TimeSpan.FromMinutes(1));
        string From(TimeSpan back) => Iso(now - back);
        var day = TimeSpan.FromDays(1);
        return
        [
            ("summary, last hour", $"api/v1/analytics/summary?from={From(TimeSpan.FromHours(1))}&to={to}"),
            ("summary, 24 h", $"api/v1/analytics/summary?from={From(day)}&to={to}"),
            ("summary, 7 d", $"api/v1/analytics/summary?from={From(7 * day)}&to={to}"),
            ("summary, 30 d", $"api/v1/analytics/summary?from={From(30 * day)}&to={to}"),
            ("summary, 30 d, model=gpt-4o", $"api/v1/analytics/summary?from={From(30 * day)}&to={to}&model=gpt-4o"),
            ("timeseries traces, 1 h by minute", $"api/v1/analytics/timeseries?metric=traces&interval=minute&from={From(TimeSpan.FromHours(1))}&to={to}"),
            ("timeseries error_rate, 24 h by hour", $"api/v1/analytics/timeseries?metric=error_rate&interval=hour&from={From(day)}&to={to}"),
            ("timeseries latency_p95, 7 d by hour, by model", $"api/v1/analytics/timeseries?metric=latency_p95&interval=hour&group_by=model&from={From(7 * day)}&to={to}"),
            ("timeseries acceptance_rate, 30 d by day, by model", $"api/v1/analytics/timeseries?metric=acceptance_rate&interval=day&group_by=model&from={From(30 * day)}&to={to}"),
            ("timeseries cost, 30 d by day", $"api/v1/analytics/timeseries?metric=cost&interval=day&from={From(30 * day)}&to={to}"),
            ("timeseries cost, 24 h by hour, by user_id (raw rows)", $"api/v1/analytics/timeseries?metric=cost&interval=hour&group_by=user_id&from={From(day)}&to={to}"),
            ("trends, 7 d", $"api/v1/analytics/trends?from={From(7 * day)}&to={to}"),
        ];
    }

    /// <summary>Waits until <paramref name="lead"/> before the next minute boundary (the next one after, when that is nearer than 1 s).</summary>
    private static async Task BeforeMinuteBoundaryAsync(TimeSpan lead, CancellationToken ct)
    {
        var now = TimeProvider.System.GetUtcNow();
        var target = MetricInterval.Minute.Floor(now) + TimeSpan.FromMinutes(1) - lead;
        if (target - now < TimeSpan.FromSeconds(1))
        {
            target += TimeSpan.FromMinutes(1);
        }

        await Task.Delay(target - now, ct);
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {body}");
        }

        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The app's Core and Data services on the bench database: the rollup as the minute job runs it.</summary>
    private static ServiceProvider RollupServices(string connectionString)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString })
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        services.AddEvalData(configuration);
        services.AddEvalCore();
        return services.BuildServiceProvider();
    }

    private static async Task<(RollupRun Run, double Seconds)> RollUpAsync(ServiceProvider services, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var start = Stopwatch.GetTimestamp();
        var run = await scope.ServiceProvider.GetRequiredService<IMetricsRollup>().RollUpAsync(ct);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (run.HoursFailed > 0)
        {
            throw new InvalidOperationException($"The rollup failed {run.HoursFailed} team-hour(s); see the log.");
        }

        return (run, seconds);
    }

    /// <summary>
    /// <paramref name="count"/> traces started evenly at random over the last <paramref name="days"/> days, written with the
    /// data layer's COPY on 4 connections. Stamped as updated 10 minutes ago (before the first rollup), as if ingested then.
    /// </summary>
    private static async Task SeedAsync(string connectionString, Guid teamId, int count, int days, DateTimeOffset now, CancellationToken ct)
    {
        var options = new DbContextOptionsBuilder<PostgresEvalDbContext>().UseNpgsql(connectionString).Options;
        await using var db = new PostgresEvalDbContext(options);
        var traceType = db.Model.FindEntityType(typeof(Trace))!;
        const int PerBatch = 10_000;
        var next = -1;
        var batches = (count + PerBatch - 1) / PerBatch;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches)
            {
                var rng = new Random(1_000 + b);
                var size = Math.Min(PerBatch, count - (b * PerBatch));
                var traces = Enumerable.Range(0, size).Select(_ => Generate(rng, teamId, now, days)).ToList();
                await using var transaction = await connection.BeginTransactionAsync(ct);
                await BinaryCopy.WriteAsync(connection, traceType, traces, ct);
                await transaction.CommitAsync(ct);
            }
        }, ct)));
    }

    private static Trace Generate(Random rng, Guid teamId, DateTimeOffset now, int days)
    {
        var started = now - TimeSpan.FromSeconds(rng.NextDouble() * days * 86_400);
        var (model, provider, price) = Models[rng.Next(Models.Length)];
        var prompt = rng.Next(150, 1_500);
        var completion = rng.Next(20, 600);
        var latency = Math.Exp(6.5 + (0.6 * Normal(rng)));
        var created = now - TimeSpan.FromMinutes(10);
        var id = Uuid7.Create(created);
        var trace = new Trace
        {
            Id = id,
            TeamId = teamId,
            ContentHash = Guid.NewGuid().ToByteArray(),
            SortKey = Trace.MakeSortKey(created, id),
            Name = "support-bot",
            UserId = "user-" + rng.Next(2_000).ToString(CultureInfo.InvariantCulture),
            Environment = rng.Next(10) < 8 ? "production" : "staging",
            Tags = ["support", rng.Next(2) == 0 ? "web" : "ios"],
            Model = model,
            Provider = provider,
            PromptTokens = prompt,
            CompletionTokens = completion,
            TotalTokens = prompt + completion,
            Cost = Math.Round((decimal)((prompt + completion) * price), 8),
            LatencyMs = Math.Round(latency, 1),
            TimeToFirstTokenMs = Math.Round(latency * (0.1 + (0.2 * rng.NextDouble())), 1),
            Error = rng.Next(100) < 3 ? "upstream timeout" : null,
            Experiment = rng.Next(10) < 3 ? "prompt-v9" : null,
            InputPreview = "Where is my order?",
            OutputPreview = "It shipped yesterday.",
            StartedAt = started,
            EndedAt = started + TimeSpan.FromMilliseconds(latency),
            CreatedAt = created,
            UpdatedAt = created,
        };
        trace.Variant = trace.Experiment is null ? null : rng.Next(2) == 0 ? "control" : "treatment";
        if (rng.Next(10) < 4)
        {
            var roll = rng.Next(100);
            trace.ReviewStatus = roll < 70 ? ReviewStatus.Accepted : roll < 90 ? ReviewStatus.Rejected : ReviewStatus.NeedsReview;
            trace.ReviewReason = trace.ReviewStatus == ReviewStatus.Rejected ? Reasons[rng.Next(Reasons.Length)] : null;
            trace.HumanScore = rng.Next(1, 6);
            trace.ReviewedBy = "reviewer@example.test";
            trace.ReviewedAt = created;
            trace.ReviewVersion = 1;
        }

        return trace;
    }

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
}
