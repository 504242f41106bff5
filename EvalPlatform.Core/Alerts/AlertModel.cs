using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Alerts;

/// <summary>How a rule's value is judged (the API's <c>condition.op</c>).</summary>
public enum AlertConditionOp
{
    /// <summary>The value is above the threshold.</summary>
    Above,

    /// <summary>The value is below the threshold.</summary>
    Below,

    /// <summary>
    /// The value changed against the previous window (same length, just before) by more than the threshold in percent: a
    /// positive threshold is a rise by more than that, a negative one a fall by more than its size.
    /// </summary>
    ChangePct,

    /// <summary>The value lies more than the threshold (k) robust standard deviations from the median of the windows before (ADR 18's robust z).</summary>
    Anomaly,
}

/// <summary>What a rule keeps one alert per (the API's <c>group_by</c>).</summary>
public enum AlertGroupBy
{
    None,
    Model,
    Environment,
    UserId,
}

/// <summary>Where an alert (a rule × group) stands.</summary>
public enum AlertStatus
{
    /// <summary>Evaluated and not breaching.</summary>
    Ok,

    /// <summary>Breaching, not yet for the rule's number of evaluations (or still in its cooldown).</summary>
    Pending,

    /// <summary>Breaching for long enough: notified (unless snoozed).</summary>
    Firing,

    /// <summary>Not breaching any more after having fired.</summary>
    Resolved,

    /// <summary>The window had no value, or fewer traces than the rule's minimum.</summary>
    NoData,
}

/// <summary>What one evaluation of one group decided.</summary>
public enum AlertDecision
{
    /// <summary>The condition holds.</summary>
    Breaching,

    /// <summary>The condition does not hold.</summary>
    Clear,

    /// <summary>No traces (or no value) in the window.</summary>
    NoData,

    /// <summary>Fewer traces than the rule's minimum: not judged.</summary>
    TooFewSamples,

    /// <summary>change_pct or anomaly without a usable baseline (no previous value; a baseline without spread): not judged.</summary>
    NoBaseline,
}

/// <summary>The filters a rule measures over: the trace list's filters of the same names.</summary>
public sealed record AlertFilters(
    string? Model = null, string? Provider = null, string? Environment = null, string? Tag = null, string? Experiment = null,
    string? Variant = null, string? UserId = null)
{
    public AnalyticsFilter ToAnalytics(DateTimeOffset from, DateTimeOffset to) =>
        new(from, to, Model, Provider, Environment, Tag, Experiment, Variant, UserId);

    public bool IsEmpty => new[] { Model, Provider, Environment, Tag, Experiment, Variant, UserId }.All(v => v is null);
}

/// <summary>
/// A team's alert rule: a metric over a sliding window of the last <see cref="WindowMinutes"/>, with the trace list's
/// filters, judged by a condition every minute, per group when grouped. See ADR 23.
/// </summary>
public sealed class AlertRule : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string Name { get; set; }
    public Metric Metric { get; set; }

    /// <summary>The rejection reason (<see cref="Metric.ReasonRejectionRate"/>) or score name (<see cref="Metric.ScoreMean"/>).</summary>
    public string? MetricKey { get; set; }

    /// <summary><see cref="AlertFilters"/> as JSON (<see cref="AlertJson"/>).</summary>
    public string FiltersJson { get; set; } = "{}";

    public int WindowMinutes { get; set; }
    public AlertConditionOp ConditionOp { get; set; }
    public double ConditionValue { get; set; }

    /// <summary>Consecutive breaching evaluations (one a minute) before it fires.</summary>
    public int ForEvaluations { get; set; } = 1;

    /// <summary>Fewer traces (or observations of the metric) in the window than this are not judged.</summary>
    public int MinSamples { get; set; }

    /// <summary>After a group fired, it may not fire again until this many minutes have passed.</summary>
    public int CooldownMinutes { get; set; }

    public AlertGroupBy GroupBy { get; set; }
    public NotificationSeverity Severity { get; set; } = NotificationSeverity.Warning;

    /// <summary>The notification channels to notify; empty: every channel subscribed to alerts.</summary>
    public List<Guid> ChannelIds { get; set; } = [];

    public bool Enabled { get; set; } = true;
    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public AlertFilters Filters => AlertJson.ReadFilters(FiltersJson);
}

/// <summary>
/// The alert of one rule and group ("" when not grouped, or for traces without the dimension): its status and what the
/// evaluator needs to carry from one minute to the next. One row per rule and group, updated in place.
/// </summary>
public sealed class AlertState : ITeamOwned
{
    public Guid TeamId { get; set; }
    public Guid RuleId { get; set; }
    public string GroupKey { get; set; } = "";
    public AlertStatus Status { get; set; }

    /// <summary>When it entered <see cref="Status"/>.</summary>
    public DateTimeOffset Since { get; set; }

    /// <summary>Consecutive breaching evaluations up to now.</summary>
    public int BreachCount { get; set; }

    public DateTimeOffset? LastEvaluatedAt { get; set; }
    public double? LastValue { get; set; }
    public long LastSamples { get; set; }

    /// <summary>When it last went to <see cref="AlertStatus.Firing"/> (the cooldown counts from here).</summary>
    public DateTimeOffset? LastFiredAt { get; set; }

    /// <summary>Whether the current firing was announced (a firing that began while snoozed is announced when the snooze ends).</summary>
    public bool FiringNotified { get; set; }

    public DateTimeOffset? AcknowledgedAt { get; set; }
    public string? AcknowledgedBy { get; set; }

    /// <summary>No notifications for this alert until then (evaluations and state changes go on).</summary>
    public DateTimeOffset? SnoozedUntil { get; set; }
}

/// <summary>One evaluation of one group: what was measured and decided ("why did it (not) fire"). Kept 7 days.</summary>
public sealed class AlertEvaluation : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid RuleId { get; set; }
    public string GroupKey { get; set; } = "";
    public DateTimeOffset EvaluatedAt { get; set; }
    public DateTimeOffset WindowFrom { get; set; }
    public DateTimeOffset WindowTo { get; set; }
    public double? Value { get; set; }
    public long Samples { get; set; }

    /// <summary>The value the condition compared with: the threshold, or for change_pct and anomaly the bound it implies.</summary>
    public double? Threshold { get; set; }

    /// <summary>change_pct: the previous window's value; anomaly: the baseline's median.</summary>
    public double? Baseline { get; set; }

    public AlertDecision Decision { get; set; }
    public AlertStatus Status { get; set; }
}

/// <summary>A change of an alert's status (or an acknowledgement, a snooze), with the value and window that decided it. Kept with its rule.</summary>
public sealed class AlertEvent : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid RuleId { get; set; }
    public required string RuleName { get; set; }
    public string GroupKey { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public AlertStatus FromStatus { get; set; }
    public AlertStatus ToStatus { get; set; }
    public double? Value { get; set; }
    public long Samples { get; set; }
    public double? Threshold { get; set; }
    public DateTimeOffset WindowFrom { get; set; }
    public DateTimeOffset WindowTo { get; set; }

    /// <summary>The sentence a person reads (the notification's text).</summary>
    public required string Message { get; set; }

    /// <summary>Who acknowledged or snoozed (null for the evaluator's changes).</summary>
    public string? Actor { get; set; }
}
