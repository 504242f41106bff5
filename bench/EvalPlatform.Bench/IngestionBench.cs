using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace EvalPlatform.Bench;

/// <summary>One run: database, app, key, warm-up, then the four measurements and the summary.</summary>
internal static class IngestionBench
{
    private const double TargetBatchPerSecond = 10_000;
    private const double TargetRatio = 0.5;
    private const double TargetSingleP99Ms = 25;
    private const double TargetLiveP95Ms = 100;

    private static readonly long Started = Stopwatch.GetTimestamp();

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

        Log("serialising payloads");
        var batches = s.BatchTraces / s.BatchSize;
        var warmup = Payloads.Batches("warm", Math.Max(1, s.WarmupTraces / s.BatchSize), s.BatchSize, seed: 1);
        var copyWarmup = Payloads.Batches("copywarm", 4, s.BatchSize, seed: 2);
        var copyBatches = Payloads.Batches("copy", batches, s.BatchSize, seed: 3);
        var httpBatches = Payloads.Batches("http", batches, s.BatchSize, seed: 3);
        var rng = new Random(4);
        var singleWarmup = Enumerable.Range(0, (int)(s.SingleRate * 2)).Select(i => Payloads.Single($"singlewarm-{i:D6}", rng)).ToList();
        var singles = Enumerable.Range(0, (int)(s.SingleRate * s.SingleSeconds)).Select(i => Payloads.Single($"single-{i:D6}", rng)).ToList();
        var live = Enumerable.Range(0, s.LiveCount).Select(i => ($"live-{i:D6}", Payloads.Single($"live-{i:D6}", rng))).ToList();
        var bytesPerTrace = (double)httpBatches.Sum(b => (long)b.Length) / (batches * s.BatchSize);

        var environment = AppHost.Environment(s.AppPostgres, s.Redis);
        Log($"starting the app: dotnet {s.WebDll}");
        await using var app = await AppHost.StartAsync(s.WebDll, environment, Path.Combine(Path.GetTempPath(), $"evalbench-app-{Environment.ProcessId}.log"), ct);
        if (s.PidFile is not null)
        {
            await File.WriteAllTextAsync(s.PidFile, app.ProcessId.ToString(CultureInfo.InvariantCulture), ct);
        }

