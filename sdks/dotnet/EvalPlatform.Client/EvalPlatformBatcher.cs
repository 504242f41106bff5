using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EvalPlatform.Client;

/// <summary>Sends traces in the background. Nothing here ever throws into the app because telemetry failed.</summary>
public interface IEvalPlatformBatcher
{
    /// <summary>
    /// Queues the trace (serialized now) and returns at once: it never blocks and never throws.
    /// False when the trace was not queued (it could not be serialized, is larger than a batch,
    /// or the batcher is disposed); a full queue drops its oldest trace instead, and counts it.
    /// </summary>
    bool Enqueue(EvalTrace trace);

    /// <summary>
    /// Sends everything queued so far, waiting at most <see cref="EvalPlatformOptions.FlushTimeout"/>
    /// (or until <paramref name="cancellationToken"/>). True when nothing is left pending; never throws.
    /// </summary>
    Task<bool> FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>What happened to the traces so far.</summary>
    EvalPlatformCounters Counters { get; }
}

/// <summary>
/// What happened to enqueued traces. <see cref="Sent"/>: stored by the platform (a retry of a stored
/// trace counts once). <see cref="Dropped"/>: pushed out of a full queue (oldest first), or still
/// unsent when the batcher was disposed. <see cref="Rejected"/>: skipped by the platform as invalid,
/// refused as a different trace under a stored external id (a conflict), too large, or not serializable;
/// never retried. <see cref="Failed"/>: given up after the retries, or refused for the key (401/403).
/// <see cref="Pending"/>: queued or being sent. <see cref="Adjusted"/>: of the sent ones, stored with a
/// value changed (an end up to a second before its start is stored with zero length, the original kept).
/// </summary>
public readonly record struct EvalPlatformCounters(long Sent, long Dropped, long Rejected, long Failed, long Pending, long Adjusted = 0);

/// <summary>
/// The background batcher: traces are queued in memory (bounded; a full queue drops its oldest) and
/// sent to <c>POST /api/v1/traces/batch</c> when <see cref="EvalPlatformOptions.MaxBatchSize"/> wait
/// or every <see cref="EvalPlatformOptions.FlushInterval"/>. Network errors, timeouts, 408, 429 and
/// 5xx are retried with exponential backoff and jitter, honouring <c>Retry-After</c>; the platform
/// stores by external id, so a retry never stores a trace twice. The platform stores every valid trace of
/// a batch and lists each one's fate: the ones it skipped or refused as conflicts are counted as rejected
/// and logged with their reasons, and nothing of the batch is sent again. An older platform's all-or-none
/// 400 or 409 names the bad items (<c>traces[3].model</c>): only those are dropped and the rest is sent
/// again. Disposal flushes.
/// </summary>
public sealed partial class EvalPlatformBatcher : IEvalPlatformBatcher, IAsyncDisposable, IDisposable
{
    private static readonly byte[] BatchStart = "{\"traces\":["u8.ToArray();
    private static readonly byte[] BatchEnd = "]}"u8.ToArray();

    private readonly Func<HttpClient> _httpClients;
    private readonly EvalPlatformOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly LinkedList<byte[]> _queue = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _timer;
    private readonly Task _loop;
    private bool _wakeSignalled;
    private int _inFlight;
    private long _sent;
    private long _dropped;
    private long _rejected;
    private long _failed;
    private long _adjusted;
    private int _disposed;

    /// <summary>A batcher sending through <paramref name="httpClient"/> (the endpoint and the key come from <paramref name="options"/>).</summary>
    public EvalPlatformBatcher(HttpClient httpClient, EvalPlatformOptions options, ILogger<EvalPlatformBatcher>? logger = null, TimeProvider? timeProvider = null)
        : this(() => httpClient, options, logger, timeProvider)
    {
    }

