using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Unit.Alerts;

/// <summary>
/// The evaluator's rules on a controlled clock, one evaluation a minute as the job runs them: sustained for N, cooldown,
/// grouping, minimum samples, no data, resolve, change against the previous window, anomaly, snooze and acknowledgement.
/// </summary>
public sealed class AlertEvaluatorTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly Dictionary<string, AlertState> _states = new(StringComparer.Ordinal);

    private static AlertRule Rule(
        AlertConditionOp op = AlertConditionOp.Above, double value = 0.2, int forEvaluations = 1, int minSamples = 0, int cooldown = 0,
        AlertGroupBy groupBy = AlertGroupBy.None, Metric metric = Metric.ErrorRate) => new()
    {
        Id = Guid.NewGuid(), TeamId = Guid.NewGuid(), Name = "Errors", Metric = metric, WindowMinutes = 15, ConditionOp = op, ConditionValue = value,
        ForEvaluations = forEvaluations, MinSamples = minSamples, CooldownMinutes = cooldown, GroupBy = groupBy,
    };

    /// <summary>One evaluation a minute after the last; the new states replace the old, as the job stores them.</summary>
    private IReadOnlyList<AlertOutcome> Step(AlertRule rule, params AlertMeasurement[] measurements)
    {
        _clock.Advance(TimeSpan.FromMinutes(1));
        var outcomes = AlertEvaluator.Evaluate(rule, measurements, _states, _clock.GetUtcNow());
        foreach (var o in outcomes)
        {
            _states[o.Group] = o.State;
        }

        return outcomes;
    }

    private AlertOutcome Step(AlertRule rule, double? value, long samples = 100) => Assert.Single(Step(rule, new AlertMeasurement("", value, samples)));

    [Fact]
    public void Above_FiresOnlyWhenSustainedForN_AndNotifiesOnce()
    {
        var rule = Rule(forEvaluations: 3);

        var first = Step(rule, 0.3);
        Assert.Equal((AlertDecision.Breaching, AlertStatus.Pending, AlertNotice.None), (first.Decision, first.State.Status, first.Notice));
        Assert.Equal(0.2, first.Threshold);
        Assert.Equal(AlertStatus.Pending, Step(rule, 0.3).State.Status);
        var third = Step(rule, 0.3);
        Assert.Equal((AlertStatus.Firing, AlertNotice.Firing, AlertStatus.Pending), (third.State.Status, third.Notice, third.From));
        Assert.Equal(_clock.GetUtcNow(), third.State.LastFiredAt);
        var fourth = Step(rule, 0.5);
        Assert.Equal((AlertStatus.Firing, AlertNotice.None, false), (fourth.State.Status, fourth.Notice, fourth.Changed));
    }

    [Fact]
    public void AClearEvaluation_StartsTheCountAgain()
    {
        var rule = Rule(forEvaluations: 3);
        Step(rule, 0.3);
        Step(rule, 0.3);
        var clear = Step(rule, 0.1);
        Assert.Equal((AlertDecision.Clear, AlertStatus.Ok, 0), (clear.Decision, clear.State.Status, clear.State.BreachCount));

        Step(rule, 0.3);
        Assert.Equal(AlertStatus.Pending, Step(rule, 0.3).State.Status);
        Assert.Equal(AlertNotice.Firing, Step(rule, 0.3).Notice);
    }

    [Fact]
    public void Below_AndTheBoundaryIsNotABreach()
    {
        var rule = Rule(AlertConditionOp.Below, 0.9, metric: Metric.AcceptanceRate);
        Assert.Equal(AlertDecision.Clear, Step(rule, 0.9).Decision);
        Assert.Equal(AlertDecision.Breaching, Step(rule, 0.85).Decision);
        Assert.Equal(AlertDecision.Clear, AlertEvaluator.Judge(Rule(value: 0.2), new AlertMeasurement("", 0.2, 10)).Decision);
    }

    [Fact]
    public void AFiringAlert_ResolvesOnTheFirstClearEvaluation_AndStaysResolvedQuietly()
    {
        var rule = Rule();
        Assert.Equal(AlertNotice.Firing, Step(rule, 0.3).Notice);

        var resolved = Step(rule, 0.1);
        Assert.Equal((AlertStatus.Firing, AlertStatus.Resolved, AlertNotice.Resolved), (resolved.From, resolved.State.Status, resolved.Notice));
        var again = Step(rule, 0.1);
        Assert.Equal((AlertStatus.Resolved, AlertNotice.None, false), (again.State.Status, again.Notice, again.Changed));
        Assert.Equal(AlertNotice.Firing, Step(rule, 0.3).Notice);
    }

    [Fact]
    public void Cooldown_HoldsASecondFiringUntilItHasPassed()
    {
        var rule = Rule(cooldown: 10);
        var fired = Step(rule, 0.3);
        Assert.Equal(AlertNotice.Firing, fired.Notice);
        Assert.Equal(AlertNotice.Resolved, Step(rule, 0.1).Notice);

        // Breaching again 2 minutes after it fired: pending until 10 minutes have passed since the firing.
        for (var minute = 2; minute < 10; minute++)
        {
            var held = Step(rule, 0.3);
            Assert.Equal((AlertDecision.Breaching, AlertStatus.Pending, AlertNotice.None), (held.Decision, held.State.Status, held.Notice));
        }

        var refired = Step(rule, 0.3);
        Assert.Equal((AlertStatus.Firing, AlertNotice.Firing), (refired.State.Status, refired.Notice));
        Assert.Equal(fired.State.LastFiredAt + TimeSpan.FromMinutes(10), refired.State.LastFiredAt);
    }

    [Fact]
    public void TooFewSamples_IsNotJudged_AndEndsAFiringAlertAsNoData()
    {
        var rule = Rule(minSamples: 20);
        var few = Step(rule, 1.0, samples: 2);
        Assert.Equal((AlertDecision.TooFewSamples, AlertStatus.NoData, AlertNotice.None), (few.Decision, few.State.Status, few.Notice));

        Assert.Equal(AlertNotice.Firing, Step(rule, 0.5, samples: 20).Notice);
        var gone = Step(rule, 0.5, samples: 19);
        Assert.Equal((AlertStatus.NoData, AlertNotice.Resolved), (gone.State.Status, gone.Notice));
    }

    [Fact]
    public void NoValue_IsNoData_AndAnUngroupedRuleWithoutMeasurementsIsNoData()
    {
        var rule = Rule();
        Assert.Equal(AlertDecision.NoData, Step(rule, null, samples: 0).Decision);
        Assert.Equal(AlertStatus.NoData, _states[""].Status);

        var nothing = Assert.Single(Step(rule));
        Assert.Equal((AlertDecision.NoData, AlertStatus.NoData), (nothing.Decision, nothing.State.Status));
    }

    [Fact]
    public void Counts_AreJudgedAtZero_WithoutMinimumSamples()
    {
        var rule = Rule(AlertConditionOp.Below, 5, minSamples: 50, metric: Metric.Traces);

        var outcome = Assert.Single(Step(rule, AlertEvaluator.Empty(rule, "")));

        Assert.Equal((0.0, AlertDecision.Breaching, AlertNotice.Firing), (outcome.Measurement.Value, outcome.Decision, outcome.Notice));
        Assert.Equal(AlertDecision.Clear, Step(rule, 7, samples: 7).Decision);
    }

    [Fact]
    public void Grouped_KeepsOneAlertPerGroup_AndAGroupThatGoesQuietEndsAsNoData()
    {
        var rule = Rule(groupBy: AlertGroupBy.UserId);

        var first = Step(rule, new AlertMeasurement("123", 0.34, 57), new AlertMeasurement("456", 0.05, 80));
        var byGroup = first.ToDictionary(o => o.Group);
        Assert.Equal((AlertStatus.Firing, AlertNotice.Firing), (byGroup["123"].State.Status, byGroup["123"].Notice));
        Assert.Equal((AlertStatus.Ok, AlertNotice.None), (byGroup["456"].State.Status, byGroup["456"].Notice));

        var second = Step(rule, new AlertMeasurement("456", 0.5, 80)).ToDictionary(o => o.Group);
        Assert.Equal((AlertStatus.Firing, AlertNotice.Firing), (second["456"].State.Status, second["456"].Notice));
        Assert.Equal((AlertDecision.NoData, AlertStatus.NoData, AlertNotice.Resolved), (second["123"].Decision, second["123"].State.Status, second["123"].Notice));

        // A group no longer pending or firing and not measured is not evaluated again.
        var third = Step(rule, new AlertMeasurement("456", 0.5, 80));
        Assert.Equal("456", Assert.Single(third).Group);
    }

    [Fact]
    public void ChangePct_ComparesWithThePreviousWindow_RiseOrFall()
    {
        var rise = Rule(AlertConditionOp.ChangePct, 50, minSamples: 10);
        var j = AlertEvaluator.Judge(rise, new AlertMeasurement("", 0.2, 100, Previous: 0.1, PreviousSamples: 100));
        Assert.Equal(AlertDecision.Breaching, j.Decision);
        Assert.Equal(0.1, j.Baseline);
        Assert.Equal(0.15, j.Threshold!.Value, 9);
        Assert.Equal(AlertDecision.Clear, AlertEvaluator.Judge(rise, new AlertMeasurement("", 0.14, 100, 0.1, 100)).Decision);
        Assert.Equal(AlertDecision.Clear, AlertEvaluator.Judge(rise, new AlertMeasurement("", 0.01, 100, 0.1, 100)).Decision);
        Assert.Equal(AlertDecision.NoBaseline, AlertEvaluator.Judge(rise, new AlertMeasurement("", 0.2, 100)).Decision);
        Assert.Equal(AlertDecision.NoBaseline, AlertEvaluator.Judge(rise, new AlertMeasurement("", 0.2, 100, 0.1, 3)).Decision);
        Assert.Equal(AlertDecision.Breaching, AlertEvaluator.Judge(rise, new AlertMeasurement("", 0.2, 100, 0, 100)).Decision);

        var fall = Rule(AlertConditionOp.ChangePct, -30, metric: Metric.Traces);
        Assert.Equal(AlertDecision.Breaching, AlertEvaluator.Judge(fall, new AlertMeasurement("", 60, 60, 100, 100)).Decision);
        Assert.Equal(AlertDecision.Clear, AlertEvaluator.Judge(fall, new AlertMeasurement("", 80, 80, 100, 100)).Decision);
        Assert.Equal(AlertDecision.Clear, AlertEvaluator.Judge(fall, new AlertMeasurement("", 300, 300, 100, 100)).Decision);
    }

    [Fact]
    public void Anomaly_JudgesByRobustZAgainstTheWindowsBefore()
    {
        var rule = Rule(AlertConditionOp.Anomaly, 3.5, metric: Metric.LatencyP95);
        double[] baseline = [100, 104, 96, 101, 99, 103, 97, 100, 102, 98, 105, 95, 100, 101, 99, 100, 104, 96, 102, 98, 100, 103, 97, 100];
        var median = Core.Analytics.Statistics.RobustZ.Median(baseline);
        var scale = Core.Analytics.Statistics.RobustZ.MadScale * Core.Analytics.Statistics.RobustZ.MedianAbsoluteDeviation(baseline);

        var spike = AlertEvaluator.Judge(rule, new AlertMeasurement("", 200, 50, Baseline: baseline));
        Assert.Equal(AlertDecision.Breaching, spike.Decision);
        Assert.Equal(median, spike.Baseline);
        Assert.Equal(median + (3.5 * scale), spike.Threshold!.Value, 9);
        Assert.Equal(AlertDecision.Breaching, AlertEvaluator.Judge(rule, new AlertMeasurement("", 50, 50, Baseline: baseline)).Decision);
        Assert.Equal(AlertDecision.Clear, AlertEvaluator.Judge(rule, new AlertMeasurement("", median + (3.4 * scale), 50, Baseline: baseline)).Decision);
        Assert.Equal(AlertDecision.NoBaseline, AlertEvaluator.Judge(rule, new AlertMeasurement("", 200, 50, Baseline: baseline[..11])).Decision);
        Assert.Equal(AlertDecision.NoBaseline, AlertEvaluator.Judge(rule, new AlertMeasurement("", 200, 50, Baseline: Enumerable.Repeat(100.0, 24).ToList())).Decision);
    }

    [Fact]
    public void Snoozed_FiringIsAnnouncedWhenTheSnoozeEnds_AndAResolveIsNeverHeldBack()
    {
        var rule = Rule();
        Step(rule, 0.1);
        _states[""].SnoozedUntil = _clock.GetUtcNow() + TimeSpan.FromMinutes(3);

        var quiet = Step(rule, 0.3);
        Assert.Equal((AlertStatus.Firing, AlertNotice.None, false), (quiet.State.Status, quiet.Notice, quiet.State.FiringNotified));
        Assert.Equal(AlertNotice.None, Step(rule, 0.3).Notice);
        var announced = Step(rule, 0.3);
        Assert.Equal(AlertNotice.Firing, announced.Notice);

        _states[""].SnoozedUntil = _clock.GetUtcNow() + TimeSpan.FromMinutes(30);
        Assert.Equal(AlertNotice.Resolved, Step(rule, 0.1).Notice);
    }

    [Fact]
    public void AFiringThatWasNeverAnnounced_ResolvesWithoutANotice()
    {
        var rule = Rule();
        Step(rule, 0.1);
        _states[""].SnoozedUntil = _clock.GetUtcNow() + TimeSpan.FromMinutes(30);
        Step(rule, 0.3);

        var resolved = Step(rule, 0.1);

        Assert.Equal((AlertStatus.Resolved, AlertNotice.None), (resolved.State.Status, resolved.Notice));
    }

    [Fact]
    public void AnAcknowledgement_IsClearedWhenTheAlertResolves()
    {
        var rule = Rule();
        Step(rule, 0.3);
        _states[""].AcknowledgedAt = _clock.GetUtcNow();
        _states[""].AcknowledgedBy = "ada@example.com";
        Assert.Equal("ada@example.com", Step(rule, 0.3).State.AcknowledgedBy);

        var resolved = Step(rule, 0.1);

        Assert.Null(resolved.State.AcknowledgedAt);
        Assert.Null(resolved.State.AcknowledgedBy);
    }

    [Fact]
    public void Evaluate_DoesNotChangeItsInputs()
    {
        var rule = Rule();
        Step(rule, 0.3);
        var before = _states[""];
        var beforeStatus = before.Status;

        var outcome = Assert.Single(AlertEvaluator.Evaluate(rule, [new AlertMeasurement("", 0.1, 10)], _states, _clock.GetUtcNow() + TimeSpan.FromMinutes(1)));

        Assert.Equal(AlertStatus.Resolved, outcome.State.Status);
        Assert.Equal(beforeStatus, before.Status);
        Assert.NotSame(before, outcome.State);
    }

    [Fact]
    public void Sentence_SaysWhatHappened_AgainstTheThreshold_OverTheWindow()
    {
        var rule = Rule(groupBy: AlertGroupBy.UserId);

        Assert.Equal("Error rate for user 123 is 34 % (above 20 %) over the last 15 min, 57 traces.",
            AlertText.Sentence(rule, "123", 0.34, 57, 0.2, null));
        var latency = Rule(AlertConditionOp.Below, 500, metric: Metric.LatencyP95);
        latency.WindowMinutes = 60;
        Assert.Equal("Latency p95 is 1.20 s (below 500 ms) over the last 1 h, 1 trace.", AlertText.Sentence(latency, "", 1200, 1, 500, null));
    }
}
