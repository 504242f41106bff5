using System.Diagnostics;
using System.Threading.Channels;
using EvalPlatform.Core.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Ingestion;

/// <summary>The <c>Ingestion</c> section.</summary>
public sealed class IngestionOptions
{
    public const string SectionName = "Ingestion";

    /// <summary>Requests waiting for the writer; past this the API answers 503 with Retry-After.</summary>
    public int QueueCapacity { get; set; } = 2_000;

    /// <summary>The most traces one transaction writes.</summary>
    public int MaxTracesPerCommit { get; set; } = 5_000;

    /// <summary>
    /// Groups written at the same time, each in its own transaction on its own connection: while
    /// one group waits for the database, the next is being sent.
    /// </summary>
    public int Writers { get; set; } = 2;

    /// <summary>
    /// Bytes of trace JSON waiting for the writer (each request's <see cref="StoreRequest.Bytes"/>); past this the API
    /// answers 503 with Retry-After, whatever the request count. A request alone in the queue is taken whatever its size
    /// (the body size limits bound it).
    /// </summary>
    public long QueueCapacityBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// The fraction of either capacity (requests, bytes) one team's waiting requests may hold; past it that team gets
    /// 503 + Retry-After while the others are still taken (rounded up, so at least one request).
    /// </summary>
    public double TeamShare { get; set; } = 0.5;
}

/// <summary>The queue, or the team's share of it, is full: the caller should retry after a moment (503 + Retry-After).</summary>
public sealed class IngestionOverloadedException(string message = "Ingestion is at capacity; retry shortly.") : Exception(message);

/// <summary>
/// Group commit: requests wait here briefly, one writer drains whatever has queued up and
/// stores it in one transaction, then answers each request. A burst of single-trace POSTs
/// costs one transaction per drain, not one per request; the queue is bounded in requests and in bytes, and no
/// team may hold more than its share of either (fair sharing: a flooding team is refused, the others still get in).
/// A request counts against its team from the moment it is queued until a writer takes it.
/// </summary>
public sealed class IngestionQueue
{
    private readonly Channel<Pending> _queue;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger<IngestionQueue> _logger;
    private readonly int _maxTraces;
    private readonly int _writers;
    private readonly int _capacity;
    private readonly long _capacityBytes;
    private readonly int _teamRequests;
    private readonly long _teamBytes;
    private readonly EvalMetrics? _metrics;

    // What waits in the channel, in total and per team (a team is removed when it has nothing waiting, so the map stays
    // as small as the set of teams with queued work). Guarded by _gate.
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Load> _teams = [];
    private Load _total;