    /// <summary>A batcher that takes a client per batch (from <c>IHttpClientFactory</c>, so connections are recycled).</summary>
    public EvalPlatformBatcher(Func<HttpClient> httpClients, EvalPlatformOptions options, ILogger<EvalPlatformBatcher>? logger = null, TimeProvider? timeProvider = null)
    {
        if (options.Validate() is { Count: > 0 } problems)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        _httpClients = httpClients;
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _timer = _time.CreateTimer(_ => OnTimer(), null, options.FlushInterval, options.FlushInterval);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>For tests: called with each wait before a retry, once the wait has started.</summary>
    internal Action<TimeSpan>? RetryScheduled { get; set; }

    /// <summary>For tests: the jitter factor in [0.5, 1] applied to an exponential backoff.</summary>
    internal Func<double> Jitter { get; set; } = () => 0.5 + (Random.Shared.NextDouble() / 2);

    public EvalPlatformCounters Counters
    {
        get
        {
            long pending;
            lock (_gate)
            {
                pending = _queue.Count + _inFlight;
            }

            return new EvalPlatformCounters(
                Interlocked.Read(ref _sent), Interlocked.Read(ref _dropped), Interlocked.Read(ref _rejected), Interlocked.Read(ref _failed), pending,
                Interlocked.Read(ref _adjusted));
        }
    }

    public bool Enqueue(EvalTrace trace)
    {
        try
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                Interlocked.Increment(ref _dropped);
                return false;
            }

            var json = JsonSerializer.SerializeToUtf8Bytes(trace, EvalJson.Options);
            if (json.Length + BatchStart.Length + BatchEnd.Length > _options.MaxBatchBytes)
            {
                Interlocked.Increment(ref _rejected);
                _logger.LogWarning("EvalPlatform: trace {ExternalId} is {Bytes} bytes, more than a batch may carry ({MaxBatchBytes}); it is not sent.",
                    trace.ExternalId, json.Length, _options.MaxBatchBytes);
                return false;
            }

            int count;
            var droppedOldest = false;
            lock (_gate)
            {
                if (_queue.Count >= _options.MaxQueueSize)
                {
                    _queue.RemoveFirst();
                    droppedOldest = true;
                }

                _queue.AddLast(json);
                count = _queue.Count;
            }

            if (droppedOldest)
            {
                var dropped = Interlocked.Increment(ref _dropped);
                if (dropped == 1 || dropped % 1000 == 0)
                {
                    _logger.LogWarning("EvalPlatform: the trace queue is full ({MaxQueueSize}); the oldest traces are dropped ({Dropped} so far).",
                        _options.MaxQueueSize, dropped);
                }
            }

            if (count >= _options.MaxBatchSize)
            {
                Wake();
            }

            return true;
        }
#pragma warning disable CA1031 // Telemetry must never throw into the app: any failure is counted and logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _rejected);
            TryLog(e, "EvalPlatform: a trace could not be queued.");
            return false;
        }
    }

    public async Task<bool> FlushAsync(CancellationToken cancellationToken = default)
    {
        using var timeout = new CancellationTokenSource(_options.FlushTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            await SendPendingAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("EvalPlatform: flush stopped with {Pending} traces still pending.", Counters.Pending);
        }
#pragma warning disable CA1031 // Telemetry must never throw into the app.
        catch (Exception e)
#pragma warning restore CA1031
        {
            TryLog(e, "EvalPlatform: flush failed.");
        }

        return Counters.Pending == 0;
    }

    /// <summary>Stops the background loop and sends what is pending, for at most <see cref="EvalPlatformOptions.FlushTimeout"/>; what is left counts as dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await FlushAsync().ConfigureAwait(false);

        int left;
        lock (_gate)
        {
            left = _queue.Count;
            _queue.Clear();
        }

        if (left > 0)
        {
            Interlocked.Add(ref _dropped, left);
            _logger.LogWarning("EvalPlatform: {Count} traces were not sent before shutdown and are dropped.", left);
        }

        _stopping.Dispose();
        _sending.Dispose();
        _wake.Dispose();
    }

    /// <summary>Synchronous disposal for containers disposed synchronously: waits for the flush like <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void OnTimer()
    {
        bool any;
        lock (_gate)
        {
            any = _queue.Count > 0;
        }

        if (any)
        {
            Wake();
        }
    }

    private void Wake()
    {
        lock (_gate)
        {
            if (_wakeSignalled || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            _wakeSignalled = true;
        }

        _wake.Release();
    }

    private async Task RunAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(stopping).ConfigureAwait(false);
                lock (_gate)
                {
                    _wakeSignalled = false;
                }

                await SendPendingAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The loop must survive anything; a bug here must not end sending for good.
            catch (Exception e)
#pragma warning restore CA1031
            {
                TryLog(e, "EvalPlatform: sending traces failed unexpectedly.");
            }
        }
    }

    /// <summary>Sends batches until the queue is empty, one sender at a time.</summary>
    private async Task SendPendingAsync(CancellationToken ct)
    {
        await _sending.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (TakeBatch() is { Count: > 0 } batch)
            {
                try
                {
                    await SendBatchAsync(batch, ct).ConfigureAwait(false);
                }
                finally
                {
                    lock (_gate)
                    {
                        _inFlight = 0;
                    }
                }
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    private List<byte[]> TakeBatch()
    {
        var batch = new List<byte[]>();
        var bytes = BatchStart.Length + BatchEnd.Length;
        lock (_gate)
        {
            while (_queue.First is { } first && batch.Count < _options.MaxBatchSize
                   && (batch.Count == 0 || bytes + first.Value.Length + 1 <= _options.MaxBatchBytes))
            {
                bytes += first.Value.Length + 1;
                batch.Add(first.Value);
                _queue.RemoveFirst();
            }

            _inFlight = batch.Count;
        }

        return batch;
    }

    private void Requeue(List<byte[]> batch)
    {
        lock (_gate)
        {
            for (var i = batch.Count - 1; i >= 0; i--)
            {
                if (_queue.Count >= _options.MaxQueueSize)
                {
                    // The queue filled up meanwhile: these are the oldest, so they are the ones to go.
                    Interlocked.Add(ref _dropped, i + 1);
                    break;
                }

                _queue.AddFirst(batch[i]);
            }
        }
    }

    /// <summary>
    /// Sends one batch to its end: stored, dropped item by item, or given up after the retries.
    /// When <paramref name="ct"/> stops it, the items not yet settled go back to the head of the queue.
    /// </summary>
    private async Task SendBatchAsync(List<byte[]> items, CancellationToken ct)
    {
        var retries = 0;
        while (items.Count > 0)
        {
            Outcome outcome;
            try
            {
                outcome = await PostAsync(items, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Requeue(items);
                throw;
            }

            switch (outcome.Kind)
            {
                case OutcomeKind.Stored:
                    Settle(items.Count, outcome.Fates ?? []);
                    return;

                case OutcomeKind.BadItems:
                    var bad = BadIndexes(outcome.Problem!, items.Count);
                    if (bad is null || bad.Count == items.Count)
                    {
                        Interlocked.Add(ref _rejected, items.Count);
                        _logger.LogWarning("EvalPlatform: a batch of {Count} traces was refused ({Status}) and is dropped: {Detail}",
                            items.Count, (int)outcome.Problem!.StatusCode!, Describe(outcome.Problem));
                        return;
                    }

                    // All or none: nothing of this batch was stored. Drop only the named items and send the rest again.
                    Interlocked.Add(ref _rejected, bad.Count);
                    _logger.LogWarning("EvalPlatform: {Bad} of {Count} traces in a batch were refused ({Status}) and are dropped; the others are sent again: {Detail}",
                        bad.Count, items.Count, (int)outcome.Problem!.StatusCode!, Describe(outcome.Problem));
                    items = items.Where((_, i) => !bad.Contains(i)).ToList();
                    continue;

                case OutcomeKind.TooLarge:
                    if (items.Count == 1)
                    {
                        Interlocked.Increment(ref _rejected);
                        _logger.LogWarning("EvalPlatform: a trace was refused as too large (413) and is dropped.");
                        return;
                    }

                    var second = items[(items.Count / 2)..];
                    try
                    {
                        await SendBatchAsync(items[..(items.Count / 2)], ct).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        Requeue(second);
                        throw;
                    }

                    await SendBatchAsync(second, ct).ConfigureAwait(false);
                    return;

                case OutcomeKind.Refused:
                    Interlocked.Add(ref _failed, items.Count);
                    _logger.LogError("EvalPlatform: a batch of {Count} traces was refused ({Status}) and is dropped; check EvalPlatform:ApiKey and its 'ingest' scope: {Detail}",
                        items.Count, (int?)outcome.Problem?.StatusCode, outcome.Problem is null ? null : Describe(outcome.Problem));
                    return;

                default:
                    if (retries >= _options.MaxRetries)
                    {
                        Interlocked.Add(ref _failed, items.Count);
                        _logger.LogWarning("EvalPlatform: a batch of {Count} traces is dropped after {Retries} retries: {Reason}",
                            items.Count, retries, outcome.Reason);
                        return;
                    }

                    retries++;
                    var wait = outcome.RetryAfter is { } asked
                        ? (asked > _options.MaxRetryAfter ? _options.MaxRetryAfter : asked)
                        : Backoff(retries);
                    _logger.LogDebug("EvalPlatform: retry {Retry} of a batch of {Count} in {Wait} ({Reason}).", retries, items.Count, wait, outcome.Reason);
                    try
                    {
                        var delay = Task.Delay(wait, _time, ct);
                        RetryScheduled?.Invoke(wait);
                        await delay.ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        Requeue(items);
                        throw;
                    }

                    continue;
            }
        }
    }

    private TimeSpan Backoff(int retry)
    {
        var exponential = _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, retry - 1);
        var capped = Math.Min(exponential, _options.MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * Jitter());
    }

    private async Task<Outcome> PostAsync(List<byte[]> items, CancellationToken ct)
    {
        var body = new byte[BatchStart.Length + BatchEnd.Length + items.Sum(i => i.Length) + items.Count - 1];
        var at = 0;
        BatchStart.CopyTo(body, at);
        at += BatchStart.Length;
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                body[at++] = (byte)',';
            }

            items[i].CopyTo(body, at);
            at += items[i].Length;
        }

        BatchEnd.CopyTo(body, at);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var request = EvalPlatformHttp.Request(_options, HttpMethod.Post, "traces/batch", EvalPlatformHttp.JsonContent(body));
            using var response = await _httpClients().SendAsync(request, timeout.Token).ConfigureAwait(false);
            var status = response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new Outcome(OutcomeKind.Stored, Fates: await FatesAsync(response, timeout.Token).ConfigureAwait(false));
            }

            var problem = await EvalPlatformHttp.ProblemAsync(response, timeout.Token).ConfigureAwait(false);
            return status switch
            {
                HttpStatusCode.BadRequest or HttpStatusCode.Conflict => new Outcome(OutcomeKind.BadItems, problem),
                HttpStatusCode.RequestEntityTooLarge => new Outcome(OutcomeKind.TooLarge, problem),
                _ when EvalPlatformHttp.IsTransient(status) => new Outcome(OutcomeKind.Transient, problem,
                    EvalPlatformHttp.RetryAfter(response, _time.GetUtcNow()), $"{(int)status} {Describe(problem)}"),
                _ => new Outcome(OutcomeKind.Refused, problem),
            };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new Outcome(OutcomeKind.Transient, Reason: $"no answer within {_options.RequestTimeout}");
        }
