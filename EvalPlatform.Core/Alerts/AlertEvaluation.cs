using System.Text.Json.Nodes;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Alerts;

/// <summary>What one evaluation of every rule did.</summary>
public sealed record AlertRun(int Rules, int Failed, int Fired, int Resolved);

/// <summary>
/// Evaluates one rule of the team in context, now: reads its windows through <see cref="AnalyticsService"/> (rollups plus the
/// live edge from raw traces), runs <see cref="AlertEvaluator"/>, and writes the evaluations, the new states, the events and
/// the outbox rows of its notifications in one <c>SaveChangesAsync</c> of the scope's <see cref="IEvalDbContext"/>, so a
/// state change and its notification commit together or not at all.
/// </summary>
public sealed class AlertRuleEvaluation(IEvalDbContext db, AnalyticsService analytics, INotificationOutbox outbox, ITeamContext team)
{
    public async Task<IReadOnlyList<AlertOutcome>> EvaluateAsync(Guid ruleId, DateTimeOffset now, CancellationToken ct = default)
    {
        var teamId = team.TeamId ?? throw new PermissionDeniedException("No team.");
        var rule = await db.AlertRules.AsNoTracking().SingleOrDefaultAsync(r => r.Id == ruleId, ct)
            ?? throw new NotFoundException("No such alert rule in this team.");
        var states = await db.AlertStates.Where(s => s.RuleId == ruleId).ToDictionaryAsync(s => s.GroupKey, StringComparer.Ordinal, ct);
        var to = WindowEnd(now);
        var measurements = await MeasureAsync(analytics, rule, to,
            states.Values.Where(s => s.Status is AlertStatus.Pending or AlertStatus.Firing).Select(s => s.GroupKey).ToHashSet(StringComparer.Ordinal), ct);
        var outcomes = AlertEvaluator.Evaluate(rule, measurements, states, now);
        var windowFrom = to - TimeSpan.FromMinutes(rule.WindowMinutes);
        foreach (var o in outcomes)
        {
            db.AlertEvaluations.Add(new AlertEvaluation
            {
                Id = Uuid7.Create(now), TeamId = teamId, RuleId = rule.Id, GroupKey = o.Group, EvaluatedAt = now, WindowFrom = windowFrom, WindowTo = to,
                Value = Finite(o.Measurement.Value), Samples = o.Measurement.Samples, Threshold = Finite(o.Threshold), Baseline = Finite(o.Baseline),
                Decision = o.Decision, Status = o.State.Status,
            });
            if (states.TryGetValue(o.Group, out var tracked))
            {
                AlertEvaluator.Apply(o.State, tracked);
            }
            else if (o.State.Status != AlertStatus.Ok || rule.GroupBy == AlertGroupBy.None)
            {
                // A group gets a row once it is anything but OK (an ungrouped rule always has one): a rule grouped by user does
                // not keep a row per user who never breached.
                db.AlertStates.Add(o.State);
            }

            var sentence = AlertText.Sentence(rule, o.Group, o.Measurement.Value, o.Measurement.Samples, o.Threshold, o.Baseline);
            if (o.Changed)
            {
                db.AlertEvents.Add(new AlertEvent
                {
                    Id = Uuid7.Create(now), TeamId = teamId, RuleId = rule.Id, RuleName = rule.Name, GroupKey = o.Group, At = now, FromStatus = o.From,
                    ToStatus = o.State.Status, Value = Finite(o.Measurement.Value), Samples = o.Measurement.Samples, Threshold = Finite(o.Threshold),
                    WindowFrom = windowFrom, WindowTo = to, Message = sentence,
                });
            }

            if (o.Notice != AlertNotice.None)
            {
                await outbox.EnqueueAsync(Notification(rule, o, sentence, windowFrom, to), ct);
            }
        }

        await db.SaveChangesAsync(ct);
        return outcomes;
    }

    /// <summary>The end of the window evaluated at <paramref name="now"/>: the end of the current minute, so a trace stored a moment ago counts.</summary>
    public static DateTimeOffset WindowEnd(DateTimeOffset now) => MetricInterval.Minute.Floor(now) + TimeSpan.FromMinutes(1);

    /// <summary>One read of the windows a rule needs at <paramref name="to"/>, as measurements per group.</summary>
    public static async Task<IReadOnlyList<AlertMeasurement>> MeasureAsync(
        AnalyticsService analytics, AlertRule rule, DateTimeOffset to, IReadOnlySet<string> keep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(analytics);
        ArgumentNullException.ThrowIfNull(rule);
        var range = TimeSpan.FromMinutes(rule.WindowMinutes) * AlertWindows.WindowsNeeded(rule);
        var query = new AnalyticsQuery(rule.Filters.ToAnalytics(to - range, to), AlertWindows.IntervalFor(range), AlertWindows.Dimension(rule.GroupBy));
        var cells = await analytics.CellsAsync(query, ct);
        return AlertWindows.Measure(rule, cells, to, keep);
    }

