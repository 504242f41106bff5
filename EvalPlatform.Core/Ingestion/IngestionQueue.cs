using System.Threading.Channels;
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
}

/// <summary>The queue is full: the caller should retry after a moment (503 + Retry-After).</summary>
public sealed class IngestionOverloadedException() : Exception("Ingestion is at capacity; retry shortly.");

/// <summary>
/// Group commit: requests wait here briefly, one writer drains whatever has queued up and
/// stores it in one transaction, then answers each request. A burst of single-trace POSTs
/// costs one transaction per drain, not one per request; the queue is bounded.
/// </summary>
public sealed class IngestionQueue
{
    private readonly Channel<Pending> _queue;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger<IngestionQueue> _logger;
    private readonly int _maxTraces;
    private readonly int _writers;

    public IngestionQueue(IServiceScopeFactory scopes, IOptions<IngestionOptions> options, ILogger<IngestionQueue> logger)
    {
        _scopes = scopes;
        _logger = logger;
        _maxTraces = Math.Max(1, options.Value.MaxTracesPerCommit);
        _writers = Math.Max(1, options.Value.Writers);
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, options.Value.QueueCapacity))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = _writers == 1,
        });
    }

    /// <summary>Requests waiting for the writer (not counting the group being written).</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>Queues the request and completes once it is committed (or refused).</summary>
    public Task<StoreResult> EnqueueAsync(StoreRequest request, CancellationToken ct)
    {
        var pending = new Pending(request, new TaskCompletionSource<StoreResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
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
        try
        {
            var results = await StoreAsync(group.Select(p => p.Request).ToList(), ct);
            for (var i = 0; i < group.Count; i++)
            {
                group[i].Completion.TrySetResult(results[i]);
            }

            return;
        }
        catch (Exception e) when (group.Count > 1 && e is not OperationCanceledException)
        {
            // The store already answers unique clashes and refused values request by request; whatever else failed
            // the group (one request's input failing in a way nobody foresaw, a dropped connection) must not cost the
            // group's other requests, which may be other teams': nothing was committed, so each is written alone.
            _logger.LogWarning(e, "Storing {Requests} ingestion requests together failed; storing them one by one", group.Count);
        }
        catch (Exception e)
        {
            Fail(group[0], e);
            return;
        }

        foreach (var pending in group)
        {
            try
            {
                pending.Completion.TrySetResult((await StoreAsync([pending.Request], ct))[0]);
            }
            catch (Exception e)
            {
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
        _logger.LogError(e, "Storing an ingestion request of team {TeamId} ({Traces} traces) failed; nothing of it was committed",
            pending.Request.TeamId, pending.Request.Traces.Count);
        pending.Completion.TrySetException(e);
    }

    private sealed record Pending(StoreRequest Request, TaskCompletionSource<StoreResult> Completion);
}
