using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Analytics.Statistics;

namespace EvalPlatform.Core.Alerts;

/// <summary>
/// What was measured for one group over the rule's window: the value, what it rests on, and for change_pct the previous
/// window's value, for anomaly the values of the windows before (oldest first, the nearest last).
/// </summary>
public sealed record AlertMeasurement(
    string Group, double? Value, long Samples, double? Previous = null, long PreviousSamples = 0, IReadOnlyList<double>? Baseline = null);

/// <summary>A notification an evaluation calls for.</summary>
public enum AlertNotice
{
    None,
    Firing,
    Resolved,
}

/// <summary>One group's evaluation: the decision, the bound it was judged against, its new state, and what to announce.</summary>
public sealed record AlertOutcome(
    string Group, AlertMeasurement Measurement, AlertDecision Decision, double? Threshold, double? Baseline, AlertStatus From, AlertState State,
    AlertNotice Notice)
{
    public bool Changed => From != State.Status;
}

/// <summary>
/// The rules of alerting, pure (ADR 23): a rule, what was measured per group, the groups' previous states and the time go in;
/// the decisions, the new states and the notifications come out. Nothing is read or written here, so every rule (sustained,
/// cooldown, minimum samples, no data, resolve, change, anomaly, snooze) is tested on a controlled clock, and the edit page's
/// preview replays exactly what the job does.
/// </summary>
public static class AlertEvaluator
{
    /// <summary>An anomaly needs at least this many earlier windows with a value to judge against (ADR 18's minimum).</summary>
    public const int MinBaselineWindows = 12;

    /// <summary>The earlier windows an anomaly is judged against (ADR 18: 24 buckets).</summary>
    public const int BaselineWindows = 24;

    /// <summary>
    /// Evaluates every group measured, and every group whose alert is pending or firing though it was not measured (it had
    /// no traces in the window: no data). Groups neither measured nor in a state are not mentioned. Inputs are not changed.
    /// </summary>
    public static IReadOnlyList<AlertOutcome> Evaluate(
        AlertRule rule, IReadOnlyList<AlertMeasurement> measurements, IReadOnlyDictionary<string, AlertState> states, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(measurements);
        ArgumentNullException.ThrowIfNull(states);
        var outcomes = new List<AlertOutcome>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in measurements)
        {
            if (seen.Add(m.Group))
            {
                outcomes.Add(EvaluateGroup(rule, m, states.GetValueOrDefault(m.Group), now));
            }
        }