    public static NotificationEvent Notification(AlertRule rule, AlertOutcome o, string sentence, DateTimeOffset windowFrom, DateTimeOffset windowTo)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(o);
        var firing = o.Notice == AlertNotice.Firing;
        var title = (firing ? "" : "Resolved: ") + $"{rule.Name}{AlertText.Group(rule.GroupBy, o.Group)}";
        var text = firing ? sentence : $"{sentence} It fired at {o.State.LastFiredAt:yyyy-MM-dd HH:mm} UTC.";
        var data = new JsonObject
        {
            ["rule_id"] = rule.Id,
            ["rule_name"] = rule.Name,
            ["metric"] = rule.Metric.Name(),
            ["metric_key"] = rule.MetricKey,
            ["group_by"] = AlertText.Wire(rule.GroupBy),
            ["group"] = rule.GroupBy == AlertGroupBy.None ? null : o.Group,
            ["value"] = Finite(o.Measurement.Value),
            ["value_text"] = AlertText.Value(rule.Metric, o.Measurement.Value),
            ["samples"] = o.Measurement.Samples,
            ["op"] = AlertText.Wire(rule.ConditionOp),
            ["condition_value"] = rule.ConditionValue,
            ["threshold"] = Finite(o.Threshold),
            ["threshold_text"] = o.Threshold is null ? null : AlertText.Value(rule.Metric, o.Threshold),
            ["window_minutes"] = rule.WindowMinutes,
            ["window_from"] = windowFrom,
            ["window_to"] = windowTo,
            ["state"] = AlertText.Wire(o.State.Status),
            ["severity"] = AlertText.Wire(rule.Severity),
        };
        return new NotificationEvent(
            rule.TeamId, firing ? NotificationEventTypes.AlertFiring : NotificationEventTypes.AlertResolved, title, text,
            TracesLink(rule, o.Group, windowFrom, windowTo), data, firing ? rule.Severity : NotificationSeverity.Info,
            rule.ChannelIds.Count > 0 ? rule.ChannelIds : null);
    }

    /// <summary>The trace list filtered as the rule, to the group and the window: where a person starts looking.</summary>
    public static string TracesLink(AlertRule rule, string group, DateTimeOffset from, DateTimeOffset to)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var f = rule.Filters;
        f = rule.GroupBy switch
        {
            AlertGroupBy.Model when group.Length > 0 => f with { Model = group },
            AlertGroupBy.Environment when group.Length > 0 => f with { Environment = group },
            AlertGroupBy.UserId when group.Length > 0 => f with { UserId = group },
            _ => f,
        };
        var parts = new List<string>();
        foreach (var (name, value) in new[]
        {
            ("model", f.Model), ("provider", f.Provider), ("environment", f.Environment), ("tag", f.Tag), ("experiment", f.Experiment),
            ("variant", f.Variant), ("user_id", f.UserId),
            ("from", from.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)),
            ("to", to.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)),
        })
        {
            if (value is not null)
            {
                parts.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }

        return "/traces?" + string.Join("&", parts);
    }

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;
}

/// <summary>
/// The minute job's one call: every enabled rule of every team, each in a scope of its own acting as its team
/// (<see cref="TeamContext.SetJob"/>), so the query filter applies as for a request; one rule's failure is logged and the
/// others go on. The list of rules across teams is the one cross-team read (<see cref="EnabledRulesAcrossTeamsAsync"/>).
/// </summary>
public sealed class AlertRunner(IServiceScopeFactory scopes, TimeProvider clock, ILogger<AlertRunner> logger)
{
    public const string JobName = "alerts";

    /// <summary>Evaluations are kept this long ("why did it (not) fire" for the last week).</summary>
    public static readonly TimeSpan EvaluationRetention = TimeSpan.FromDays(7);

    public async Task<AlertRun> EvaluateAllAsync(CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        var rules = await EnabledRulesAcrossTeamsAsync(ct);
        int failed = 0, fired = 0, resolved = 0;
        foreach (var (teamId, ruleId) in rules)
        {
            ct.ThrowIfCancellationRequested();
            await using var scope = scopes.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
            try
            {
                var outcomes = await scope.ServiceProvider.GetRequiredService<AlertRuleEvaluation>().EvaluateAsync(ruleId, now, ct);
                fired += outcomes.Count(o => o.Notice == AlertNotice.Firing);
                resolved += outcomes.Count(o => o.Notice == AlertNotice.Resolved);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogError(e, "Alert rule {RuleId} of team {TeamId} could not be evaluated; its state stays as it was", ruleId, teamId);
            }
        }

        return new AlertRun(rules.Count, failed, fired, resolved);
    }

    /// <summary>Deletes evaluations older than <see cref="EvaluationRetention"/>, of every team.</summary>
    public async Task<int> PurgeEvaluationsAsync(CancellationToken ct = default)
    {
        var cutoff = clock.GetUtcNow() - EvaluationRetention;
        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        return await db.AlertEvaluations.IgnoreQueryFilters().Where(e => e.EvaluatedAt < cutoff).ExecuteDeleteAsync(ct);
    }

    private async Task<List<(Guid TeamId, Guid RuleId)>> EnabledRulesAcrossTeamsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        var rows = await db.AlertRules.IgnoreQueryFilters().AsNoTracking().Where(r => r.Enabled)
            .OrderBy(r => r.TeamId).ThenBy(r => r.Id).Select(r => new { r.TeamId, r.Id }).ToListAsync(ct);
        return rows.Select(r => (r.TeamId, r.Id)).ToList();
    }
}
