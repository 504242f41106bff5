using EvalPlatform.Core.Analytics;
using EvalPlatform.Web.Analytics;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Unit.Analytics;

/// <summary>The dashboard's pure parts: the view in the address, the CSV, the charts from cells, the refresh throttle.</summary>
public sealed class DashboardPartsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 30, 15, TimeSpan.Zero);

    [Fact]
    public void View_RoundTripsThroughTheAddress()
    {
        var view = new DashboardView("custom", Now.AddDays(-2), Now, MetricInterval.Hour, "gpt-4o", "openai", "prod", "a&b", "exp", "B",
            ComparePrevious: true, By: AnalyticsDimension.Metadata, MetadataKey: "customer tier");

        var query = view.ToQuery();
        var parsed = DashboardView.Parse("http://host/analytics" + query);

        Assert.Equal(view with { From = new DateTimeOffset(2026, 11, 18, 12, 30, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 11, 20, 12, 30, 0, TimeSpan.Zero) }, parsed);
        Assert.Contains("tag=a%26b", query, StringComparison.Ordinal);
        Assert.Contains("key=customer%20tier", query, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "24h", null)]
    [InlineData("?range=5y", "24h", null)]
    [InlineData("?interval=fortnight", "24h", null)]
    [InlineData("?by=metadata", "24h", null)]
    [InlineData("?by=user_id", "24h", AnalyticsDimension.UserId)]
    [InlineData("?range=custom", "24h", null)]
    [InlineData("?range=custom&from=2026-11-20T10:00Z&to=2026-11-20T09:00Z", "24h", null)]
    [InlineData("?range=7d", "7d", null)]
    public void View_FallsBackToTheDefault_ForWhatItCannotRead(string query, string range, AnalyticsDimension? by)
    {
        var view = DashboardView.Parse("http://host/analytics" + query);

        Assert.Equal(range, view.Range);
        Assert.Equal(by, view.By);
        Assert.Null(view.Interval);
        Assert.Null(view.From);
    }

    [Fact]
    public void TheDefaultView_HasAnEmptyQuery()
    {
        Assert.Equal("", new DashboardView().ToQuery());
        Assert.Equal(new DashboardView(), DashboardView.Parse("http://host/analytics"));
    }

    [Theory]
    [InlineData("1h", MetricInterval.Minute, "2026-11-20T11:31:00Z", "2026-11-20T12:31:00Z")]
    [InlineData("24h", MetricInterval.Hour, "2026-11-19T13:00:00Z", "2026-11-20T13:00:00Z")]
    [InlineData("7d", MetricInterval.Hour, "2026-11-13T13:00:00Z", "2026-11-20T13:00:00Z")]
    [InlineData("30d", MetricInterval.Day, "2026-10-22T00:00:00Z", "2026-11-21T00:00:00Z")]
    public void ARelativeRange_EndsWithTheCurrentBucket_AndFitsItsInterval(string range, MetricInterval interval, string from, string to)
    {
        var (filter, fitted) = new DashboardView(range).Resolve(Now);

        Assert.Equal(interval, fitted);
        Assert.Equal(DateTimeOffset.Parse(from, System.Globalization.CultureInfo.InvariantCulture), filter.From);
        Assert.Equal(DateTimeOffset.Parse(to, System.Globalization.CultureInfo.InvariantCulture), filter.To);
    }

    [Fact]
    public void ACustomRange_IsReadAsGiven_AnOpenEndIsNow_AndItsIntervalFits()
    {
        var view = DashboardView.Parse("http://host/analytics?range=custom&from=2026-11-01T00:00Z&to=2026-11-03T12:00Z");
        var (filter, interval) = view.Resolve(Now);

        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), filter.From);
        Assert.Equal(new DateTimeOffset(2026, 11, 3, 12, 0, 0, TimeSpan.Zero), filter.To);
        Assert.Equal(MetricInterval.Hour, interval);
        Assert.Equal("?range=custom&from=2026-11-01T00%3A00Z&to=2026-11-03T12%3A00Z", view.ToQuery());

        var open = DashboardView.Parse("http://host/analytics?from=2026-11-20T10:00Z").Resolve(Now);
        Assert.Equal((Now, MetricInterval.Minute), (open.Filter.To, open.Interval));
    }

    [Fact]
    public void AnIntervalChosenByHand_WinsOverTheFittedOne_AndFiltersCarryThrough()
    {
        var (filter, interval) = new DashboardView("24h", Interval: MetricInterval.Minute, Model: "gpt-4o", Variant: "B").Resolve(Now);

        Assert.Equal(MetricInterval.Minute, interval);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 12, 31, 0, TimeSpan.Zero), filter.To);
        Assert.Equal(("gpt-4o", "B"), (filter.Model, filter.Variant));
    }

    [Fact]
    public void TracesHref_FiltersToTheSpan_TheDashboardsFilters_AndTheGroup()
    {
        var view = new DashboardView(Environment: "prod");
        var from = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

        Assert.Equal(
            "/traces?from=2026-11-20T10%3A00%3A00.0000000%2B00%3A00&to=2026-11-20T11%3A00%3A00.0000000%2B00%3A00&environment=prod&user_id=u%2F1",
            view.TracesHref(from, from.AddHours(1), AnalyticsDimension.UserId, "u/1"));
        Assert.DoesNotContain("model", view.TracesHref(from, from.AddHours(1), AnalyticsDimension.Model, AnalyticsService.Others), StringComparison.Ordinal);
        Assert.DoesNotContain("model", view.TracesHref(from, from.AddHours(1), AnalyticsDimension.Model, null), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("=1+2", "'=1+2")]
    [InlineData("+1", "'+1")]
    [InlineData("-1", "'-1")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("\tx", "'\tx")]
    [InlineData("=cmd|' /C calc'!A0,x", "\"'=cmd|' /C calc'!A0,x\"")]
    public void CsvText_IsQuotedWhereNeeded_AndNeverAFormula(string text, string field) => Assert.Equal(field, AnalyticsCsv.Field(text));

    [Fact]
    public void CsvNumbers_StayNumbers()
    {
        Assert.Equal("-1.5", AnalyticsCsv.Field(-1.5));
        Assert.Equal("0.25", AnalyticsCsv.Field(0.25m));
        Assert.Equal("", AnalyticsCsv.Field(null));
        Assert.Equal("", AnalyticsCsv.Field(double.NaN));
        Assert.Equal("2026-11-20T12:30:15Z", AnalyticsCsv.Field(Now));
        Assert.Equal("a,b\r\n1,'-x\r\n", AnalyticsCsv.Write(["a", "b"], [[1L, "-x"]]));
    }

    [Fact]
    public void Charts_CoverEveryBucket_CountsAreZero_RatesUndefined_WhereNothingHappened()
    {
        var filter = new AnalyticsFilter(Now.AddHours(-3), Now);
        var one = new MetricAggregate { Traces = 2, Errors = 1 };
        one.Latency.Add(100);
        one.Latency.Add(300);
        var cells = new[] { new MetricCell(MetricInterval.Hour.Floor(Now.AddHours(-1)), null, one) };

        var charts = DashboardCharts.Build(filter, MetricInterval.Hour, cells, previous: null, by: null);

        var volume = charts.Single(c => c.Id == "volume");
        Assert.Equal(4, volume.Buckets.Count);
        Assert.Equal(["Traces", "Errors"], volume.Lines.Select(l => l.Name));
        Assert.Equal([0, 0, 2, 0], volume.Lines[0].Values);
        var acceptance = charts.Single(c => c.Id == "acceptance");
        Assert.All(acceptance.Lines[0].Values, v => Assert.Null(v));
        Assert.Equal(7, charts.Count);
    }

    [Fact]
    public void Charts_BrokenDown_ShowTheTopTenAndOthers_AndThePreviousPeriodShifted()
    {
        var filter = new AnalyticsFilter(Now.AddHours(-2), Now);
        var bucket = MetricInterval.Hour.Floor(Now);
        var cells = Enumerable.Range(0, 12).Select(i => new MetricCell(bucket, $"model-{i:00}", new MetricAggregate { Traces = 20 - i })).ToList();
        var previous = new[] { new MetricCell(bucket - filter.Length, null, new MetricAggregate { Traces = 7 }) };

        var volume = DashboardCharts.Build(filter, MetricInterval.Hour, cells, previous, AnalyticsDimension.Model).Single(c => c.Id == "volume");

        Assert.Equal(12, volume.Lines.Count);
        Assert.Equal("model-00", volume.Lines[0].Name);
        Assert.Equal(10 + 9, volume.Lines.Single(l => l.Name == "Others").Values[^1]);
        Assert.DoesNotContain(volume.Lines, l => l.Name is "model-10" or "model-11");
        Assert.True(volume.Lines[11].Previous);
        Assert.Equal("All traces (previous period)", volume.Lines[11].Name);
        Assert.Equal(7, volume.Lines[11].Values[^1]);
        Assert.StartsWith("bucket_start,bucket_end,model-00,", volume.Csv(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttle_RunsAtOncePerInterval_AndServesTheLastRequestLate()
    {
        var clock = new FakeTimeProvider(Now);
        var runs = 0;
        using var throttle = new RefreshThrottle(clock, TimeSpan.FromSeconds(2), () =>
        {
            runs++;
            return Task.CompletedTask;
        });

        throttle.Request();
        Assert.Equal(1, runs);
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            throttle.Request();
        }

        Assert.Equal(1, runs);
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(1, runs);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, runs);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, runs);
        throttle.Request();
        Assert.Equal(3, runs);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Throttle_ARequestDuringARun_GetsARunAfterIt()
    {
        var clock = new FakeTimeProvider(Now);
        var release = new TaskCompletionSource();
        var runs = 0;
        using var throttle = new RefreshThrottle(clock, TimeSpan.FromSeconds(2), () =>
        {
            runs++;
            return runs == 1 ? release.Task : Task.CompletedTask;
        });

        throttle.Request();
        clock.Advance(TimeSpan.FromSeconds(5));
        throttle.Request();
        Assert.Equal(1, runs);
        release.SetResult();
        await Task.Yield();

        Assert.Equal(2, runs);
    }

    [Fact]
    public void Throttle_AfterAnOutsideRefresh_WaitsOutTheInterval_AndStopsWhenDisposed()
    {
        var clock = new FakeTimeProvider(Now);
        var runs = 0;
        var throttle = new RefreshThrottle(clock, TimeSpan.FromSeconds(2), () =>
        {
            runs++;
            return Task.CompletedTask;
        });

        throttle.MarkRefreshed();
        throttle.Request();
        Assert.Equal(0, runs);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, runs);

        throttle.Request();
        throttle.Dispose();
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, runs);
    }
}
