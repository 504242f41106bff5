using EvalPlatform.Core.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Unit.Ingestion;

public sealed class IngestionQueueTests
{
    /// <summary>A store that records each commit's size and can be held shut.</summary>
    private sealed class GatedStore : ITraceStore
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource TwoInside { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<int> Commits { get; } = [];
        private int _inside;

        public async Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default)
        {
            Entered.TrySetResult();
            if (Interlocked.Increment(ref _inside) == 2)
            {
                TwoInside.TrySetResult();
            }

            await Gate.Task;
            lock (Commits)
            {
                Commits.Add(requests.Count);
            }

            return requests.Select(r => new StoreResult(r.Traces.Select(t => new StoredTrace(t.Index, Guid.NewGuid(), null, true)).ToList(), [])).ToList();
        }
    }

    private static (IngestionQueue Queue, GatedStore Store) Build(int capacity, int writers = 1)
    {
        var store = new GatedStore();
        var services = new ServiceCollection().AddSingleton<ITraceStore>(store).BuildServiceProvider();
        var queue = new IngestionQueue(services.GetRequiredService<IServiceScopeFactory>(),
            Options.Create(new IngestionOptions { QueueCapacity = capacity, Writers = writers }), NullLogger<IngestionQueue>.Instance);
        return (queue, store);
    }

    private static StoreRequest Request() => new(Guid.NewGuid(), []);

    [Fact]
    public async Task WhenTheQueueIsFull_ItRefusesAtOnce_InsteadOfGrowing()
    {
        var (queue, store) = Build(capacity: 2);
        using var cts = new CancellationTokenSource();
        var writer = queue.RunAsync(cts.Token);

        var first = queue.EnqueueAsync(Request(), default);
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var waiting = new[] { queue.EnqueueAsync(Request(), default), queue.EnqueueAsync(Request(), default) };

        Assert.Throws<IngestionOverloadedException>(() => { _ = queue.EnqueueAsync(Request(), default); });

        store.Gate.SetResult();
        await Task.WhenAll([first, .. waiting]).WaitAsync(TimeSpan.FromSeconds(5));
        // The two that waited were written together, in one commit.
        Assert.Equal([1, 2], store.Commits);
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task WithTwoWriters_TheNextGroupIsWrittenWhileTheFirstWaits()
    {
        var (queue, store) = Build(capacity: 10, writers: 2);
        var writer = queue.RunAsync(CancellationToken.None);

        var first = queue.EnqueueAsync(Request(), default);
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var second = queue.EnqueueAsync(Request(), default);

        // Both are inside the store at once: the second did not wait for the first commit.
        await store.TwoInside.Task.WaitAsync(TimeSpan.FromSeconds(5));
        store.Gate.SetResult();
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal([1, 1], store.Commits);
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }

    /// <summary>A store that fails any group holding the poisoned team's request, as an unforeseen failure would.</summary>
    private sealed class PoisonedStore(Guid poisoned) : ITraceStore
    {
        public List<int> Calls { get; } = [];

        public Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default)
        {
            lock (Calls)
            {
                Calls.Add(requests.Count);
            }

            if (requests.Any(r => r.TeamId == poisoned))
            {
                throw new InvalidOperationException("unforeseen failure");
            }

            return Task.FromResult<IReadOnlyList<StoreResult>>(requests.Select(_ => new StoreResult([], [])).ToList());
        }
    }

    [Fact]
    public async Task AGroupThatFailsForAnyReason_IsWrittenRequestByRequest_SoOnlyTheBadRequestFails()
    {
        var poisoned = Guid.NewGuid();
        var store = new PoisonedStore(poisoned);
        var services = new ServiceCollection().AddSingleton<ITraceStore>(store).BuildServiceProvider();
        var queue = new IngestionQueue(services.GetRequiredService<IServiceScopeFactory>(),
            Options.Create(new IngestionOptions { QueueCapacity = 10, Writers = 1 }), NullLogger<IngestionQueue>.Instance);

        // Queued before the writer starts, so the four are one group.
        var good = new[] { queue.EnqueueAsync(Request(), default), queue.EnqueueAsync(Request(), default) };
        var bad = queue.EnqueueAsync(new StoreRequest(poisoned, []), default);
        var last = queue.EnqueueAsync(Request(), default);
        var writer = queue.RunAsync(CancellationToken.None);

        await Task.WhenAll([.. good, last]).WaitAsync(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal([4, 1, 1, 1, 1], store.Calls);
        queue.Complete();
        await writer.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
