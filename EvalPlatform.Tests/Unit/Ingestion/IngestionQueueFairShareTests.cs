using EvalPlatform.Core.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Unit.Ingestion;

/// <summary>The queue's bounds in requests and bytes, and each team's share of them (ADR 36).</summary>
public sealed class IngestionQueueFairShareTests
{
    /// <summary>Blocks every write until opened; fails the groups holding a poisoned team's request.</summary>
    private sealed class BlockingStore(Guid? poisoned = null) : ITraceStore
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<int> Calls { get; } = [];

        public async Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default)
        {
            Entered.TrySetResult();
            await Gate.Task;
            lock (Calls)
            {
                Calls.Add(requests.Count);
            }

            if (poisoned is { } bad && requests.Any(r => r.TeamId == bad))
            {
                throw new InvalidOperationException("unforeseen failure");
            }

            return requests.Select(_ => new StoreResult([], [])).ToList();
        }
    }

    private static IngestionQueue Build(ITraceStore store, int capacity = 10, long capacityBytes = 1_000_000, double share = 0.5)
    {
        var services = new ServiceCollection().AddSingleton(store).BuildServiceProvider();
        return new IngestionQueue(services.GetRequiredService<IServiceScopeFactory>(),
            Options.Create(new IngestionOptions { QueueCapacity = capacity, QueueCapacityBytes = capacityBytes, TeamShare = share, Writers = 1 }),
            NullLogger<IngestionQueue>.Instance);
    }

    private static StoreRequest Request(Guid team, long bytes = 10) => new(team, [], bytes);

    /// <summary>Starts the writer and holds it inside the store with one request of its own, so what follows waits in the queue.</summary>
    private static async Task<(Task Writer, Task<StoreResult> Held)> HoldWriterAsync(IngestionQueue queue, BlockingStore store)
    {
        var writer = queue.RunAsync(CancellationToken.None);
        var held = queue.EnqueueAsync(Request(Guid.NewGuid()), default);
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((0, 0L), queue.Waiting);
        return (writer, held);
    }

    [Fact]
    public async Task ATeamOverItsShareOfRequests_IsRefused_WhileAnotherTeamIsStillTaken()
    {
        var store = new BlockingStore();
        var queue = Build(store, capacity: 10, share: 0.5);
        var (writer, held) = await HoldWriterAsync(queue, store);
        Guid a = Guid.NewGuid(), b = Guid.NewGuid();

        var fromA = Enumerable.Range(0, 5).Select(_ => queue.EnqueueAsync(Request(a), default)).ToList();
        var refused = Assert.Throws<IngestionOverloadedException>(() => { _ = queue.EnqueueAsync(Request(a), default); });
        Assert.Contains("team's share", refused.Message, StringComparison.Ordinal);
        Assert.Equal((5, 50L), queue.WaitingFor(a));

        var fromB = Enumerable.Range(0, 5).Select(_ => queue.EnqueueAsync(Request(b), default)).ToList();
        Assert.Equal((5, 50L), queue.WaitingFor(b));
        // Now the whole queue is full: a third team is refused for capacity, not for its share.
        var full = Assert.Throws<IngestionOverloadedException>(() => { _ = queue.EnqueueAsync(Request(Guid.NewGuid()), default); });
        Assert.DoesNotContain("team's share", full.Message, StringComparison.Ordinal);

        store.Gate.SetResult();
        await Task.WhenAll([held, .. fromA, .. fromB]).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((0, 0L), queue.Waiting);
        Assert.Equal((0, 0L), queue.WaitingFor(a));
        Assert.Equal((0, 0L), queue.WaitingFor(b));

        // Released: team A is taken again.
        await queue.EnqueueAsync(Request(a), default).WaitAsync(TimeSpan.FromSeconds(5));
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task TheQueueIsBoundedInBytes_InTotalAndPerTeam()
    {
        var store = new BlockingStore();
        var queue = Build(store, capacity: 100, capacityBytes: 1_000, share: 0.5);
        var (writer, held) = await HoldWriterAsync(queue, store);
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid();

        var accepted = new List<Task<StoreResult>> { queue.EnqueueAsync(Request(a, 400), default) };
        // 400 + 400 > A's 500 bytes.
        Assert.Throws<IngestionOverloadedException>(() => { _ = queue.EnqueueAsync(Request(a, 400), default); });
        accepted.Add(queue.EnqueueAsync(Request(b, 400), default));
        // 800 + 300 > the queue's 1,000 bytes, though C has nothing queued.
        Assert.Throws<IngestionOverloadedException>(() => { _ = queue.EnqueueAsync(Request(c, 300), default); });
        accepted.Add(queue.EnqueueAsync(Request(c, 200), default));
        Assert.Equal((3, 1_000L), queue.Waiting);

        store.Gate.SetResult();
        await Task.WhenAll([held, .. accepted]).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((0, 0L), queue.Waiting);
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ARequestAloneInTheQueue_IsTakenWhateverItsSize()
    {
        var store = new BlockingStore();
        store.Gate.SetResult();
        var queue = Build(store, capacityBytes: 100);
        var writer = queue.RunAsync(CancellationToken.None);

        await queue.EnqueueAsync(Request(Guid.NewGuid(), 5_000), default).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal((0, 0L), queue.Waiting);
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task CountsReturnToZero_AfterAFailedGroup_RetriedOneByOne_AndAFailedRequest()
    {
        var poisoned = Guid.NewGuid();
        var store = new BlockingStore(poisoned);
        var queue = Build(store, capacity: 10, share: 0.5);
        Guid a = Guid.NewGuid(), b = Guid.NewGuid();

        // Queued before the writer starts: one group of four, which fails and is retried request by request.
        var good = new[] { queue.EnqueueAsync(Request(a, 100), default), queue.EnqueueAsync(Request(b, 100), default) };
        var bad = queue.EnqueueAsync(Request(poisoned, 100), default);
        var last = queue.EnqueueAsync(Request(a, 100), default);
        Assert.Equal((4, 400L), queue.Waiting);
        Assert.Equal((2, 200L), queue.WaitingFor(a));
        store.Gate.SetResult();
        var writer = queue.RunAsync(CancellationToken.None);

        await Task.WhenAll([.. good, last]).WaitAsync(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal([4, 1, 1, 1, 1], store.Calls);
        Assert.Equal((0, 0L), queue.Waiting);
        Assert.Equal((0, 0L), queue.WaitingFor(poisoned));

        // A request that fails alone (no group to retry) releases its share too: the team can fill it again.
        await Assert.ThrowsAsync<InvalidOperationException>(() => queue.EnqueueAsync(Request(poisoned), default).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal((0, 0L), queue.WaitingFor(poisoned));
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Throws<IngestionOverloadedException>(() => { _ = queue.EnqueueAsync(Request(a), default); });
        Assert.Equal((0, 0L), queue.Waiting);
    }

    [Fact]
    public async Task ManyTeamsEnqueuingAtOnce_LeaveNothingCounted()
    {
        var store = new BlockingStore();
        store.Gate.SetResult();
        var queue = Build(store, capacity: 50, capacityBytes: 10_000, share: 0.2);
        var writer = queue.RunAsync(CancellationToken.None);
        var teams = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToArray();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 2_000).Select(i => Task.Run(async () =>
        {
            try
            {
                await queue.EnqueueAsync(Request(teams[i % teams.Length], 50), default);
                return true;
            }
            catch (IngestionOverloadedException)
            {
                return false;
            }
        }))).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Contains(true, outcomes);
        Assert.Equal((0, 0L), queue.Waiting);
        Assert.All(teams, t => Assert.Equal((0, 0L), queue.WaitingFor(t)));
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