        foreach (var (group, state) in states.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!seen.Contains(group) && (state.Status is AlertStatus.Pending or AlertStatus.Firing || rule.GroupBy == AlertGroupBy.None))
            {
                outcomes.Add(EvaluateGroup(rule, Empty(rule, group), state, now));
            }
        }

        return outcomes;
    }

    /// <summary>What a group without traces in the window measures: zero for counts (a fall to nothing is news), else no value.</summary>
    public static AlertMeasurement Empty(AlertRule rule, string group)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return new AlertMeasurement(group, IsCount(rule.Metric) ? 0 : null, 0);
    }

    /// <summary>Sums (traces, errors, tokens, cost, review counts): zero is a value, and the minimum samples do not apply.</summary>
    public static bool IsCount(Metric metric) => metric is Metric.Traces or Metric.Errors or Metric.PromptTokens or Metric.CompletionTokens
        or Metric.TotalTokens or Metric.Cost or Metric.Reviewed or Metric.Accepted or Metric.Rejected or Metric.NeedsReview;

    public static AlertOutcome EvaluateGroup(AlertRule rule, AlertMeasurement m, AlertState? previous, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(m);
        var (decision, threshold, baseline) = Judge(rule, m);
        var from = previous?.Status ?? AlertStatus.Ok;
        var s = previous is null ? new AlertState { TeamId = rule.TeamId, RuleId = rule.Id, GroupKey = m.Group, Status = AlertStatus.Ok, Since = now } : Copy(previous);
        s.LastEvaluatedAt = now;
        s.LastValue = m.Value;
        s.LastSamples = m.Samples;

        AlertStatus to;
        switch (decision)
        {
            case AlertDecision.Breaching:
                s.BreachCount++;
                if (from == AlertStatus.Firing)
                {
                    to = AlertStatus.Firing;
                }
                else if (s.BreachCount >= Math.Max(1, rule.ForEvaluations) && !InCooldown(rule, s, now))
                {
                    to = AlertStatus.Firing;
                    s.LastFiredAt = now;
                    s.FiringNotified = false;
                    s.AcknowledgedAt = null;
                    s.AcknowledgedBy = null;
                }
                else
                {
                    to = AlertStatus.Pending;
                }

                break;
            case AlertDecision.Clear or AlertDecision.NoBaseline:
                s.BreachCount = 0;
                to = from is AlertStatus.Firing or AlertStatus.Resolved ? AlertStatus.Resolved : AlertStatus.Ok;
                break;
            default:
                s.BreachCount = 0;
                to = AlertStatus.NoData;
                break;
        }

        var notice = AlertNotice.None;
        if (to == AlertStatus.Firing && !s.FiringNotified && !Snoozed(s, now))
        {
            notice = AlertNotice.Firing;
            s.FiringNotified = true;
        }
        else if (from == AlertStatus.Firing && to != AlertStatus.Firing)
        {
            // Good news is never held back by a snooze: whoever heard it fire hears it resolve.
            notice = s.FiringNotified ? AlertNotice.Resolved : AlertNotice.None;
            s.FiringNotified = false;
            s.AcknowledgedAt = null;
            s.AcknowledgedBy = null;
        }

        if (to != from)
        {
            s.Since = now;
        }

        s.Status = to;
        return new AlertOutcome(m.Group, m, decision, threshold, baseline, from, s, notice);
    }

    /// <summary>The decision on one measurement, with the bound it was judged against and the baseline (change_pct, anomaly).</summary>
    public static (AlertDecision Decision, double? Threshold, double? Baseline) Judge(AlertRule rule, AlertMeasurement m)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(m);
        var k = rule.ConditionValue;
        var plain = rule.ConditionOp is AlertConditionOp.Above or AlertConditionOp.Below ? k : (double?)null;
        if (m.Value is not { } v || !double.IsFinite(v))
        {
            return (AlertDecision.NoData, plain, null);
        }

        var counts = IsCount(rule.Metric);
        if (!counts && m.Samples == 0)
        {
            return (AlertDecision.NoData, plain, null);
        }

        if (!counts && m.Samples < rule.MinSamples)
        {
            return (AlertDecision.TooFewSamples, plain, null);
        }

        switch (rule.ConditionOp)
        {
            case AlertConditionOp.Above:
                return (v > k ? AlertDecision.Breaching : AlertDecision.Clear, k, null);
            case AlertConditionOp.Below:
                return (v < k ? AlertDecision.Breaching : AlertDecision.Clear, k, null);
            case AlertConditionOp.ChangePct:
                {
                    if (m.Previous is not { } p || !double.IsFinite(p) || (!counts && m.PreviousSamples < Math.Max(1, rule.MinSamples)))
                    {
                        return (AlertDecision.NoBaseline, null, null);
                    }

                    var change = ChangePercent(v, p);
                    var breach = k >= 0 ? change > k : change < k;
                    return (breach ? AlertDecision.Breaching : AlertDecision.Clear, p + (Math.Abs(p) * k / 100), p);
                }

            default:
                {
                    var baseline = (m.Baseline ?? []).Where(double.IsFinite).ToList();
                    if (baseline.Count < MinBaselineWindows)
                    {
                        return (AlertDecision.NoBaseline, null, baseline.Count > 0 ? RobustZ.Median(baseline) : null);
                    }

                    var median = RobustZ.Median(baseline);
                    var scale = RobustZ.MadScale * RobustZ.MedianAbsoluteDeviation(baseline);
                    if (scale <= 0)
                    {
                        return (AlertDecision.NoBaseline, null, median);
                    }

                    var z = (v - median) / scale;
                    var bound = v >= median ? median + (k * scale) : median - (k * scale);
                    return (Math.Abs(z) > k ? AlertDecision.Breaching : AlertDecision.Clear, bound, median);
                }
        }
    }

    /// <summary>The change from <paramref name="previous"/> to <paramref name="value"/> in percent; from 0, any rise is +∞ and any fall −∞.</summary>
    public static double ChangePercent(double value, double previous) => previous == 0
        ? value == 0 ? 0 : value > 0 ? double.PositiveInfinity : double.NegativeInfinity
        : (value - previous) / Math.Abs(previous) * 100;

    private static bool InCooldown(AlertRule rule, AlertState s, DateTimeOffset now) =>
        rule.CooldownMinutes > 0 && s.LastFiredAt is { } fired && now < fired + TimeSpan.FromMinutes(rule.CooldownMinutes);

    public static bool Snoozed(AlertState s, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(s);
        return s.SnoozedUntil is { } until && now < until;
    }

    private static AlertState Copy(AlertState s) => new()
    {
        TeamId = s.TeamId, RuleId = s.RuleId, GroupKey = s.GroupKey, Status = s.Status, Since = s.Since, BreachCount = s.BreachCount,
        LastEvaluatedAt = s.LastEvaluatedAt, LastValue = s.LastValue, LastSamples = s.LastSamples, LastFiredAt = s.LastFiredAt,
        FiringNotified = s.FiringNotified, AcknowledgedAt = s.AcknowledgedAt, AcknowledgedBy = s.AcknowledgedBy, SnoozedUntil = s.SnoozedUntil,
    };

    /// <summary>Copies the evaluator's new state onto the tracked row.</summary>
    public static void Apply(AlertState from, AlertState to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        to.Status = from.Status;
        to.Since = from.Since;
        to.BreachCount = from.BreachCount;
        to.LastEvaluatedAt = from.LastEvaluatedAt;
        to.LastValue = from.LastValue;
        to.LastSamples = from.LastSamples;
        to.LastFiredAt = from.LastFiredAt;
        to.FiringNotified = from.FiringNotified;
        to.AcknowledgedAt = from.AcknowledgedAt;
        to.AcknowledgedBy = from.AcknowledgedBy;
        to.SnoozedUntil = from.SnoozedUntil;
    }
}
