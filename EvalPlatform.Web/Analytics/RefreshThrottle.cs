namespace EvalPlatform.Web.Analytics;

/// <summary>
/// Runs a refresh at most once per <c>interval</c>, however many requests arrive, and never loses the last one:
/// a request during the quiet time (or while a refresh runs) is remembered and served by one trailing refresh
/// when the time is up. Time comes from the given <see cref="TimeProvider"/>, so tests move it by hand.
/// The refresh must not throw (the page catches and shows its own errors).
/// </summary>
public sealed class RefreshThrottle(TimeProvider clock, TimeSpan interval, Func<Task> refresh) : IDisposable
{
    public static readonly TimeSpan PageInterval = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private ITimer? _timer;
    private DateTimeOffset? _lastStart;
    private bool _pending;
    private bool _running;
    private bool _scheduled;
    private bool _disposed;

    /// <summary>How many refreshes have started: for tests and diagnostics.</summary>
    public int Runs { get; private set; }

    /// <summary>Asks for a refresh: now if the last started at least an interval ago and none runs, else once the time is up.</summary>
    public void Request()
    {
        bool start;
        lock (_lock)
        {
            _pending = true;
            start = !_running && !_scheduled && !_disposed && ScheduleOrStart();
        }

        if (start)
        {
            _ = RunAsync();
        }
    }

    /// <summary>Counts a refresh done outside (the first load): the next request waits out the interval from now.</summary>
    public void MarkRefreshed()
    {
        lock (_lock)
        {
            _lastStart = clock.GetUtcNow();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <summary>Under the lock: true when the refresh should start now (state set), else a timer is set for when it may.</summary>
    private bool ScheduleOrStart()
    {
        var due = _lastStart is { } last ? last + interval - clock.GetUtcNow() : TimeSpan.Zero;
        if (due <= TimeSpan.Zero)
        {
            _pending = false;
            _running = true;
            _lastStart = clock.GetUtcNow();
            Runs++;
            return true;
        }

        _scheduled = true;
        _timer?.Dispose();
        _timer = clock.CreateTimer(_ => OnTimer(), null, due, Timeout.InfiniteTimeSpan);
        return false;
    }

    private void OnTimer()
    {
        bool start;
        lock (_lock)
        {
            _scheduled = false;
            start = _pending && !_running && !_disposed && ScheduleOrStart();
        }

        if (start)
        {
            _ = RunAsync();
        }
    }

    private async Task RunAsync()
    {
        try
        {
            await refresh();
        }
        finally
        {
            bool again;
            lock (_lock)
            {
                _running = false;
                again = _pending && !_scheduled && !_disposed && ScheduleOrStart();
            }

            if (again)
            {
                _ = RunAsync();
            }
        }
    }
}
