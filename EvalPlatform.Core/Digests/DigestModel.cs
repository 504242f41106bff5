using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Digests;

/// <summary>
/// A daily digest that was sent: one row per team and local date (unique), inserted in the same transaction as the
/// digest's outbox rows, so a digest is sent once per local date whatever the number of nodes, runs or retries.
/// </summary>
public sealed class TeamDigest : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The local calendar day the digest covers, in <see cref="TimeZone"/>.</summary>
    public DateOnly LocalDate { get; set; }

    public required string TimeZone { get; set; }

    /// <summary>The day's UTC bounds [From, To).</summary>
    public DateTimeOffset From { get; set; }

    public DateTimeOffset To { get; set; }

    /// <summary>The notification's event id (its outbox rows' <see cref="NotificationDelivery.EventId"/>); null when no channel or member wanted it.</summary>
    public Guid? EventId { get; set; }

    public DateTimeOffset SentAt { get; set; }
}

/// <summary>A team's digest settings as read and written (Settings → Notifications, <c>/api/v1/team/digest</c>).</summary>
/// <param name="TimeZone">IANA time zone of the team's days.</param>
/// <param name="Enabled">Whether the digest is sent.</param>
/// <param name="Time">The local time of day from which yesterday's digest is sent.</param>
/// <param name="NextAt">When the next digest is due (UTC), when enabled.</param>
public sealed record DigestSettings(string TimeZone, bool Enabled, TimeOnly Time, DateTimeOffset? NextAt);

/// <summary>A change of the settings: fields left out (null) keep their value.</summary>
public sealed record DigestSettingsInput(string? TimeZone, bool? Enabled, string? Time);

/// <summary>A figure of the day with the day before's, for its change.</summary>
public sealed record DigestFigure(double? Value, double? Previous)
{
    /// <summary>The absolute change (rates: in fractions, e.g. 0.02 for 2 points); null when either side is undefined.</summary>
    public double? Change => Value is { } v && Previous is { } p ? v - p : null;

    /// <summary>The relative change in percent (volumes); null when the day before had none.</summary>
    public double? ChangePercent => Value is { } v && Previous is { } p && p != 0 ? (v - p) / p * 100 : null;
}

/// <summary>A rejection reason of the day: its key, label and how many traces of the day it rejected.</summary>
public sealed record DigestReason(string Key, string Label, long Count);

/// <summary>An alert rule that fired during the day: how often (its groups' firings together) and how loud.</summary>
public sealed record DigestAlert(Guid RuleId, string RuleName, NotificationSeverity Severity, int Count);

/// <summary>An open review queue (or one that finished items that day): done of total now, and done that day.</summary>
public sealed record DigestQueue(Guid QueueId, string Name, int Done, int Total, int DoneThatDay);

/// <summary>
/// One team's digest of one local day. Volume, error rate and acceptance rate come from the analytics engine
/// (<see cref="Analytics.MetricAggregate"/>), each with the local day before's.
/// </summary>
public sealed record DailyDigest(
    DateOnly Date,
    string TimeZone,
    DateTimeOffset From,
    DateTimeOffset To,
    DigestFigure Volume,
    DigestFigure ErrorRate,
    DigestFigure AcceptanceRate,
    long Errors,
    long Accepted,
    long Rejected,
    IReadOnlyList<DigestReason> Reasons,
    IReadOnlyList<DigestAlert> Alerts,
    IReadOnlyList<DigestQueue> Queues)
{
    /// <summary>The most rejection reasons a digest lists.</summary>
    public const int TopReasons = 5;

    /// <summary>No traces that day.</summary>
    public bool IsEmpty => Volume.Value is null or 0;
}
