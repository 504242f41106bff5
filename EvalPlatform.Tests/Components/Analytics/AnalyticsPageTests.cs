using Bunit;
using Bunit.Extensions.WaitForHelpers;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Analytics;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Analytics;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Components.Analytics;

/// <summary>The dashboard on the real Core services, with crafted metrics (an in-memory reader) and a clock the test moves.</summary>
public sealed class AnalyticsPageTests : BunitTestBase
{
    /// <summary>Half past noon: the default range (24 h by the hour) is [yesterday 13:00, today 13:00).</summary>
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 30, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Now);
    private readonly InMemoryMetricsStore _reader;
    private readonly StubTrends _trends = new();
    private readonly InlineLiveBus _bus = new();
    private TestTeam _team = default!;
    private CurrentTeam _current = default!;

    public AnalyticsPageTests()
    {
        _reader = new InMemoryMetricsStore(_clock);
        Services.AddSingleton<TimeProvider>(_clock);
        Services.AddSingleton(_reader);
        Services.AddScoped<IMetricsReader, InMemoryMetricsReader>();
        Services.AddSingleton<IDashboardTrends>(_trends);
        Services.AddSingleton<ILiveBus>(_bus);
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _team = await TestData.CreateTeamAsync(Services);
        _current = new CurrentTeam(_team.OwnerId, _team.OwnerEmail, new Membership(_team.Id, _team.Name, TeamRole.Viewer, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Viewer);
    }

    private IRenderedComponent<TestHost> RenderPage(string address = "/analytics")
    {
        Services.GetRequiredService<NavigationManager>().NavigateTo(address);
        return Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<AnalyticsPage>());
    }

    private void Traces(int count, DateTimeOffset at, Func<int, MetricAggregate>? make = null, string model = "gpt-4o", string? user = null)
    {
        for (var i = 0; i < count; i++)
        {
            _reader.Add(new FakeTrace(at.AddSeconds(i), make?.Invoke(i) ?? InMemoryMetricsStore.One(), model, "openai", "prod", user));
        }
    }

    private static string Card(IRenderedComponent<TestHost> cut, Metric metric, string part) =>
        cut.Find($"[data-testid=card-{metric.Name()}] [data-testid={part}]").TextContent.Trim();

    [Fact]
    public void Cards_ShowTheFigures_AndTheirChange_InWordsAndArrows()
    {
        Traces(4, Now.AddMinutes(-20), i => InMemoryMetricsStore.One(latencyMs: 100 * (i + 1), error: i == 0, verdict: i < 3 ? "accepted" : "rejected", reason: "off_topic", score: i + 2));
        Traces(2, Now.AddHours(-30), _ => InMemoryMetricsStore.One(latencyMs: 100, verdict: "accepted"));

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal("4", Card(cut, Metric.Traces, "card-value")));
        Assert.Equal("Up 100 % vs previous period", Card(cut, Metric.Traces, "card-change"));
        Assert.Equal("25 %", Card(cut, Metric.ErrorRate, "card-value"));
        Assert.Equal("Up 25 pp vs previous period (worse)", Card(cut, Metric.ErrorRate, "card-change"));
        Assert.Contains("change-worse", cut.Find("[data-testid=card-error_rate] [data-testid=card-change]").ClassName, StringComparison.Ordinal);
        Assert.EndsWith(" ms", Card(cut, Metric.LatencyP95, "card-value"), StringComparison.Ordinal);
        Assert.EndsWith("(worse)", Card(cut, Metric.LatencyP95, "card-change"), StringComparison.Ordinal);
        Assert.Equal("$0.0400", Card(cut, Metric.Cost, "card-value"));
        Assert.Equal("75 %", Card(cut, Metric.AcceptanceRate, "card-value"));
        Assert.Equal("Down 25 pp vs previous period (worse)", Card(cut, Metric.AcceptanceRate, "card-change"));
        Assert.Equal("3.50", Card(cut, Metric.HumanScore, "card-value"));
        Assert.Equal("No previous figure to compare", Card(cut, Metric.HumanScore, "card-change"));
        // The arrow says it too: the error rate rose, acceptance fell.
        Assert.NotEqual(
            cut.Find("[data-testid=card-error_rate] [data-testid=card-change] svg").InnerHtml,
            cut.Find("[data-testid=card-acceptance_rate] [data-testid=card-change] svg").InnerHtml);
    }

    [Fact]
    public void Cards_ShowADash_ForRatesWithoutData_AndSayLowerLatencyIsBetter()
    {
        Traces(2, Now.AddMinutes(-5), _ => InMemoryMetricsStore.One(latencyMs: 100));
        Traces(2, Now.AddHours(-30), _ => InMemoryMetricsStore.One(latencyMs: 400));

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal("2", Card(cut, Metric.Traces, "card-value")));
        Assert.Equal(MetricText.None, Card(cut, Metric.AcceptanceRate, "card-value"));
        Assert.Equal(MetricText.None, Card(cut, Metric.HumanScore, "card-value"));
        Assert.Equal("No change from the previous period", Card(cut, Metric.Traces, "card-change"));
        Assert.StartsWith("Down 75 % vs previous period (better)", Card(cut, Metric.LatencyP95, "card-change"), StringComparison.Ordinal);
        Assert.Contains("change-better", cut.Find("[data-testid=card-latency_p95] [data-testid=card-change]").ClassName, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheView_ComesFromTheAddress_AndChangesGoBackToIt()
    {
        Traces(3, Now.AddHours(-2));
        var navigation = Services.GetRequiredService<NavigationManager>();

        var cut = RenderPage("/analytics?range=7d&interval=hour&model=gpt-4o&compare=previous&by=provider");

        cut.WaitForAssertion(() => Assert.Equal("3", Card(cut, Metric.Traces, "card-value")));
        var chartRead = _reader.Queries.Last(q => q.GroupBy == AnalyticsDimension.Provider);
        Assert.Equal(MetricInterval.Hour, chartRead.Interval);
        Assert.Equal("gpt-4o", chartRead.Filter.Model);
        Assert.Equal(TimeSpan.FromDays(7), chartRead.Filter.Length);
        Assert.Contains(_reader.Queries, q => q.Filter.To == chartRead.Filter.From && q.Interval == MetricInterval.Hour && q.GroupBy is null);
        Assert.Equal("gpt-4o", cut.Find("input[data-testid=analytics-model], [data-testid=analytics-model] input").GetAttribute("value"));
        Assert.NotEmpty(cut.FindAll("[data-testid=breakdown-table]"));

        await cut.Find("input[data-testid=analytics-environment], [data-testid=analytics-environment] input").ChangeAsync(new() { Value = "prod" });

        Assert.EndsWith("/analytics?range=7d&interval=hour&model=gpt-4o&environment=prod&compare=previous&by=provider", navigation.Uri, StringComparison.Ordinal);
        cut.WaitForAssertion(() => Assert.Equal("prod", _reader.Queries[^1].Filter.Environment));

        // The compare switch: off leaves the address, on comes back to it.
        await cut.Find("input[data-testid=analytics-compare], [data-testid=analytics-compare] input").ChangeAsync(new() { Value = false });
        Assert.EndsWith("/analytics?range=7d&interval=hour&model=gpt-4o&environment=prod&by=provider", navigation.Uri, StringComparison.Ordinal);
        await cut.Find("input[data-testid=analytics-compare], [data-testid=analytics-compare] input").ChangeAsync(new() { Value = true });
        Assert.EndsWith("/analytics?range=7d&interval=hour&model=gpt-4o&environment=prod&compare=previous&by=provider", navigation.Uri, StringComparison.Ordinal);

        // Back: the address decides again.
        navigation.NavigateTo("/analytics?range=1h");
        cut.WaitForAssertion(() => Assert.Equal(TimeSpan.FromHours(1), _reader.Queries[^1].Filter.Length));
        Assert.Null(_reader.Queries[^1].Filter.Model);
        Assert.Equal(MetricInterval.Minute, _reader.Queries.Last(q => q.Interval != MetricInterval.Day).Interval);
    }

    [Fact]
    public void AModelRow_AndABucket_OpenTheTraceList_FilteredToThem()
    {
        Traces(2, Now.AddMinutes(-20));
        Traces(1, Now.AddHours(-3), model: "claude-sonnet-4");

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=model-table] [data-testid=breakdown-link]").Count));
        var from = "2026-11-19T13%3A00%3A00.0000000%2B00%3A00";
        var to = "2026-11-20T13%3A00%3A00.0000000%2B00%3A00";
        Assert.Equal($"/traces?from={from}&to={to}&model=gpt-4o", cut.FindAll("[data-testid=model-table] [data-testid=breakdown-link]")[0].GetAttribute("href"));

        cut.Find("[data-testid=chart-volume] [data-testid=chart-table-toggle]").Click();

        var buckets = cut.FindAll("[data-testid=chart-volume] [data-testid=bucket-link]").Select(a => a.GetAttribute("href")).ToList();
        Assert.Equal(
            ["/traces?from=2026-11-20T09%3A00%3A00.0000000%2B00%3A00&to=2026-11-20T10%3A00%3A00.0000000%2B00%3A00",
             "/traces?from=2026-11-20T12%3A00%3A00.0000000%2B00%3A00&to=2026-11-20T13%3A00%3A00.0000000%2B00%3A00"],
            buckets);
    }

    [Fact]
    public void EveryChart_DownloadsItsFiguresAsCsv_SafeForSpreadsheets()
    {
        Traces(2, Now.AddMinutes(-20), _ => InMemoryMetricsStore.One(cost: 0.5m));
        Traces(1, Now.AddMinutes(-10), model: "=HYPERLINK(\"http://evil\",\"x\")");

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal("3", Card(cut, Metric.Traces, "card-value")));
        var volume = Csv(cut.Find("[data-testid=chart-volume] [data-testid=chart-csv]").GetAttribute("href"));
        var lines = volume.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("bucket_start,bucket_end,Traces,Errors", lines[0]);
        Assert.Equal(25, lines.Length);
        Assert.Contains("2026-11-20T12:00:00Z,2026-11-20T13:00:00Z,3,0", lines);
        Assert.Equal("volume.csv", cut.Find("[data-testid=chart-volume] [data-testid=chart-csv]").GetAttribute("download"));

        var models = Csv(cut.Find("[data-testid=model-table] [data-testid=breakdown-csv]").GetAttribute("href"));
        Assert.StartsWith("group,traces,error_rate,latency_p95,cost,acceptance_rate,human_score\r\ngpt-4o,2,0,", models, StringComparison.Ordinal);
        Assert.Contains("\r\n\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",1,0,", models, StringComparison.Ordinal);
        // Seven time charts, the rejection reasons and the human scores.
        Assert.Equal(9, cut.FindAll("[data-testid=chart-csv]").Count);
    }

    [Fact]
    public void HumanScores_ShowABarPerScore_WithTheirTraces_AndTheirCsv()
    {
        Traces(4, Now.AddMinutes(-20), i => InMemoryMetricsStore.One(score: i < 3 ? 5 : 2));
        Traces(1, Now.AddMinutes(-15), _ => InMemoryMetricsStore.One(score: 0.75));
        Traces(1, Now.AddMinutes(-10));

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("[data-testid=chart-human-scores] [data-testid=score-row]").Count));
        var rows = cut.FindAll("[data-testid=chart-human-scores] [data-testid=score-row]");
        Assert.Equal(["0.75", "2", "5"], rows.Select(r => r.QuerySelector("a")!.TextContent.Trim()));
        Assert.Equal("3 (60%)", rows[2].QuerySelector(".num")!.TextContent.Trim());
        Assert.Contains("mean 3.55 of 5", cut.Find("[data-testid=human-score-mean]").TextContent, StringComparison.Ordinal);
        // Into the trace list: a whole score exactly, a fraction within its hundredth.
        Assert.EndsWith("&score=5", rows[2].QuerySelector("a")!.GetAttribute("href"), StringComparison.Ordinal);
        Assert.Contains("score_min=0.745", rows[0].QuerySelector("a")!.GetAttribute("href"), StringComparison.Ordinal);
        var csv = Csv(cut.Find("[data-testid=chart-human-scores] [data-testid=chart-csv]").GetAttribute("href"));
        Assert.Equal("score,count\r\n0.75,1\r\n2,1\r\n5,3\r\n", csv);
    }

    [Fact]
    public void HumanScores_WithoutScores_SayThereAreNone()
    {
        Traces(2, Now.AddMinutes(-20));

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Contains("No human scores", cut.Find("[data-testid=chart-human-scores] [data-testid=chart-empty]").TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=score-row]"));
    }

    [Fact]
    public void ATeamWithoutTraces_IsToldHowToSendOne()
    {
        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Contains("api/v1/traces", cut.Find("[data-testid=analytics-first-trace]").TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=analytics-cards]"));
    }

    [Fact]
    public void AFailedRead_SaysWhy_AndRetryLoadsAgain()
    {
        Traces(2, Now.AddMinutes(-20));
        _reader.Failure = new InvalidOperationException("the metrics store is unreachable");

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Contains("the metrics store is unreachable", cut.Find("[data-testid=analytics-error]").TextContent, StringComparison.Ordinal));
        _reader.Failure = null;
        cut.Find("[data-testid=analytics-retry]").Click();
        cut.WaitForAssertion(() => Assert.Equal("2", Card(cut, Metric.Traces, "card-value")));
        Assert.Empty(cut.FindAll("[data-testid=analytics-error]"));
    }

    [Fact]
    public void WhatChanged_ListsTheFindings_AndAnomaliesShowWithTheirChart()
    {
        Traces(2, Now.AddMinutes(-20));
        Traces(1, Now.AddHours(-2), _ => InMemoryMetricsStore.One(latencyMs: 4200));
        _trends.Findings =
        [
            new TrendFinding(TrendKind.WeekOverWeek, Metric.AcceptanceRate, "gpt-4o", "Acceptance rate for gpt-4o fell from 91 % to 78 % week over week (p = 0.003)", Worse: true),
            new TrendFinding(TrendKind.Anomaly, Metric.LatencyP95, null, "Latency p95 jumped to 4.2 s", Worse: true, At: Now.AddHours(-2)),
        ];

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=finding]").Count));
        Assert.Contains("Worse:", cut.FindAll("[data-testid=finding]")[0].TextContent, StringComparison.Ordinal);
        var anomaly = cut.Find("[data-testid=chart-latency] [data-testid=chart-anomalies]");
        Assert.Contains("Latency p95 jumped to 4.2 s", anomaly.TextContent, StringComparison.Ordinal);
        Assert.Contains("from=2026-11-20T10%3A00", anomaly.QuerySelector("a")!.GetAttribute("href"), StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=chart-volume] [data-testid=chart-anomalies]"));
        // Marked on the chart too: a series of its own, said in the drawing's text alternative.
        Assert.Contains("Anomalies marked at Nov 20 10:00", cut.Find("[data-testid=chart-latency] .analytics-chart-canvas").GetAttribute("aria-label"), StringComparison.Ordinal);
        Assert.Contains("Anomaly", cut.Find("[data-testid=chart-latency] .analytics-chart-canvas").TextContent, StringComparison.Ordinal);
        Assert.DoesNotContain("Anomal", cut.Find("[data-testid=chart-volume] .analytics-chart-canvas").GetAttribute("aria-label"), StringComparison.Ordinal);
    }

    [Fact]
    public void StackBy_ReadsBothDimensions_AndDrawsStackedBars_WithTheirSegmentsAndCsv()
    {
        Traces(3, Now.AddMinutes(-20), model: "gpt-4o");
        _reader.Add(new FakeTrace(Now.AddMinutes(-10), InMemoryMetricsStore.One(cost: 0.5m), "gpt-4o", "openai", "staging"));
        Traces(2, Now.AddHours(-3), model: "claude");

        var cut = RenderPage("/analytics?by=model&stack=environment");

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=chart-stacked]")));
        var read = _reader.Queries.Single(q => q.StackBy is not null);
        Assert.Equal((AnalyticsDimension.Model, AnalyticsDimension.Environment), (read.GroupBy, read.StackBy));
        Assert.Contains("Traces by model, stacked by environment", cut.Find("[data-testid=chart-stacked] h2").TextContent, StringComparison.Ordinal);
        // The time charts still show one line per model: the stacks merged away.
        Assert.Equal("6", Card(cut, Metric.Traces, "card-value"));
        Assert.Contains("gpt-4o: 4 in all", cut.Find("[data-testid=chart-volume] .analytics-chart-canvas").GetAttribute("aria-label"), StringComparison.Ordinal);

        var csv = Csv(cut.Find("[data-testid=chart-stacked] [data-testid=chart-csv]").GetAttribute("href"));
        Assert.Equal("model,environment,traces\r\ngpt-4o,prod,3\r\ngpt-4o,staging,1\r\nclaude,prod,2\r\n", csv);

        cut.Find("[data-testid=chart-stacked] [data-testid=chart-table-toggle]").Click();
        var links = cut.FindAll("[data-testid=chart-stacked] [data-testid=stacked-link]").Select(a => a.GetAttribute("href")).ToList();
        Assert.Contains(links, h => h!.EndsWith("&model=gpt-4o&environment=staging", StringComparison.Ordinal));
        Assert.Equal(3, links.Count);
    }

    [Fact]
    public void TheStackByChoice_ShowsWithABreakdownOnly()
    {
        Traces(2, Now.AddMinutes(-20));
        var navigation = Services.GetRequiredService<NavigationManager>();

        var cut = RenderPage("/analytics");

        cut.WaitForAssertion(() => Assert.Equal("2", Card(cut, Metric.Traces, "card-value")));
        Assert.Empty(cut.FindAll("[data-testid=analytics-stack]"));
        Assert.DoesNotContain(_reader.Queries, q => q.StackBy is not null);
        navigation.NavigateTo("/analytics?by=model&stack=environment");
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=analytics-stack]")));
        cut.WaitForAssertion(() => Assert.Contains(_reader.Queries, q => q.GroupBy == AnalyticsDimension.Model && q.StackBy == AnalyticsDimension.Environment));
    }

    [Fact]
    public void StackBy_KeepsItsFigureInTheAddress_AndIsDroppedWithoutABreakdown()
    {
        Traces(2, Now.AddMinutes(-20), _ => InMemoryMetricsStore.One(cost: 0.25m));

        var cut = RenderPage("/analytics?by=model&stack=environment&measure=cost");

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=chart-stacked]")));
        Assert.StartsWith("model,environment,cost\r\ngpt-4o,prod,0.5", Csv(cut.Find("[data-testid=chart-stacked] [data-testid=chart-csv]").GetAttribute("href")), StringComparison.Ordinal);
        Assert.Equal("?by=model&stack=environment&measure=cost", DashboardView.Parse("http://x/analytics?by=model&stack=environment&measure=cost").ToQuery());
        // A stack needs a breakdown, and another dimension than it.
        Assert.Null(DashboardView.Parse("http://x/analytics?stack=environment").StackBy);
        Assert.Null(DashboardView.Parse("http://x/analytics?by=model&stack=model").StackBy);
        Assert.Equal("?by=provider", (DashboardView.Parse("http://x/analytics?by=model&stack=environment") with { By = AnalyticsDimension.Provider, StackBy = null }).ToQuery());
        Services.GetRequiredService<NavigationManager>().NavigateTo("/analytics?by=model");
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=chart-stacked]")));
    }

    [Fact]
    public async Task NewTraces_RefreshTheFigures_AtMostOncePer2Seconds_WithTheLastNeverLost()
    {
        Traces(1, Now.AddMinutes(-20));
        var cut = RenderPage();
        cut.WaitForAssertion(() => Assert.Equal("1", Card(cut, Metric.Traces, "card-value")));
        var readsPerLoad = _reader.Queries.Count;
        var bus = _bus;

        for (var i = 0; i < 5; i++)
        {
            Traces(1, Now.AddMinutes(-1));
            await bus.PublishAsync(new TracesIngested(_team.Id, [], []));
        }

        WaitWhileTimePasses(cut, () => Assert.Equal("6", Card(cut, Metric.Traces, "card-value")));
        Assert.Equal(2 * readsPerLoad, _reader.Queries.Count);
        var refreshedAt = _reader.QueryTimes[readsPerLoad];
        Assert.Equal(Now + RefreshThrottle.PageInterval, refreshedAt);

        // Another burst: one trailing refresh, two seconds after the last, with the newest figures.
        for (var i = 0; i < 3; i++)
        {
            Traces(1, Now.AddMinutes(-1));
            await bus.PublishAsync(new TracesIngested(_team.Id, [], []));
        }

        WaitWhileTimePasses(cut, () => Assert.Equal("9", Card(cut, Metric.Traces, "card-value")));
        Assert.Equal(3 * readsPerLoad, _reader.Queries.Count);
        Assert.Equal(refreshedAt + RefreshThrottle.PageInterval, _reader.QueryTimes[2 * readsPerLoad]);
        Assert.Empty(cut.FindAll("[data-testid=analytics-loading]"));
        // Trends are asked once per view, not per refresh.
        Assert.Equal(1, _trends.Calls);
    }

    [Fact]
    public async Task ATraceStoredWhileTheFirstLoadRuns_IsCountedAfterwards()
    {
        Traces(1, Now.AddMinutes(-20));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reader.Gate = gate;

        var cut = RenderPage();
        cut.WaitForAssertion(() => Assert.NotEmpty(_reader.Queries));
        Traces(1, Now.AddMinutes(-1));
        // Handled inline: the page hears of the trace while its first load still waits for the reader.
        await _bus.PublishAsync(new TracesIngested(_team.Id, [], []));
        gate.SetResult();

        WaitWhileTimePasses(cut, () => Assert.Equal("2", Card(cut, Metric.Traces, "card-value")));
    }

    /// <summary>Moves the clock in quarter seconds until <paramref name="assertion"/> holds.</summary>
    private void WaitWhileTimePasses(IRenderedComponent<TestHost> cut, Action assertion)
    {
        for (var step = 0; ; step++)
        {
            try
            {
                cut.WaitForAssertion(assertion, TimeSpan.FromMilliseconds(200));
                return;
            }
            catch (WaitForFailedException) when (step < 40)
            {
                _clock.Advance(TimeSpan.FromMilliseconds(250));
            }
        }
    }

    private static string Csv(string? href)
    {
        Assert.NotNull(href);
        Assert.StartsWith("data:text/csv;charset=utf-8,", href, StringComparison.Ordinal);
        return Uri.UnescapeDataString(href["data:text/csv;charset=utf-8,".Length..]);
    }

    /// <summary>A live bus that runs each handler inside PublishAsync: the test knows the page has heard an event once it returns.</summary>
    private sealed class InlineLiveBus : ILiveBus
    {
        private readonly Lock _lock = new();
        private readonly List<(Guid Team, Func<LiveEvent, Task> Handler)> _subscribers = [];

        public async Task PublishAsync(LiveEvent liveEvent, CancellationToken ct = default)
        {
            List<Func<LiveEvent, Task>> handlers;
            lock (_lock)
            {
                handlers = _subscribers.Where(s => s.Team == liveEvent.TeamId).Select(s => s.Handler).ToList();
            }

            foreach (var handler in handlers)
            {
                await handler(liveEvent);
            }
        }

        public IDisposable Subscribe(Guid teamId, Func<LiveEvent, Task> handler)
        {
            var entry = (teamId, handler);
            lock (_lock)
            {
                _subscribers.Add(entry);
            }

            return new Unsubscribe(() =>
            {
                lock (_lock)
                {
                    _subscribers.Remove(entry);
                }
            });
        }

        private sealed class Unsubscribe(Action action) : IDisposable
        {
            public void Dispose() => action();
        }
    }

    private sealed class StubTrends : IDashboardTrends
    {
        private int _calls;

        public IReadOnlyList<TrendFinding> Findings { get; set; } = [];

        public int Calls => Volatile.Read(ref _calls);

        public Task<IReadOnlyList<TrendFinding>> FindAsync(AnalyticsFilter filter, CancellationToken ct = default)
        {
            Interlocked.Increment(ref _calls);
            return Task.FromResult(Findings);
        }
    }
}
