using EvalPlatform.Core.Live;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Tests.Unit.Ingestion;

/// <summary>Issue 13: closing browser tabs logged a warning with a stack trace per closed page and event.</summary>
public sealed class LiveDispatcherGoneTests
{
    [Fact]
    public async Task ASubscriberWhoseCircuitIsGone_IsUnsubscribedQuietly_WhileABrokenOneStillWarns()
    {
        var logger = new ListLogger();
        var dispatcher = new LiveDispatcher(logger);
        var team = Guid.NewGuid();
        var goneCalls = 0;
        var gone = dispatcher.Subscribe(team, _ =>
        {
            Interlocked.Increment(ref goneCalls);
            throw new ObjectDisposedException("Renderer", "Cannot process pending renders after the renderer has been disposed.");
        });
        var broken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var failing = dispatcher.Subscribe(team, _ =>
        {
            broken.TrySetResult();
            throw new InvalidOperationException("page broke");
        });

        dispatcher.Deliver(new TraceUpdated(team, Guid.Empty));
        await broken.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        while (dispatcher.SubscriberCount(team) != 1)
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), "The gone subscriber was never removed.");
            await Task.Yield();
        }

        dispatcher.Deliver(new TraceUpdated(team, Guid.Empty));
        dispatcher.Deliver(new TraceUpdated(team, Guid.Empty));
        while (logger.Count(LogLevel.Warning) < 3)
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), "The broken subscriber's warnings did not come.");
            await Task.Yield();
        }

        Assert.Equal(1, Volatile.Read(ref goneCalls));
        Assert.All(logger.Entries.Where(x => x.Level >= LogLevel.Warning), x => Assert.IsType<InvalidOperationException>(x.Exception));
        Assert.Single(logger.Entries, x => x.Level == LogLevel.Debug && x.Exception is null);
        gone.Dispose();
    }

    private sealed class ListLogger : ILogger<LiveDispatcher>
    {
        private readonly List<(LogLevel Level, Exception? Exception)> _entries = [];

        public IReadOnlyList<(LogLevel Level, Exception? Exception)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public int Count(LogLevel level) => Entries.Count(x => x.Level == level);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_entries)
            {
                _entries.Add((logLevel, exception));
            }
        }
    }
}
