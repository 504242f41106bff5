using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Analytics;
using EvalPlatform.Web.Components.Layout;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Routing;

namespace EvalPlatform.Web.Components.Pages.Analytics;

/// <summary>
/// The dashboard. The view lives in the address (<see cref="DashboardView"/>); each view change reads the metrics
/// once (summary of this and the previous period, the cells every time chart is drawn from, the model and user
/// breakdowns, the trend findings) and swaps the figures in one step, so nothing flickers. New traces and reviews
/// on the live bus ask for a refresh through a <see cref="RefreshThrottle"/>: at most one per 2 s, the last never lost.
/// </summary>
public sealed partial class AnalyticsPage
{
    /// <summary>Everything the page shows, read together.</summary>
    private sealed record DashboardData(
        DashboardView View, AnalyticsFilter Filter, MetricInterval Interval, bool TeamHasTraces, MetricAggregate Current, MetricAggregate Previous,
        IReadOnlyList<TimeChart> Charts, IReadOnlyList<GroupTotal> Models, IReadOnlyList<GroupTotal> Breakdown, IReadOnlyList<GroupTotal> Users,
        IReadOnlyList<TrendFinding> Findings, IReadOnlyList<StackTotal> Stacked);

    private const int TopUsers = 1000;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private AnalyticsService Analytics { get; set; } = default!;

    [Inject]
    private IDashboardTrends Trends { get; set; } = default!;

    [Inject]
    private TraceQueries Traces { get; set; } = default!;

