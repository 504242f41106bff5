using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Tests.Unit.Alerts;

/// <summary>Cells into windows: each minute counts in the window it starts in; the previous window and the baseline come from the same read.</summary>
public sealed class AlertWindowsTests
{
    private static readonly DateTimeOffset To = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static MetricCell Cell(int minutesBeforeTo, long traces, long errors, string? group = null) =>
        new(To - TimeSpan.FromMinutes(minutesBeforeTo), group, new MetricAggregate { Traces = traces, Errors = errors });

    private static AlertRule Rule(AlertConditionOp op = AlertConditionOp.Above, AlertGroupBy groupBy = AlertGroupBy.None) => new()
    {
        Id = Guid.NewGuid(), Name = "r", Metric = Metric.ErrorRate, WindowMinutes = 10, ConditionOp = op, ConditionValue = op == AlertConditionOp.Anomaly ? 3.5 : 0.2,
        GroupBy = groupBy,
    };

    [Fact]
    public void Measure_TakesTheCellsOfTheWindow_AndThePreviousWindowForChangePct()
    {
        // Window 0 is [To − 10 min, To): the cells starting 10 and 1 minutes before To; 11 minutes before is the previous window.
        var cells = new[] { Cell(1, 10, 5), Cell(10, 10, 1), Cell(11, 20, 2), Cell(20, 20, 0), Cell(21, 100, 100), Cell(0, 100, 100) };

        var m = Assert.Single(AlertWindows.Measure(Rule(AlertConditionOp.ChangePct), cells, To));

        Assert.Equal((0.3, 20L), (m.Value, m.Samples));
        Assert.Equal((0.05, 40L), (m.Previous, m.PreviousSamples));
        Assert.Equal((0.3, 20L), (Assert.Single(AlertWindows.Measure(Rule(), cells, To)).Value, 20L));
    }

    [Fact]
    public void Measure_GivesTheAnomalyBaseline_OldestFirst_LeavingOutWindowsWithoutAValue()
    {
        var cells = Enumerable.Range(1, 24).Select(w => Cell((w * 10) + 5, 100, w)).Append(Cell(5, 100, 50)).ToList();
        cells.RemoveAt(3);

        var m = Assert.Single(AlertWindows.Measure(Rule(AlertConditionOp.Anomaly), cells, To));

        Assert.Equal(0.5, m.Value);
        Assert.Equal(23, m.Baseline!.Count);
        Assert.Equal(0.24, m.Baseline[0]);
        Assert.Equal(0.01, m.Baseline[^1]);
    }

    [Fact]
    public void Measure_Grouped_OneMeasurementPerGroup_BusiestFirst_CappedButKeepingThoseInAState()
    {
        var cells = Enumerable.Range(0, 60).Select(i => Cell(1, 100 + i, 1, $"user-{i}")).Append(Cell(2, 1, 1, "quiet")).Append(Cell(3, 5, 0)).ToList();

        var all = AlertWindows.Measure(Rule(groupBy: AlertGroupBy.UserId), cells, To);
        Assert.Equal(AlertWindows.MaxGroups, all.Count);
        Assert.Equal("user-59", all[0].Group);
        Assert.DoesNotContain(all, m => m.Group == "quiet");

        var kept = AlertWindows.Measure(Rule(groupBy: AlertGroupBy.UserId), cells, To, new HashSet<string> { "quiet", "" });
        Assert.Contains(kept, m => m.Group == "quiet" && m.Value == 1.0);
        Assert.Contains(kept, m => m.Group == "" && m.Samples == 5);
    }

    [Fact]
    public void Measure_WithoutCells_IsNoValueForARate_AndZeroForACount()
    {
        Assert.Equal((null, 0L), (Assert.Single(AlertWindows.Measure(Rule(), [], To)).Value, 0L));
        var count = Rule();
        count.Metric = Metric.Traces;
        Assert.Equal(0.0, Assert.Single(AlertWindows.Measure(count, [], To)).Value);
        Assert.Empty(AlertWindows.Measure(Rule(groupBy: AlertGroupBy.Model), [], To));
    }
}
