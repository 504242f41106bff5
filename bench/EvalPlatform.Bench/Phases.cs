using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using Trace = EvalPlatform.Core.Traces.Trace;
using EvalPlatform.Data.Ingestion;
using EvalPlatform.Data.Postgres;
using EvalPlatform.Web.Live;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using StackExchange.Redis;

namespace EvalPlatform.Bench;

internal sealed record BatchRun(int Traces, int Batches, double Seconds, int Errors, string? FirstError, double BatchP50Ms, double BatchP99Ms)
{
    public double TracesPerSecond => Traces / Seconds;
}

/// <summary>Parse and COPY seconds are summed over the connections (each worker's own wall time).</summary>
internal sealed record CopyRun(int Connections, int Traces, int Spans, double Seconds, double ParseSeconds, double CopySeconds)
{
    public double TracesPerSecond => Traces / Seconds;

    /// <summary>Traces per second if only the COPY and commit took time (per connection, times the connections).</summary>
    public double CopyOnlyTracesPerSecond => Traces / CopySeconds * Connections;
}

internal sealed record LatencyRun(int Sent, int Errors, string? FirstError, double Seconds, double P50, double P95, double P99, double Max, double MaxSendLagMs, int Missing = 0);

/// <summary>The measurements. Each takes pre-serialised bodies, so the client does little while timed.</summary>
internal static class Phases
{
    /// <summary>Closed loop: <paramref name="clients"/> workers post the batches as fast as answers come back.</summary>
    public static Task<BatchRun> HttpBatchesAsync(HttpClient http, IReadOnlyList<byte[]> batches, int tracesPerBatch, int clients, CancellationToken ct) =>
        HttpPostsAsync(http, "api/v1/traces/batch", batches.Select(b => (b, "application/json")).ToList(), tracesPerBatch, clients, ct);

