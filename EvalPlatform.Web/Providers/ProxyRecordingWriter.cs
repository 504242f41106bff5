using System.Threading.Channels;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// Records proxied calls in the background (ADR 30): the forwarder hands each finished call over here and returns, so the
/// caller's keep-alive connection is free for its next request the moment the answer is complete, instead of waiting for
/// the trace's group commit and the usage row. Whatever has queued up is recorded together, per API key: one ingestion
/// batch and one usage write in a scope of its own acting as that key in its team, so recording keeps up with a busy proxy
/// (one transaction per call could not on SQLite) and one team's failing batch is logged without touching another's. The queue is bounded; when it is full (or the app is stopping) the forwarder records the call itself,
/// so a call is never left unrecorded. On shutdown the queue is drained before the ingestion writer stops (this service
/// is registered after it, and hosted services stop in reverse order).
/// </summary>
public sealed partial class ProxyRecordingWriter(IServiceScopeFactory scopes, ILogger<ProxyRecordingWriter> logger) : BackgroundService
{
    /// <summary>Calls waiting to be recorded; past this the forwarder records inline.</summary>
    public const int Capacity = 10_000;

    /// <summary>Writers at once: while one batch waits for the database, the next is being prepared.</summary>
    private const int Workers = 2;

    /// <summary>The most calls one writer takes from the queue at a time.</summary>
    private const int MaxBatch = 500;

    /// <summary>
    /// Tries for calls refused because the team's share of the ingestion queue is full (nothing of them was stored): each
    /// goes back to the end of this queue, behind other teams' calls, and is tried again after <see cref="OverloadPause"/>.
    /// </summary>
    private const int MaxAttempts = 240;

    private static readonly TimeSpan OverloadPause = TimeSpan.FromMilliseconds(250);

    private long _deferred;
    private long _queued;
    private long _settled;

    /// <summary>Calls queued here since the start (each once, however often it is put back).</summary>
    public long Queued => Interlocked.Read(ref _queued);

    /// <summary>
    /// Queued calls whose recording has ended since the start: stored, failed and logged, or given up. Equal to
    /// <see cref="Queued"/> when nothing handed over is still waiting or being written.
    /// </summary>
    public long Settled => Interlocked.Read(ref _settled);

    /// <summary>Calls put back because their team's share of the ingestion queue was full, since the start.</summary>
    public long Deferred => Interlocked.Read(ref _deferred);

    private readonly Channel<Recording> _queue = Channel.CreateBounded<Recording>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>Queues the call's recording; false when the queue is full or closed (the caller then records it itself).</summary>
    public bool TryQueue(ProxyExchange exchange, Guid? connectionId, ITeamContext team)
    {
        if (team is not { TeamId: { } teamId, ApiKeyId: { } keyId })
        {
            return false;
        }

        // Counted before it can be read, so Queued never trails Settled.
        Interlocked.Increment(ref _queued);
        if (_queue.Writer.TryWrite(new Recording(exchange, connectionId, teamId, keyId, team.Scopes)))
        {
            return true;
        }

        Interlocked.Decrement(ref _queued);
        return false;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(WorkAsync, CancellationToken.None)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // What is queued was answered already: record it before the ingestion writer drains and stops.
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private async Task WorkAsync()
    {
        var batch = new List<Recording>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            var overloaded = false;
            foreach (var calls in batch.GroupBy(r => (r.TeamId, r.ApiKeyId, r.Scopes)))
            {
                // Each key's calls on their own: a trace the store refuses is skipped alone (batch semantics, ADR 13), and a
                // failure of the whole write is logged for this key's calls only. No retry of such a failure: the traces
                // may be stored when the usage write fails, and a trace has no id of its own to make a second try idempotent.
                var list = calls.ToList();
                if (await TryRecordAsync(list))
                {
                    Interlocked.Add(ref _settled, list.Count);
                    continue;
                }

                // The team's share of the ingestion queue is full (the ingestion door answers 503 then): nothing was
                // stored, so the calls wait their turn again; at shutdown, when this queue is closed, they wait here.
                overloaded = true;
                Interlocked.Add(ref _deferred, list.Count);
                foreach (var call in list)
                {
                    var again = call with { Attempts = call.Attempts + 1 };
                    if (again.Attempts >= MaxAttempts)
                    {
                        LogLost(logger, call.TeamId, MaxAttempts);
                        Interlocked.Increment(ref _settled);
                    }
                    else if (!_queue.Writer.TryWrite(again))
                    {
                        await RetryHereAsync(again);
                    }
                }
            }

            if (overloaded)
            {
                await Task.Delay(OverloadPause);
            }
        }
    }

    private async Task RetryHereAsync(Recording call)
    {
        for (var attempt = call.Attempts; attempt < MaxAttempts; attempt++)
        {
            await Task.Delay(OverloadPause);
            if (await TryRecordAsync([call]))
            {
                Interlocked.Increment(ref _settled);
                return;
            }
        }

        LogLost(logger, call.TeamId, MaxAttempts);
        Interlocked.Increment(ref _settled);
    }

    /// <summary>False only when the team's share of the ingestion queue was full and nothing was stored (try again later).</summary>
    private async Task<bool> TryRecordAsync(IReadOnlyList<Recording> calls)
    {
        var first = calls[0];
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(first.TeamId, first.ApiKeyId, first.Scopes);
            await scope.ServiceProvider.GetRequiredService<ProxyRecorder>()
                .RecordAsync(calls.Select(r => new ProxyCall(r.Exchange, r.ConnectionId)).ToList(), CancellationToken.None);
        }
        catch (IngestionOverloadedException)
        {
            return false;
        }
        catch (Exception e)
        {
            LogFailed(logger, e, calls.Count, first.TeamId);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A proxied call of team {TeamId} was not recorded: the team's share of the ingestion queue stayed full for {Attempts} tries")]
    private static partial void LogLost(ILogger logger, Guid teamId, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording {Calls} proxied calls of team {TeamId} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, int calls, Guid teamId);

    private sealed record Recording(ProxyExchange Exchange, Guid? ConnectionId, Guid TeamId, Guid ApiKeyId, ApiKeyScopes Scopes, int Attempts = 0);
}