#pragma warning disable CA1031 // Network errors, and whatever a handler in the pipeline throws: all worth a retry, none for the app.
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            return new Outcome(OutcomeKind.Transient, Reason: $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// A stored batch: the traces the answer lists as skipped or conflict are rejected (never resent: they would be
    /// refused again), the others sent; the reasons are logged.
    /// </summary>
    private void Settle(int count, IReadOnlyList<TraceOutcome> fates)
    {
        var notStored = fates.Where(f => !f.IsStored && f.Index >= 0 && f.Index < count).ToList();
        var adjusted = fates.Count(f => f.IsStored && f.Adjustments is { Count: > 0 });
        Interlocked.Add(ref _sent, count - notStored.Count);
        Interlocked.Add(ref _rejected, notStored.Count);
        Interlocked.Add(ref _adjusted, adjusted);
        if (notStored.Count > 0)
        {
            _logger.LogWarning("EvalPlatform: the platform stored {Stored} of {Count} traces and skipped {Skipped}: {Detail}",
                count - notStored.Count, count, notStored.Count, Describe(notStored, f => f.Errors));
        }

        if (adjusted > 0)
        {
            _logger.LogInformation("EvalPlatform: {Adjusted} traces were stored with a value adjusted: {Detail}",
                adjusted, Describe(fates.Where(f => f.IsStored && f.Adjustments is { Count: > 0 }).ToList(), f => f.Adjustments));
        }
    }

    /// <summary>Each trace's fate from a stored batch's answer; empty when it lists none (an older platform, or a body that is not JSON: stored all the same).</summary>
    private static async Task<IReadOnlyList<TraceOutcome>> FatesAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var receipt = await JsonSerializer.DeserializeAsync<BatchReceipt>(
                await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), EvalJson.Options, ct).ConfigureAwait(false);
            return receipt?.Items ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static string Describe(List<TraceOutcome> fates, Func<TraceOutcome, IReadOnlyList<FieldProblem>?> problems)
    {
        var described = fates.Take(5).Select(f =>
            $"{f.Status} {f.ExternalId ?? "#" + f.Index.ToString(CultureInfo.InvariantCulture)} ({string.Join("; ", (problems(f) ?? []).Select(p => $"{p.Field}: {p.Message}"))})");
        return string.Join(", ", described) + (fates.Count > 5 ? $" (and {fates.Count - 5} more)" : "");
    }

    /// <summary>
    /// The batch indexes the problem's errors name (<c>traces[3].model</c>). A single-trace batch's
    /// conflict is reported without an index (<c>external_id</c>). Null when an error is about the
    /// batch as a whole, so nothing can be kept.
    /// </summary>
    internal static HashSet<int>? BadIndexes(EvalPlatformException problem, int count)
    {
        if (problem.Errors.Count == 0)
        {
            return null;
        }

        var bad = new HashSet<int>();
        foreach (var field in problem.Errors.Keys)
        {
            var match = ItemPath().Match(field);
            if (match.Success && int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < count)
            {
                bad.Add(index);
            }
            else if (count == 1 && field == "external_id")
            {
                bad.Add(0);
            }
            else
            {
                return null;
            }
        }

        return bad;
    }

    private static string Describe(EvalPlatformException problem)
    {
        var errors = problem.Errors.Take(5).Select(e => $"{e.Key}: {string.Join(" ", e.Value)}");
        return problem.Errors.Count > 0 ? string.Join("; ", errors) : problem.Detail ?? problem.Title ?? "";
    }

    private void TryLog(Exception e, string message)
    {
        try
        {
#pragma warning disable CA2254 // The messages are constants of this class.
            _logger.LogWarning(e, message);
#pragma warning restore CA2254
        }
#pragma warning disable CA1031 // A failing logger must not take the app down either.
        catch
#pragma warning restore CA1031
        {
        }
    }

    [GeneratedRegex(@"^traces\[(\d+)\]")]
    private static partial Regex ItemPath();

    private enum OutcomeKind
    {
        Stored,
        BadItems,
        TooLarge,
        Refused,
        Transient,
    }

    private sealed record Outcome(
        OutcomeKind Kind, EvalPlatformException? Problem = null, TimeSpan? RetryAfter = null, string? Reason = null, IReadOnlyList<TraceOutcome>? Fates = null);
}