    /// <summary>Closed loop over any front door: each body carries <paramref name="itemsPerBody"/> items; any 2xx answer counts as stored.</summary>
    public static async Task<BatchRun> HttpPostsAsync(
        HttpClient http, string path, IReadOnlyList<(byte[] Body, string ContentType)> bodies, int itemsPerBody, int clients, CancellationToken ct)
    {
        var next = -1;
        var errors = 0;
        string? firstError = null;
        var latencies = new ConcurrentBag<double>();
        var start = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < bodies.Count)
            {
                var sent = Stopwatch.GetTimestamp();
                var (ok, error) = await PostAsync(http, path, bodies[i].Body, null, ct, bodies[i].ContentType);
                latencies.Add(Percentiles.Ms(sent, Stopwatch.GetTimestamp()));
                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, error, null);
                }
            }
        }, ct)).ToList();
        await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var sorted = latencies.Order().ToList();
        return new BatchRun(bodies.Count * itemsPerBody, bodies.Count, seconds, errors, firstError, Percentiles.Of(sorted, 50), Percentiles.Of(sorted, 99));
    }

    /// <summary>
    /// The ceiling: the same JSON parsed with <see cref="TraceParser.Parse"/> and written with the data
    /// layer's binary COPY (traces, then spans), one transaction per batch, no HTTP, no queue, no
    /// idempotency query. <paramref name="connections"/> workers, each on its own connection, take batches in turn.
    /// </summary>
    public static async Task<CopyRun> RawCopyAsync(string connectionString, Guid teamId, IReadOnlyList<byte[]> batches, int connections, CancellationToken ct)
    {
        var options = new DbContextOptionsBuilder<PostgresEvalDbContext>().UseNpgsql(connectionString).Options;
        await using var db = new PostgresEvalDbContext(options);
        var traceType = db.Model.FindEntityType(typeof(Trace))!;
        var spanType = db.Model.FindEntityType(typeof(Span))!;
        var documentOptions = new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth };
        long parseTicks = 0, copyTicks = 0;
        int traceCount = 0, spanCount = 0, next = -1;

        // Connections are opened before the clock starts, as the app's pool would have them.
        var open = new List<NpgsqlConnection>();
        try
        {
            for (var c = 0; c < connections; c++)
            {
                var connection = new NpgsqlConnection(connectionString);
                open.Add(connection);
                await connection.OpenAsync(ct);
            }

            var start = Stopwatch.GetTimestamp();
            await Task.WhenAll(open.Select(connection => Task.Run(async () =>
            {
                int b;
                while ((b = Interlocked.Increment(ref next)) < batches.Count)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var traces = Parse(batches[b]);
                    var t1 = Stopwatch.GetTimestamp();
                    await using (var transaction = await connection.BeginTransactionAsync(ct))
                    {
                        await BinaryCopy.WriteAsync(connection, traceType, traces, ct);
                        await BinaryCopy.WriteAsync(connection, spanType, traces.SelectMany(t => t.Spans), ct);
                        await transaction.CommitAsync(ct);
                    }

                    var t2 = Stopwatch.GetTimestamp();
                    Interlocked.Add(ref parseTicks, t1 - t0);
                    Interlocked.Add(ref copyTicks, t2 - t1);
                    Interlocked.Add(ref traceCount, traces.Count);
                    Interlocked.Add(ref spanCount, traces.Sum(t => t.Spans.Count));
                }
            }, ct)));
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new CopyRun(connections, traceCount, spanCount, seconds, (double)parseTicks / Stopwatch.Frequency, (double)copyTicks / Stopwatch.Frequency);
        }
        finally
        {
            foreach (var connection in open)
            {
                await connection.DisposeAsync();
            }
        }

        List<Trace> Parse(byte[] body)
        {
            using var document = JsonDocument.Parse(body, documentOptions);
            var now = TimeProvider.System.GetUtcNow();
            var errors = new List<FieldError>();
            var traces = new List<Trace>();
            var index = 0;
            foreach (var element in document.RootElement.GetProperty("traces").EnumerateArray())
            {
                var parsed = TraceParser.Parse(element, $"traces[{index}]", index, now, errors);
                index++;
                if (parsed is null)
                {
                    continue;
                }

                parsed.Trace.TeamId = teamId;
                foreach (var span in parsed.Trace.Spans)
                {
                    span.TeamId = teamId;
                }

                traces.Add(parsed.Trace);
            }

            return errors.Count == 0
                ? traces
                : throw new InvalidOperationException($"The bench's own traces do not parse: {errors[0].Field}: {errors[0].Message}");
        }
    }

    /// <summary>
    /// Open loop: request i is sent at start + i / rate whatever happened to the earlier ones; its
    /// latency runs from that scheduled moment to the end of the response (so a stall is not hidden).
    /// </summary>
    public static Task<LatencyRun> OpenLoopSinglesAsync(HttpClient http, IReadOnlyList<byte[]> bodies, double rate, CancellationToken ct) =>
        OpenLoopAsync(bodies.Count, rate, i => PostAsync(http, "api/v1/traces", bodies[i], HttpStatusCode.Created, ct), ct);

    /// <summary>The same timetable for <c>GET</c> (a baseline: the pipeline and API key check without ingestion).</summary>
    public static Task<LatencyRun> OpenLoopGetsAsync(HttpClient http, string path, int count, double rate, CancellationToken ct) =>
        OpenLoopAsync(count, rate, i => GetAsync(http, path, ct), ct);

    private static async Task<LatencyRun> OpenLoopAsync(int count, double rate, Func<int, Task<(bool Ok, string? Error)>> request, CancellationToken ct)
    {
        var latencies = new double[count];
        var errors = 0;
        string? firstError = null;
        var (tasks, seconds, maxLag) = await ScheduleAsync(count, rate, (i, due) => SendOneAsync(i, due), ct);
        await Task.WhenAll(tasks);
        var sorted = latencies.Order().ToList();
        return new LatencyRun(count, errors, firstError, seconds,
            Percentiles.Of(sorted, 50), Percentiles.Of(sorted, 95), Percentiles.Of(sorted, 99), sorted[^1], maxLag);

        async Task SendOneAsync(int i, long due)
        {
            var (ok, error) = await request(i);
            latencies[i] = Percentiles.Ms(due, Stopwatch.GetTimestamp());
            if (!ok)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, error, null);
            }
        }
    }

    /// <summary>
    /// Ingest to live event: subscribes to the app's Redis channel, posts single traces on a fixed
    /// timetable, and times each from just before its POST to the arrival of the <c>TracesIngested</c>
    /// event that names its external id.
    /// </summary>
    public static async Task<LatencyRun> LiveEventsAsync(
        HttpClient http, string redis, IReadOnlyList<(string ExternalId, byte[] Body)> traces, double rate, CancellationToken ct)
    {
        var sentAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var arrivedAt = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var errors = 0;
        string? firstError = null;
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
        var subscriber = connection.GetSubscriber();
        await subscriber.SubscribeAsync(RedisLiveBus.Channel, (_, message) =>
        {
            var arrived = Stopwatch.GetTimestamp();
            foreach (var externalId in ExternalIdsOf(message))
            {
                arrivedAt.TryAdd(externalId, arrived);
            }
        });
        try
        {
            var (tasks, _, maxLag) = await ScheduleAsync(traces.Count, rate, (i, _) => SendOneAsync(i), ct);
            await Task.WhenAll(tasks);

            // Events normally arrive before the responses; give stragglers a bounded moment.
            for (var wait = 0; wait < 50 && arrivedAt.Count < traces.Count - errors; wait++)
            {
                await Task.Delay(100, ct);
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(RedisLiveBus.Channel);
        }

        var latencies = traces
            .Where(t => sentAt.ContainsKey(t.ExternalId) && arrivedAt.ContainsKey(t.ExternalId))
            .Select(t => Percentiles.Ms(sentAt[t.ExternalId], arrivedAt[t.ExternalId]))
            .Order().ToList();
        var missing = traces.Count - errors - latencies.Count;
        return new LatencyRun(traces.Count, errors, firstError, traces.Count / rate,
            Percentiles.Of(latencies, 50), Percentiles.Of(latencies, 95), Percentiles.Of(latencies, 99),
            latencies.Count > 0 ? latencies[^1] : double.NaN, 0, missing);

        async Task SendOneAsync(int i)
        {
            var (externalId, body) = traces[i];
            sentAt[externalId] = Stopwatch.GetTimestamp();
            var (ok, error) = await PostAsync(http, "api/v1/traces", body, HttpStatusCode.Created, ct);
            if (!ok)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, error, null);
            }
        }
    }

    /// <summary>Starts <paramref name="send"/>(i, due) for i = 0..count-1 at start + i/rate, from a dedicated thread.</summary>
    private static async Task<(Task[] Tasks, double Seconds, double MaxLagMs)> ScheduleAsync(int count, double rate, Func<int, long, Task> send, CancellationToken ct)
    {
        var tasks = new Task[count];
        var maxLag = 0.0;
        var period = Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20;
        await Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var due = start + (long)(i * period);
                var remaining = due - Stopwatch.GetTimestamp();
                if (remaining > 0)
                {
                    Thread.Sleep(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
                }

                maxLag = Math.Max(maxLag, Percentiles.Ms(due, Stopwatch.GetTimestamp()));
                tasks[i] = send(i, due);
            }
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return (tasks, Stopwatch.GetElapsedTime(start).TotalSeconds, maxLag);
    }

    private static List<string> ExternalIdsOf(RedisValue message)
    {
        var ids = new List<string>();
        try
        {
            using var document = JsonDocument.Parse(message.ToString());
            var root = document.RootElement;
            if (!TryGet(root, "type", out var type) || type.GetString() != "TracesIngested" || !TryGet(root, "body", out var body)
                || !TryGet(body, "summaries", out var summaries))
            {
                return ids;
            }

            foreach (var summary in summaries.EnumerateArray())
            {
                if (TryGet(summary, "externalId", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    ids.Add(id.GetString()!);
                }
            }
        }
        catch (JsonException)
        {
            // Not an event of ours.
        }

        return ids;
    }

    // The bus serialises with JsonSerializerDefaults.Web (camelCase); accept PascalCase too.
    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        value = default;
        return element.ValueKind == JsonValueKind.Object
            && (element.TryGetProperty(name, out value) || element.TryGetProperty(char.ToUpperInvariant(name[0]) + name[1..], out value));
    }

    private static async Task<(bool Ok, string? Error)> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            return response.StatusCode == HttpStatusCode.OK ? (true, null) : (false, $"{(int)response.StatusCode} {text[..Math.Min(text.Length, 300)]}");
        }
        catch (HttpRequestException e)
        {
            return (false, e.Message);
        }
    }

    /// <summary>Posts one body; <paramref name="expected"/> null accepts any 2xx.</summary>
    private static async Task<(bool Ok, string? Error)> PostAsync(
        HttpClient http, string path, byte[] body, HttpStatusCode? expected, CancellationToken ct, string contentType = "application/json")
    {
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            return (expected is null ? response.IsSuccessStatusCode : response.StatusCode == expected)
                ? (true, null)
                : (false, $"{(int)response.StatusCode} {text[..Math.Min(text.Length, 300)]}");
        }
        catch (HttpRequestException e)
        {
            return (false, e.Message);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            return (false, $"timeout: {e.Message}");
        }
    }
}