    public IngestionQueue(IServiceScopeFactory scopes, IOptions<IngestionOptions> options, ILogger<IngestionQueue> logger, EvalMetrics? metrics = null)
    {
        _scopes = scopes;
        _logger = logger;
        _metrics = metrics;
        metrics?.ObserveIngestionQueue(() => Waiting.Requests, () => Waiting.Bytes);
        _maxTraces = Math.Max(1, options.Value.MaxTracesPerCommit);
        _writers = Math.Max(1, options.Value.Writers);
        _capacity = Math.Max(1, options.Value.QueueCapacity);
        _capacityBytes = Math.Max(1, options.Value.QueueCapacityBytes);
        var share = Math.Clamp(options.Value.TeamShare, 0, 1);
        _teamRequests = Math.Max(1, (int)Math.Ceiling(_capacity * share));
        _teamBytes = Math.Max(1, (long)Math.Ceiling(_capacityBytes * share));
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = _writers == 1,
        });
    }

    /// <summary>Requests waiting for the writer (not counting the group being written).</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>Requests and bytes waiting for the writer, in total.</summary>
    public (int Requests, long Bytes) Waiting
    {
        get
        {
            lock (_gate)
            {
                return (_total.Requests, _total.Bytes);
            }
        }
    }

    /// <summary>Requests and bytes of one team waiting for the writer.</summary>
    public (int Requests, long Bytes) WaitingFor(Guid teamId)
    {
        lock (_gate)
        {
            return _teams.TryGetValue(teamId, out var load) ? (load.Requests, load.Bytes) : (0, 0);
        }
    }

    /// <summary>
    /// Queues the request and completes once it is committed (or refused). Throws <see cref="IngestionOverloadedException"/>
    /// at once when the queue is full in requests or bytes, or the request's team already holds its share.
    /// </summary>
    public Task<StoreResult> EnqueueAsync(StoreRequest request, CancellationToken ct)
    {
        var pending = new Pending(request, new TaskCompletionSource<StoreResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        var bytes = Math.Max(0, request.Bytes);
        bool written;
        lock (_gate)
        {
            _teams.TryGetValue(request.TeamId, out var team);
            if (_total.Requests >= _capacity || (_total.Requests > 0 && _total.Bytes + bytes > _capacityBytes))
            {
                throw new IngestionOverloadedException();
            }

            if (team.Requests >= _teamRequests || (team.Requests > 0 && team.Bytes + bytes > _teamBytes))
            {
                throw new IngestionOverloadedException("This team's share of the ingestion queue is full; retry shortly.");
            }

            // Counted before the write, so a writer that takes it at once releases what was added.
            _teams[request.TeamId] = team.Add(1, bytes);
            _total = _total.Add(1, bytes);
            written = _queue.Writer.TryWrite(pending);
        }

        if (!written)
        {
            // Completed (shutting down): nothing waits, nothing stays counted.
            Release(request);
            throw new IngestionOverloadedException();
        }

        // A client that hangs up does not cancel the write: the data was accepted into the queue.
        return pending.Completion.Task;
    }

    /// <summary>The writer loops; run by a hosted service until the queue is completed and drained.</summary>
    public Task RunAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _writers).Select(_ => Task.Run(() => WriterLoopAsync(stoppingToken), CancellationToken.None)));

    private async Task WriterLoopAsync(CancellationToken stoppingToken)
    {
        var group = new List<Pending>();
        while (await _queue.Reader.WaitToReadAsync(stoppingToken))
        {
            group.Clear();
            var traces = 0;
            while (traces < _maxTraces && _queue.Reader.TryRead(out var next))
            {
                Release(next.Request);
                group.Add(next);
                traces += next.Request.Traces.Count;
            }

            // Several writers wake for one request; the ones that found nothing go back to waiting (no empty commit).
            if (group.Count > 0)
            {
                await WriteAsync(group, stoppingToken);
            }
        }
    }

    /// <summary>Stops taking requests and lets the writer drain what is queued.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task WriteAsync(List<Pending> group, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = EvalMetrics.Activities.StartActivity("ingestion.commit");
        activity?.SetTag("evalplatform.requests", group.Count);
        try
        {
            var results = await StoreAsync(group.Select(p => p.Request).ToList(), ct);
            _metrics?.CommitSucceeded(Stopwatch.GetElapsedTime(started), group.Sum(p => p.Request.Traces.Count));
            for (var i = 0; i < group.Count; i++)
            {
                group[i].Completion.TrySetResult(results[i]);
            }

            return;
        }
        catch (Exception e) when (group.Count > 1 && e is not OperationCanceledException)
        {
            _metrics?.CommitFailed(Stopwatch.GetElapsedTime(started));
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            // The store already answers unique clashes and refused values request by request; whatever else failed
            // the group (one request's input failing in a way nobody foresaw, a dropped connection) must not cost the
            // group's other requests, which may be other teams': nothing was committed, so each is written alone.
            _logger.LogWarning(e, "Storing {Requests} ingestion requests together failed; storing them one by one", group.Count);
        }
        catch (Exception e)
        {
            _metrics?.CommitFailed(Stopwatch.GetElapsedTime(started));
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            Fail(group[0], e);
            return;
        }

        foreach (var pending in group)
        {
            var alone = Stopwatch.GetTimestamp();
            try
            {
                pending.Completion.TrySetResult((await StoreAsync([pending.Request], ct))[0]);
                _metrics?.CommitSucceeded(Stopwatch.GetElapsedTime(alone), pending.Request.Traces.Count);
            }
            catch (Exception e)
            {
                _metrics?.CommitFailed(Stopwatch.GetElapsedTime(alone));
                Fail(pending, e);
            }
        }
    }

    private async Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct)
    {
        await using var scope = _scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ITraceStore>().StoreAsync(requests, ct);
    }

    private void Fail(Pending pending, Exception e)
    {
        if (Data.DatabaseFailures.IsTransient(e))
        {
            // The database is away for a moment (the client gets 503 and sends it again): not a bug, no stack.
            _logger.LogWarning("Storing an ingestion request of team {TeamId} ({Traces} traces) failed, the database being unavailable ({Reason}); nothing of it was committed",
                pending.Request.TeamId, pending.Request.Traces.Count, e.GetBaseException().Message);
        }
        else
        {
            _logger.LogError(e, "Storing an ingestion request of team {TeamId} ({Traces} traces) failed; nothing of it was committed",
                pending.Request.TeamId, pending.Request.Traces.Count);
        }
        pending.Completion.TrySetException(e);
    }

    private void Release(StoreRequest request)
    {
        var bytes = Math.Max(0, request.Bytes);
        lock (_gate)
        {
            _total = _total.Add(-1, -bytes);
            if (_teams.TryGetValue(request.TeamId, out var team))
            {
                team = team.Add(-1, -bytes);
                if (team.Requests <= 0)
                {
                    _teams.Remove(request.TeamId);
                }
                else
                {
                    _teams[request.TeamId] = team;
                }
            }
        }
    }

    private sealed record Pending(StoreRequest Request, TaskCompletionSource<StoreResult> Completion);

    private readonly record struct Load(int Requests, long Bytes)
    {
        public Load Add(int requests, long bytes) => new(Requests + requests, Bytes + bytes);
    }
}
