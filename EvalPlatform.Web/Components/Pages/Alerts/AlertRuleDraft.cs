using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Notifications;

namespace EvalPlatform.Web.Components.Pages.Alerts;

/// <summary>The edit form's fields: loaded from a rule, turned into a definition for the service (which validates).</summary>
public sealed class AlertRuleDraft
{
    public string Name { get; set; } = "";
    public Metric Metric { get; set; } = Metric.ErrorRate;
    public string? MetricKey { get; set; }
    public string? Model { get; set; }
    public string? Provider { get; set; }
    public string? Environment { get; set; }
    public string? Tag { get; set; }
    public string? Experiment { get; set; }
    public string? Variant { get; set; }
    public string? UserId { get; set; }
    public int WindowMinutes { get; set; } = 15;
    public AlertConditionOp Op { get; set; } = AlertConditionOp.Above;

    /// <summary>As a person types it: rates in percent (20 for 20 %), the rest as they are.</summary>
    public double Value { get; set; } = 20;

    public int ForEvaluations { get; set; } = 3;
    public int MinSamples { get; set; } = 20;
    public int CooldownMinutes { get; set; } = 30;
    public AlertGroupBy GroupBy { get; set; }
    public NotificationSeverity Severity { get; set; } = NotificationSeverity.Warning;

    /// <summary>The chosen channels (none: every channel subscribed to alerts).</summary>
    public IReadOnlyList<Guid> ChannelIds { get; set; } = [];

    public bool Enabled { get; set; } = true;

    /// <summary>Whether the value is typed in percent: a rate compared above or below.</summary>
    public bool InPercent => Metric.IsRate() && Op is AlertConditionOp.Above or AlertConditionOp.Below;

    public static AlertRuleDraft From(AlertRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var f = rule.Filters;
        var draft = new AlertRuleDraft
        {
            Name = rule.Name, Metric = rule.Metric, MetricKey = rule.MetricKey, Model = f.Model, Provider = f.Provider, Environment = f.Environment,
            Tag = f.Tag, Experiment = f.Experiment, Variant = f.Variant, UserId = f.UserId, WindowMinutes = rule.WindowMinutes, Op = rule.ConditionOp,
            ForEvaluations = rule.ForEvaluations, MinSamples = rule.MinSamples, CooldownMinutes = rule.CooldownMinutes, GroupBy = rule.GroupBy,
            Severity = rule.Severity, ChannelIds = rule.ChannelIds.ToList(), Enabled = rule.Enabled,
        };
        draft.Value = draft.InPercent ? Math.Round(rule.ConditionValue * 100, 6) : rule.ConditionValue;
        return draft;
    }

    public AlertRuleDefinition ToDefinition()
    {
        return new AlertRuleDefinition(
            Name, Metric, Metric.NeedsKey() ? MetricKey : null,
            new AlertFilters(Blank(Model), Blank(Provider), Blank(Environment), Blank(Tag), Blank(Experiment), Blank(Variant), Blank(UserId)),
            WindowMinutes, Op, InPercent ? Value / 100 : Value, ForEvaluations, MinSamples, CooldownMinutes, GroupBy, Severity, ChannelIds.Distinct().ToList(), Enabled);
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>A firing in a preview: from when to when (null: still firing at the end), the group and the worst value.</summary>
public sealed record PreviewEpisode(string Group, DateTimeOffset FiredAt, DateTimeOffset? ResolvedAt, double? Peak);

/// <summary>One hour of a preview's strip: the worst status of any group in it.</summary>
public sealed record PreviewHour(DateTimeOffset Hour, AlertStatus Status);

/// <summary>A preview made readable: its firings as episodes, and an hourly strip of the week.</summary>
public static class AlertPreviewSummary
{
    public static IReadOnlyList<PreviewEpisode> Episodes(AlertPreview preview, bool higherIsWorse)
    {
        ArgumentNullException.ThrowIfNull(preview);
        var open = new Dictionary<string, (DateTimeOffset At, double? Peak)>(StringComparer.Ordinal);
        var episodes = new List<PreviewEpisode>();
        foreach (var p in preview.Points)
        {
            if (p.Notice == AlertNotice.Firing || (p.Status == AlertStatus.Firing && !open.ContainsKey(p.Group)))
            {
                open[p.Group] = (p.At, p.Value);
            }
            else if (p.Status == AlertStatus.Firing && open.TryGetValue(p.Group, out var o))
            {
                open[p.Group] = (o.At, Worse(o.Peak, p.Value, higherIsWorse));
            }
            else if (open.Remove(p.Group, out var ended))
            {
                episodes.Add(new PreviewEpisode(p.Group, ended.At, p.At, ended.Peak));
            }
        }

        episodes.AddRange(open.Select(o => new PreviewEpisode(o.Key, o.Value.At, null, o.Value.Peak)));
        return episodes.OrderByDescending(e => e.FiredAt).ToList();
    }

    public static IReadOnlyList<PreviewHour> Hours(AlertPreview preview)
    {
        ArgumentNullException.ThrowIfNull(preview);
        var worst = preview.Points.GroupBy(p => MetricInterval.Hour.Floor(p.At)).ToDictionary(g => g.Key, g => g.Select(p => p.Status).MinBy(Rank));
        var hours = new List<PreviewHour>();
        for (var h = MetricInterval.Hour.Floor(preview.From); h < preview.To; h += TimeSpan.FromHours(1))
        {
            hours.Add(new PreviewHour(h, worst.TryGetValue(h, out var s) ? s : AlertStatus.NoData));
        }

        return hours;
    }

    public static int Rank(AlertStatus status) => status switch
    {
        AlertStatus.Firing => 0,
        AlertStatus.Pending => 1,
        AlertStatus.Ok => 2,
        AlertStatus.Resolved => 3,
        _ => 4,
    };

    private static double? Worse(double? a, double? b, bool higherIsWorse) =>
        a is null ? b : b is null ? a : higherIsWorse ? Math.Max(a.Value, b.Value) : Math.Min(a.Value, b.Value);
}
