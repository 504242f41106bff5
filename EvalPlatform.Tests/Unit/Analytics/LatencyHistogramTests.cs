using EvalPlatform.Core.Analytics;
using EvalPlatform.Data.Queries.Analytics;

namespace EvalPlatform.Tests.Unit.Analytics;

public sealed class LatencyHistogramTests
{
    private static List<double> LogNormal(Random random, int n, double mu, double sigma) =>
        Enumerable.Range(0, n).Select(_ =>
        {
            // Box–Muller.
            var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return Math.Exp(mu + sigma * z);
        }).ToList();

    [Theory]
    [InlineData(1, 10_000, 5.5, 1.0)]
    [InlineData(2, 1_000, 3.0, 2.0)]
    [InlineData(3, 37, 7.0, 0.3)]
    public void Quantiles_AreWithinOnePercentOfTheExactNearestRank(int seed, int n, double mu, double sigma)
    {
        var values = LogNormal(new Random(seed), n, mu, sigma);
        var histogram = new LatencyHistogram();
        values.ForEach(v => histogram.Add(v));
        var sorted = values.Order().ToList();

        foreach (var q in new[] { 0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 })
        {
            var exact = LatencyHistogram.ExactQuantile(sorted, q)!.Value;
            var estimate = histogram.Quantile(q)!.Value;
            Assert.True(Math.Abs(estimate - exact) <= 0.01 * exact, $"q={q}: {estimate} vs exact {exact}");
        }
    }

    [Fact]
    public void Merge_EqualsTheHistogramOfTheUnion_AndSurvivesSerialization()
    {
        var random = new Random(7);
        var parts = Enumerable.Range(0, 12).Select(i => LogNormal(random, random.Next(0, 400), 4 + i % 3, 1.2)).ToList();
        parts[3].AddRange([0, 0.0004, 0.001]);
        var union = new LatencyHistogram();
        parts.SelectMany(p => p).ToList().ForEach(v => union.Add(v));

        var merged = new LatencyHistogram();
        foreach (var part in parts)
        {
            var h = new LatencyHistogram();
            part.ForEach(v => h.Add(v));
            merged.Merge(LatencyHistogram.Parse(h.Serialize()));
        }

        Assert.Equal(union.Serialize(), merged.Serialize());
        Assert.Equal(union.Count, merged.Count);
        Assert.Equal(3, merged.ZeroCount);
        Assert.Equal(union.Quantile(0.95), merged.Quantile(0.95));
    }

    [Fact]
    public void Empty_HasNoQuantile_AndSerializesToNothing()
    {
        var empty = new LatencyHistogram();
        Assert.Null(empty.Quantile(0.5));
        Assert.Equal("", empty.Serialize());
        Assert.True(LatencyHistogram.Parse("").IsEmpty);
    }
}

public sealed class MetricsReadPlanTests
{
    private static readonly DateTimeOffset Day0 = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Plan_UsesTheWidestCleanBucket_AndNeverOneCoarserThanTheInterval()
    {
        var from = Day0 + new TimeSpan(22, 17, 0);
        var edge = Day0 + TimeSpan.FromDays(3) + new TimeSpan(1, 5, 0);

        var plan = MetricsReader.Plan(from, edge, MetricInterval.Day, new HashSet<DateTimeOffset>());

        var byInterval = plan.Rollups.ToDictionary(p => p.Interval, p => p.Ranges);
        Assert.Equal([(Day0 + TimeSpan.FromDays(1), Day0 + TimeSpan.FromDays(3))], byInterval[MetricInterval.Day]);
        Assert.Equal([(Day0 + TimeSpan.FromHours(23), Day0 + TimeSpan.FromDays(1)), (Day0 + TimeSpan.FromDays(3), Day0 + TimeSpan.FromDays(3) + TimeSpan.FromHours(1))],
            byInterval[MetricInterval.Hour]);
        Assert.Equal([(from, Day0 + TimeSpan.FromHours(23)), (Day0 + TimeSpan.FromDays(3) + TimeSpan.FromHours(1), edge)], byInterval[MetricInterval.Minute]);
        Assert.Empty(plan.Raw);

        var hourly = MetricsReader.Plan(from, edge, MetricInterval.Hour, new HashSet<DateTimeOffset>());
        Assert.DoesNotContain(hourly.Rollups, p => p.Interval == MetricInterval.Day);
        var minutely = MetricsReader.Plan(from, edge, MetricInterval.Minute, new HashSet<DateTimeOffset>());
        Assert.Equal([MetricInterval.Minute], minutely.Rollups.Select(p => p.Interval));
    }

    [Fact]
    public void Plan_ReadsADirtyMinuteRaw_AndItsHourAndDayFromTheOtherMinutes()
    {
        var dirty = Day0 + TimeSpan.FromDays(1) + new TimeSpan(5, 30, 0);
        var plan = MetricsReader.Plan(Day0, Day0 + TimeSpan.FromDays(3), MetricInterval.Day, new HashSet<DateTimeOffset> { dirty });

        var byInterval = plan.Rollups.ToDictionary(p => p.Interval, p => p.Ranges);
        Assert.Equal([(Day0, Day0 + TimeSpan.FromDays(1)), (Day0 + TimeSpan.FromDays(2), Day0 + TimeSpan.FromDays(3))], byInterval[MetricInterval.Day]);
        Assert.Equal([(Day0 + TimeSpan.FromDays(1), dirty - TimeSpan.FromMinutes(30)), (dirty + TimeSpan.FromMinutes(30), Day0 + TimeSpan.FromDays(2))], byInterval[MetricInterval.Hour]);
        Assert.Equal([(dirty - TimeSpan.FromMinutes(30), dirty), (dirty + TimeSpan.FromMinutes(1), dirty + TimeSpan.FromMinutes(30))], byInterval[MetricInterval.Minute]);
        Assert.Equal([(dirty, dirty + TimeSpan.FromMinutes(1))], plan.Raw);
    }
}
