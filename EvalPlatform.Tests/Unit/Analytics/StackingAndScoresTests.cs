using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Tests.Unit.Analytics;

/// <summary>The human score bins (one rule for SQL and the app) and the stacked top-N with "others" at each level.</summary>
public sealed class StackingAndScoresTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, "0")]
    [InlineData(1, "1")]
    [InlineData(4, "4")]
    [InlineData(0.5, "0.5")]
    [InlineData(0.75, "0.75")]
    [InlineData(0.145, "0.15")]
    [InlineData(0.125, "0.13")]
    [InlineData(0.1249, "0.12")]
    [InlineData(0.999, "1")]
    public void AScore_IsBinnedToTheHundredth_HalvesAwayFromZero(double score, string key) =>
        Assert.Equal(key, MetricAggregate.HumanScoreKey(MetricAggregate.HumanScoreHundredths(score)));

    [Fact]
    public void ScoreCounts_MergeByAdding_AndReadLowestFirst()
    {
        var a = new MetricAggregate();
        a.CountHumanScore(5);
        a.CountHumanScore(1);
        var b = new MetricAggregate();
        b.CountHumanScore(5, 3);

        a.Merge(b);

        Assert.Equal([(1.0, 1L), (5.0, 4L)], a.HumanScoreDistribution());
        Assert.Equal(a.HumanScores, MetricRollup.From(Guid.NewGuid(), MetricInterval.Hour, T0, default, a).ToAggregate().HumanScores);
    }

    [Fact]
    public void Stacked_KeepsTheTopGroupsAndTheTopStacksOverTheRange_TheRestAsOthers()
    {
        // 12 models, each with traffic in 12 regions: region-0 busiest, region-11 quietest; model-0 busiest.
        var cells = new List<MetricCell>();
        for (var m = 0; m < 12; m++)
        {
            for (var r = 0; r < 12; r++)
            {
                cells.Add(new MetricCell(T0, $"model-{m}", new MetricAggregate { Traces = (100 - m) * (20 - r) }, $"region-{r}"));
            }
        }

        var totals = AnalyticsService.TopStacks(cells, top: 10);

        Assert.Equal(11, totals.Select(t => t.Group).Distinct().Count());
        Assert.Equal(["model-0", "model-1"], totals.Select(t => t.Group).Distinct().Take(2));
        Assert.Equal(AnalyticsService.Others, totals[^1].Group);
        var stacks = totals.Select(t => t.Stack).Distinct().ToList();
        Assert.Equal(11, stacks.Count);
        Assert.Contains(AnalyticsService.Others, stacks);
        Assert.DoesNotContain("region-10", stacks);
        // Nothing is lost: every trace is in one segment.
        Assert.Equal(cells.Sum(c => c.Aggregate.Traces), totals.Sum(t => t.Aggregate.Traces));
        var othersOfModel0 = totals.Single(t => t.Group == "model-0" && t.Stack == AnalyticsService.Others);
        Assert.Equal(100 * (20 - 10) + (100 * (20 - 11)), othersOfModel0.Aggregate.Traces);

        var series = AnalyticsService.ToSeries(cells, MetricInterval.Hour, Metric.Traces, top: 10, stacked: true);
        Assert.Equal(11 * 11, series.Series.Count);
        Assert.Contains(series.Series, s => s.Group == "model-0" && s.Stack == "region-0" && s.Points.Single().Value == 2000);
    }
}
