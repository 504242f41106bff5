using System.Collections.Concurrent;
using System.Diagnostics;
using EvalPlatform.Core.Observability;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Live;

/// <summary>
/// Fans events out to this node's subscribers. Each subscription owns a bounded queue and a
/// pump; <see cref="Deliver"/> only enqueues, so a slow page can never slow ingestion down.
/// </summary>
public sealed class LiveDispatcher(ILogger<LiveDispatcher> logger, EvalMetrics? metrics = null)
{
    public const int QueueCapacity = 256;

    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Subscription, byte>> _byTeam = new();
    private volatile Action<LiveEvent>[] _observers = [];
    private readonly Lock _observersLock = new();

    public IDisposable Subscribe(Guid teamId, Func<LiveEvent, Task> handler)
    {
        var subscription = new Subscription(this, teamId, handler, logger, metrics);
        _byTeam.GetOrAdd(teamId, _ => new()).TryAdd(subscription, 0);
        return subscription;
    }

    /// <summary>
    /// Node-wide, for every team: the observer runs inline in <see cref="Deliver"/>, so it must be
    /// quick and must not throw (caches evicting an entry, not pages).
    /// </summary>
    public void Observe(Action<LiveEvent> observer)
    {
        lock (_observersLock)
        {
            _observers = [.. _observers, observer];
        }
    }

    public void Deliver(LiveEvent liveEvent)
    {
        foreach (var observer in _observers)
        {
            observer(liveEvent);
        }

        if (_byTeam.TryGetValue(liveEvent.TeamId, out var subscriptions))
        {
            foreach (var subscription in subscriptions.Keys)
            {
                subscription.Offer(liveEvent);
            }
        }
    }

    public int SubscriberCount(Guid teamId) => _byTeam.TryGetValue(teamId, out var s) ? s.Count : 0;

    private void Remove(Subscription subscription)
    {
        if (_byTeam.TryGetValue(subscription.TeamId, out var subscriptions))
        {
            subscriptions.TryRemove(subscription, out _);
        }
    }

    private sealed class Subscription : IDisposable
    {
        private readonly LiveDispatcher _owner;
        private readonly Func<LiveEvent, Task> _handler;
        private readonly ILogger _logger;
        private readonly EvalMetrics? _metrics;

        // Each event with the moment it was offered: the delivery latency metric runs from there to its handler's end.
        private readonly Channel<(LiveEvent Event, long Offered)> _queue = Channel.CreateBounded<(LiveEvent, long)>(
            new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        private int _overflowed;

        public Subscription(LiveDispatcher owner, Guid teamId, Func<LiveEvent, Task> handler, ILogger logger, EvalMetrics? metrics)
        {
            _metrics = metrics;
            _owner = owner;
            TeamId = teamId;
            _handler = handler;
            _logger = logger;
            _ = Task.Run(PumpAsync);
        }

        public Guid TeamId { get; }

        public void Offer(LiveEvent liveEvent)
        {
            // DropWrite reports success even when it drops; count first so a full queue is noticed.
            if (_queue.Reader.Count >= QueueCapacity || !_queue.Writer.TryWrite((liveEvent, Stopwatch.GetTimestamp())))
            {
                Interlocked.Exchange(ref _overflowed, 1);
            }
        }

        public void Dispose()
        {
            _owner.Remove(this);
            _queue.Writer.TryComplete();
        }

        private async Task PumpAsync()
        {
            await foreach (var (liveEvent, offered) in _queue.Reader.ReadAllAsync())
            {
                await InvokeAsync(liveEvent);
                _metrics?.LiveDelivered(Stopwatch.GetElapsedTime(offered));
                if (_queue.Reader.Count == 0 && Interlocked.Exchange(ref _overflowed, 0) == 1)
                {
                    await InvokeAsync(new ResyncNeeded(TeamId));
                }
            }
        }

        private async Task InvokeAsync(LiveEvent liveEvent)
        {
            try
            {
                await _handler(liveEvent);
            }
            catch (ObjectDisposedException e)
            {
                // The subscriber's owner is gone (a closed browser tab: its circuit, renderer and
                // services are disposed before or while its page unsubscribes). Nothing is wrong:
                // stop delivering to it, and say so quietly.
                _logger.LogDebug("A live subscriber of team {TeamId} is gone ({Object}); it no longer receives events", TeamId, e.ObjectName);
                Dispose();
            }
            catch (Exception e)
            {
                // A broken page must not stop its own pump, nor anyone else's.
                _logger.LogWarning(e, "A live subscriber failed on {Event}", liveEvent.GetType().Name);
            }
        }
    }
}

/// <summary>The single-node bus: publishing is delivering.</summary>
public sealed class InProcessLiveBus(LiveDispatcher dispatcher) : ILiveBus
{
    public Task PublishAsync(LiveEvent liveEvent, CancellationToken ct = default)
    {
        dispatcher.Deliver(liveEvent);
        return Task.CompletedTask;
    }

    public IDisposable Subscribe(Guid teamId, Func<LiveEvent, Task> handler) => dispatcher.Subscribe(teamId, handler);
}