    [Inject]
    private ILiveBus LiveBus { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [CascadingParameter]
    public CurrentTeam Current { get; set; } = default!;

    private DashboardView _view = new();
    private DashboardData? _data;
    private string? _error;
    private bool _loading;
    private int _loaded;
    private int _stale;
    private CancellationTokenSource? _load;
    private IDisposable? _subscription;
    private RefreshThrottle? _throttle;

    protected override async Task OnInitializedAsync()
    {
        _throttle = new RefreshThrottle(Clock, RefreshThrottle.PageInterval, () => InvokeAsync(() => LoadAsync(live: true)));
        _subscription = LiveBus.Subscribe(Current.TeamId, OnLiveEventAsync);
        Navigation.LocationChanged += OnLocationChanged;
        await LoadAsync(live: false);
        _throttle.MarkRefreshed();
        Volatile.Write(ref _loaded, 1);
        // An event that came while the first load ran may have missed it: one (throttled) refresh more.
        if (Interlocked.Exchange(ref _stale, 0) == 1)
        {
            _throttle.Request();
        }
    }

    /// <summary>
    /// New traces and reviews ask for a throttled refresh. Until the first load is done an event only marks the page
    /// stale (the first load may have read before it), and the first load asks once it has figures: nothing is lost.
    /// </summary>
    private Task OnLiveEventAsync(LiveEvent liveEvent)
    {
        if (liveEvent is TracesIngested or TraceUpdated or ResyncNeeded)
        {
            Interlocked.Exchange(ref _stale, 1);
            if (Volatile.Read(ref _loaded) == 1 && Interlocked.Exchange(ref _stale, 0) == 1)
            {
                _throttle?.Request();
            }
        }

        return Task.CompletedTask;
    }

    private void OnLocationChanged(object? sender, LocationChangedEventArgs e)
    {
        if (new Uri(e.Location).AbsolutePath == "/analytics")
        {
            _ = InvokeAsync(() => LoadAsync(live: false));
        }
    }

    private Task ApplyViewAsync(DashboardView view)
    {
        Navigation.NavigateTo("/analytics" + view.ToQuery());
        return Task.CompletedTask;
    }

    private Task RetryAsync() => LoadAsync(live: false);

    /// <summary>
    /// Reads the view in the address and swaps the figures in when all have come. A newer load cancels an older one;
    /// a live refresh keeps the figures on screen meanwhile (no skeleton, no progress flash).
    /// </summary>
    private async Task LoadAsync(bool live)
    {
        _load?.Cancel();
        using var load = new CancellationTokenSource();
        _load = load;
        var view = DashboardView.Parse(Navigation.Uri);
        _view = view;
        _loading = !live;
        if (!live)
        {
            StateHasChanged();
        }

        try
        {
            var data = await ReadAsync(view, live ? _data : null, load.Token);
            if (!load.IsCancellationRequested)
            {
                _data = data;
                _error = null;
            }
        }
        catch (OperationCanceledException) when (load.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is PermissionDeniedException or DomainValidationException or InvalidOperationException or TimeoutException
            or System.Data.Common.DbException)
        {
            if (!load.IsCancellationRequested)
            {
                _error = e.Message;
            }
        }
        finally
        {
            if (ReferenceEquals(_load, load))
            {
                _load = null;
                _loading = false;
            }
        }

        StateHasChanged();
    }

    /// <summary>
    /// Reads everything for <paramref name="view"/>. A live refresh of the same view keeps the trend findings of
    /// <paramref name="shown"/>: they are computed over weeks (hourly, or on a view change), not per trace.
    /// </summary>
    private async Task<DashboardData> ReadAsync(DashboardView view, DashboardData? shown, CancellationToken ct)
    {
        var (filter, interval) = view.Resolve(Clock.GetUtcNow());
        // One after the other: the reader's scope is the circuit's, and one query at a time is what it promises to serve.
        var current = await Analytics.SummaryAsync(filter, ct);
        var previous = await Analytics.SummaryAsync(filter.Previous(), ct);
        var teamHasTraces = current.Traces > 0 || previous.Traces > 0 || view.HasFilters
            || (await Traces.ListAsync(new TraceFilter(), cursor: null, limit: 1, ct)).Items.Count > 0;
        // Stacked, the one read is split by both dimensions; the time charts and the breakdown table merge the stacks away.
        var read = await Analytics.CellsAsync(new AnalyticsQuery(filter, interval, view.By, view.MetadataKey, view.StackBy), ct);
        var cells = view.StackBy is null ? read : Unstacked(read);
        IReadOnlyList<StackTotal> stacked = view.StackBy is null ? [] : AnalyticsService.TopStacks(read);
        var previousCells = view.ComparePrevious ? await Analytics.CellsAsync(new AnalyticsQuery(filter.Previous(), interval), ct) : null;
        var charts = DashboardCharts.Build(filter, interval, cells, previousCells, view.By);
        var models = await Analytics.BreakdownAsync(filter, AnalyticsDimension.Model, ct: ct);
        var breakdown = view.By is { } by && by != AnalyticsDimension.Model ? AnalyticsService.TopGroups(Totals(cells)) : [];
        var users = await Analytics.BreakdownAsync(filter, AnalyticsDimension.UserId, top: TopUsers, ct: ct);
        var findings = shown is not null && shown.View == view ? shown.Findings : await Trends.FindAsync(filter, ct);
        return new DashboardData(view, filter, interval, teamHasTraces, current, previous, charts, models, breakdown, users, findings, stacked);
    }

    /// <summary>Stacked cells merged per bucket and group: what the read would have given without the stack.</summary>
    private static List<MetricCell> Unstacked(IReadOnlyList<MetricCell> cells) =>
        cells.GroupBy(c => (c.Bucket, c.Group)).Select(g => new MetricCell(g.Key.Bucket, g.Key.Group, AnalyticsService.Merge(g.Select(c => c.Aggregate)))).ToList();

    private Task ChangeStackMetricAsync(Metric metric) => ApplyViewAsync(_view with { StackMetric = metric });

    private string SegmentHref(string? group, string? stack) => _view.TracesHref(_data!.Filter.From, _data.Filter.To, _view.By, group,
        refine: f => DashboardView.WithGroup(f, _view.StackBy, stack));

    /// <summary>The chart cells merged over time, per group (one cell per group): the breakdown table without another read.</summary>
    private static List<MetricCell> Totals(IReadOnlyList<MetricCell> cells) =>
        cells.GroupBy(c => c.Group).Select(g => new MetricCell(default, g.Key, AnalyticsService.Merge(g.Select(c => c.Aggregate)))).ToList();

    private List<TrendFinding> Anomalies(TimeChart chart) =>
        _data!.Findings.Where(f => f.Kind == TrendKind.Anomaly && f.At is not null && chart.Metrics.Contains(f.Metric)).ToList();

    private string BucketHref(TimeChart chart, DateTimeOffset bucket, string? group) =>
        _view.TracesHref(Max(bucket, _data!.Filter.From), Min(bucket + chart.Interval.Length(), _data.Filter.To), chart.By, group);

    private string GroupHref(AnalyticsDimension dimension, string? group) => _view.TracesHref(_data!.Filter.From, _data.Filter.To, dimension, group);

    private string ReasonHref(string reason)
    {
        return _view.TracesHref(_data!.Filter.From, _data.Filter.To,
            refine: f => f with { Status = ReviewStatus.Rejected, Reason = reason.Length > 0 ? reason : null });
    }

    /// <summary>The range's traces scored <paramref name="score"/>: exactly for a whole number, else within its hundredth.</summary>
    private string ScoreHref(double score)
    {
        return _view.TracesHref(_data!.Filter.From, _data.Filter.To,
            refine: f => score == Math.Floor(score) ? f with { Score = score } : f with { ScoreMin = (double)((decimal)score - 0.005m), ScoreMax = (double)((decimal)score + 0.005m) });
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static string RangeText(DashboardData data) =>
        $"{data.Filter.From.UtcDateTime:yyyy-MM-dd HH:mm} – {data.Filter.To.UtcDateTime:yyyy-MM-dd HH:mm} UTC, by the {data.Interval.Name()}";

    public void Dispose()
    {
        _subscription?.Dispose();
        _throttle?.Dispose();
        _load?.Cancel();
        Navigation.LocationChanged -= OnLocationChanged;
    }
}
