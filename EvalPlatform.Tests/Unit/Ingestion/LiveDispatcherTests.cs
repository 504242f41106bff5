using EvalPlatform.Core.Live;
using Microsoft.Extensions.Logging.Abstractions;

namespace EvalPlatform.Tests.Unit.Ingestion;

public sealed class LiveDispatcherTests
{
    [Fact]
    public async Task ASlowSubscriber_NeverBlocksDelivery_DropsAndIsToldToResync()
    {
        var dispatcher = new LiveDispatcher(NullLogger<LiveDispatcher>.Instance);
        var team = Guid.NewGuid();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new List<LiveEvent>();
        var resynced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var slow = dispatcher.Subscribe(team, async e =>
        {
            await gate.Task;
            lock (received)
            {
                received.Add(e);
            }

            if (e is ResyncNeeded)
            {
                resynced.TrySetResult();
            }
        });

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < LiveDispatcher.QueueCapacity * 4; i++)
        {
            dispatcher.Deliver(new TraceUpdated(team, Guid.NewGuid()));
        }

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), "Delivering must not wait for the subscriber.");
        gate.SetResult();
        await resynced.Task.WaitAsync(TimeSpan.FromSeconds(10));
        lock (received)
        {
            Assert.True(received.Count(e => e is TraceUpdated) <= LiveDispatcher.QueueCapacity + 1);
            Assert.IsType<ResyncNeeded>(received[^1]);
        }
    }

    [Fact]
    public async Task Events_GoOnlyToTheirTeam_AndAFailingSubscriberDoesNotStopOthers()
    {
        var dispatcher = new LiveDispatcher(NullLogger<LiveDispatcher>.Instance);
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        var got = new TaskCompletionSource<LiveEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var failing = dispatcher.Subscribe(a, _ => throw new InvalidOperationException("page broke"));
        using var fine = dispatcher.Subscribe(a, e => { got.TrySetResult(e); return Task.CompletedTask; });
        var toB = new List<LiveEvent>();
        var markerArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var marker = new TraceUpdated(b, Guid.NewGuid());
        using var other = dispatcher.Subscribe(b, e =>
        {
            lock (toB)
            {
                toB.Add(e);
            }

            if (e == marker)
            {
                markerArrived.TrySetResult();
            }

            return Task.CompletedTask;
        });

        dispatcher.Deliver(new TraceUpdated(a, Guid.Empty));

        Assert.Equal(a, (await got.Task.WaitAsync(TimeSpan.FromSeconds(5))).TeamId);
        // Team B's queue delivers in order: once its own later event is in, a wrongly routed one would be in before it.
        dispatcher.Deliver(marker);
        await markerArrived.Task.WaitAsync(TimeSpan.FromSeconds(5));
        lock (toB)
        {
            Assert.Equal([marker], toB);
        }
    }

    [Fact]
    public void Dispose_Unsubscribes()
    {
        var dispatcher = new LiveDispatcher(NullLogger<LiveDispatcher>.Instance);
        var team = Guid.NewGuid();
        var subscription = dispatcher.Subscribe(team, _ => Task.CompletedTask);
        Assert.Equal(1, dispatcher.SubscriberCount(team));

        subscription.Dispose();

        Assert.Equal(0, dispatcher.SubscriberCount(team));
    }
}