        Log($"app ready at {app.BaseAddress} (pid {app.ProcessId}); creating team and API key with the admin commands");
        await AppHost.AdminAsync(s.WebDll, environment, ["create-team", "--name", "bench", "--owner", "bench@example.test", "--password-stdin"], "Bench-Passw0rd!2026", ct);
        var key = (await AppHost.AdminAsync(s.WebDll, environment, ["create-api-key", "--team", "bench", "--name", "bench", "--scopes", "ingest,read"], null, ct)).Trim();

        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 512,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
        };
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var whoami = await http.GetFromJsonAsync<JsonElement>(new Uri("api/v1/whoami", UriKind.Relative), ct);
        var teamId = whoami.GetProperty("team_id").GetGuid();

        var cpu = new CpuMeter(app.ProcessId, s.PostmasterPid);

        Log($"warm-up: {warmup.Count * s.BatchSize:N0} traces in batches, {copyWarmup.Count * s.BatchSize:N0} by COPY, {singleWarmup.Count} single POSTs");
        var warm = await Phases.HttpBatchesAsync(http, warmup, s.BatchSize, s.Clients, ct);
        Check(warm.Errors, warm.FirstError, "warm-up batches");
        await Phases.RawCopyAsync(s.AppPostgres, teamId, copyWarmup, ct);
        var warmSingles = await Phases.OpenLoopSinglesAsync(http, singleWarmup, s.SingleRate, ct);
        Check(warmSingles.Errors, warmSingles.FirstError, "warm-up singles");

        Log($"raw COPY: {copyBatches.Count * s.BatchSize:N0} traces, TraceParser.Parse + BinaryCopy, one transaction per {s.BatchSize}");
        await CheckpointAsync(s.AppPostgres, ct);
        var c0 = cpu.Sample();
        var copy = await Phases.RawCopyAsync(s.AppPostgres, teamId, copyBatches, ct);
        var copyCpu = c0.Until(cpu.Sample());

        Log($"HTTP batches: {httpBatches.Count * s.BatchSize:N0} traces, {s.Clients} clients x {s.BatchSize} per POST /api/v1/traces/batch");
        await CheckpointAsync(s.AppPostgres, ct);
        var h0 = cpu.Sample();
        var batch = await Phases.HttpBatchesAsync(http, httpBatches, s.BatchSize, s.Clients, ct);
        var batchCpu = h0.Until(cpu.Sample());

        Log($"single POSTs: {singles.Count:N0} at {s.SingleRate:0} req/s, open loop");
        await CheckpointAsync(s.AppPostgres, ct);
        var s0 = cpu.Sample();
        var single = await Phases.OpenLoopSinglesAsync(http, singles, s.SingleRate, ct);
        var singleCpu = s0.Until(cpu.Sample());

        Log($"ingest to live event: {live.Count} single POSTs at {s.LiveRate:0}/s, Redis channel evalplatform:live");
        var l0 = cpu.Sample();
        var liveRun = await Phases.LiveEventsAsync(http, s.Redis, live, s.LiveRate, ct);
        var liveCpu = l0.Until(cpu.Sample());

        var sweep = new List<(int Clients, int Size, BatchRun Run, CpuUse Cpu)>();
        if (s.Sweep)
        {
            foreach (var (clients, size) in new[] { (1, 500), (2, 500), (8, 500), (4, 100), (4, 1000) })
            {
                var set = Payloads.Batches($"sweep{clients}x{size}", 20_000 / size, size, seed: 5);
                Log($"sweep: {clients} clients x {size} per batch, {set.Count * size:N0} traces");
                await CheckpointAsync(s.AppPostgres, ct);
                var w0 = cpu.Sample();
                var run = await Phases.HttpBatchesAsync(http, set, size, clients, ct);
                sweep.Add((clients, size, run, w0.Until(cpu.Sample())));
            }
        }

        var (traceRows, spanRows) = await CountRowsAsync(s.AppPostgres, ct);
        Print(s, server, bytesPerTrace, copy, copyCpu, batch, batchCpu, single, singleCpu, liveRun, liveCpu, sweep, traceRows, spanRows);
        if (app.HasExited)
        {
            await Console.Error.WriteLineAsync($"bench: the app ended before the bench stopped it ({app.ExitDescription}). Log:\n{app.LogTail()}");
            return 1;
        }

        return 0;
    }

    private static void Print(
        BenchSettings s, string server, double bytesPerTrace,
        CopyRun copy, CpuUse copyCpu, BatchRun batch, CpuUse batchCpu, LatencyRun single, CpuUse singleCpu, LatencyRun live, CpuUse liveCpu,
        List<(int Clients, int Size, BatchRun Run, CpuUse Cpu)> sweep, long traceRows, long spanRows)
    {
        var ratio = batch.TracesPerSecond / copy.TracesPerSecond;
        var batchPass = batch.Errors == 0 && batch.TracesPerSecond >= TargetBatchPerSecond;
        var ratioPass = batch.Errors == 0 && ratio >= TargetRatio;
        var singlePass = single.Errors == 0 && single.P99 < TargetSingleP99Ms;
        var livePass = live.Errors == 0 && live.Missing == 0 && live.P95 < TargetLiveP95Ms;
        static string Verdict(bool pass) => pass ? "PASS" : "FAIL";

        Console.WriteLine();
        Console.WriteLine("==================== EvalPlatform ingestion benchmark ====================");
        Console.WriteLine($"machine     : {Environment.ProcessorCount} cores, .NET {Environment.Version}, {server}");
        Console.WriteLine($"payload     : simple shape, {bytesPerTrace:N0} bytes of JSON per trace on average, 3 spans each (1 llm + 2 tool calls)");
        Console.WriteLine();
        Console.WriteLine($"1. batch ingestion over HTTP   {batch.TracesPerSecond,10:N0} traces/s   target >= {TargetBatchPerSecond:N0}/s        {Verdict(batchPass)}");
        Console.WriteLine($"   {batch.Traces:N0} traces in {batch.Seconds:0.00} s, {batch.Batches} x POST /api/v1/traces/batch of {s.BatchSize}, {s.Clients} clients, errors {batch.Errors}");
        Console.WriteLine($"   per batch: p50 {batch.BatchP50Ms:0.0} ms, p99 {batch.BatchP99Ms:0.0} ms; CPU: {batchCpu}");
        if (batch.FirstError is not null)
        {
            Console.WriteLine($"   first error: {batch.FirstError}");
        }

        Console.WriteLine($"2. raw COPY (ceiling)          {copy.TracesPerSecond,10:N0} traces/s   parse + COPY, no HTTP, 1 connection");
        Console.WriteLine($"   {copy.Traces:N0} traces + {copy.Spans:N0} spans in {copy.Seconds:0.00} s (parse {copy.ParseSeconds:0.00} s, COPY+commit {copy.CopySeconds:0.00} s = {copy.CopyOnlyTracesPerSecond:N0} traces/s COPY alone)");
        Console.WriteLine($"   CPU: {copyCpu}");
        Console.WriteLine($"   ratio HTTP / COPY           {ratio,10:0.00}            target >= {TargetRatio:0.00}          {Verdict(ratioPass)}");
        Console.WriteLine($"   (HTTP / COPY alone: {batch.TracesPerSecond / copy.CopyOnlyTracesPerSecond:0.00})");
        Console.WriteLine($"3. single POST latency         p50 {single.P50:0.0} ms, p95 {single.P95:0.0} ms, p99 {single.P99:0.0} ms   target p99 < {TargetSingleP99Ms:0} ms   {Verdict(singlePass)}");
        Console.WriteLine($"   {single.Sent:N0} POST /api/v1/traces at {s.SingleRate:0} req/s (open loop, {single.Seconds:0.0} s), errors {single.Errors}, max {single.Max:0.0} ms, scheduler lag max {single.MaxSendLagMs:0.0} ms");
        Console.WriteLine($"   CPU: {singleCpu}");
        if (single.FirstError is not null)
        {
            Console.WriteLine($"   first error: {single.FirstError}");
        }

        Console.WriteLine($"4. ingest -> live event        p50 {live.P50:0.0} ms, p95 {live.P95:0.0} ms (p99 {live.P99:0.0}, max {live.Max:0.0})   target p95 < {TargetLiveP95Ms:0} ms   {Verdict(livePass)}");
        Console.WriteLine($"   {live.Sent} single POSTs at {s.LiveRate:0}/s, timed from just before the POST to the TracesIngested event on Redis; errors {live.Errors}, events missing {live.Missing}");
        Console.WriteLine($"   CPU: {liveCpu}");
        if (live.FirstError is not null)
        {
            Console.WriteLine($"   first error: {live.FirstError}");
        }

        if (sweep.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("sweep (HTTP batches, 20,000 traces each):");
            foreach (var (clients, size, run, cpu) in sweep)
            {
                Console.WriteLine($"   {clients} clients x {size,4} per batch: {run.TracesPerSecond,8:N0} traces/s (p50 {run.BatchP50Ms:0.0} ms per batch, errors {run.Errors}); {cpu}");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"rows stored : {traceRows:N0} traces, {spanRows:N0} spans (warm-up included)");
        var met = new[] { batchPass, ratioPass, singlePass, livePass }.Count(p => p);
        Console.WriteLine($"targets met : {met} of 4");
        Console.WriteLine("==========================================================================");
    }

    private static async Task RecreateDatabaseAsync(BenchSettings s, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(s.Postgres);
        await connection.OpenAsync(ct);
        var name = s.Database.Replace("\"", "\"\"", StringComparison.Ordinal);
        await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection))
        {
            await drop.ExecuteNonQueryAsync(ct);
        }

        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await create.ExecuteNonQueryAsync(ct);
    }

    private static async Task<string> ServerSettingsAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes'), current_setting('shared_buffers')",
            connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return $"PostgreSQL {reader.GetString(0)} (fsync={reader.GetString(1)}, synchronous_commit={reader.GetString(2)}, full_page_writes={reader.GetString(3)}, shared_buffers={reader.GetString(4)})";
    }

    private static async Task CheckpointAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("CHECKPOINT", connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<(long Traces, long Spans)> CountRowsAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM spans)", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static void Check(int errors, string? firstError, string what)
    {
        if (errors > 0)
        {
            throw new InvalidOperationException($"{what}: {errors} request(s) failed; first: {firstError}");
        }
    }

    private static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{b.Host}:{b.Port}";
    }

    private static void Log(string message) =>
        Console.Error.WriteLine($"bench [{TimeProvider.System.GetLocalNow():HH:mm:ss} +{Stopwatch.GetElapsedTime(Started).TotalSeconds,5:0.0}s] {message}");
}
