using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Alerts;

/// <summary>What an Admin writes to create or change a rule (the API's body, already parsed).</summary>
public sealed record AlertRuleDefinition(
    string? Name, Metric Metric, string? MetricKey, AlertFilters Filters, int WindowMinutes, AlertConditionOp Op, double Value,
    int ForEvaluations = 1, int MinSamples = 0, int CooldownMinutes = 0, AlertGroupBy GroupBy = AlertGroupBy.None,
    NotificationSeverity Severity = NotificationSeverity.Warning, IReadOnlyList<Guid>? ChannelIds = null, bool Enabled = true);

/// <summary>A rule with the states of its groups (the list's badges: the worst first).</summary>
public sealed record AlertRuleOverview(AlertRule Rule, IReadOnlyList<AlertState> States)
{
    /// <summary>The status a badge shows: firing over pending over no data over resolved over OK.</summary>
    public AlertStatus Status => States.Count == 0 ? AlertStatus.Ok : States.Select(s => s.Status).OrderBy(Rank).First();

    public int Firing => States.Count(s => s.Status == AlertStatus.Firing);

    private static int Rank(AlertStatus status) => status switch
    {
        AlertStatus.Firing => 0,
        AlertStatus.Pending => 1,
        AlertStatus.NoData => 2,
        AlertStatus.Resolved => 3,
        _ => 4,
    };
}

/// <summary>A page of events, newest first, with the cursor of the next (older) page.</summary>
public sealed record AlertEventPage(IReadOnlyList<AlertEvent> Events, string? Next);

/// <summary>One minute of a preview: what the rule would have decided then, per group.</summary>
public sealed record AlertPreviewPoint(DateTimeOffset At, string Group, double? Value, long Samples, AlertDecision Decision, AlertStatus Status, AlertNotice Notice);

/// <summary>How a rule would have behaved: every step's decisions, and how often it would have fired.</summary>
public sealed record AlertPreview(DateTimeOffset From, DateTimeOffset To, TimeSpan Step, IReadOnlyList<AlertPreviewPoint> Points)
{
    public int Firings => Points.Count(p => p.Notice == AlertNotice.Firing);
}

/// <summary>
/// Alert rules of the current team: everyone in the team reads them, their states, events and evaluations
/// (<see cref="Permission.ViewTraces"/>); Admins and Owners and <c>admin</c> keys manage them, and acknowledge or snooze an
/// alert (<see cref="Permission.ManageAlerts"/>). Every check is here, not only in the UI.
/// </summary>
public sealed class AlertService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IMetricsReader reader, IMemberDirectory members, INotificationOutbox outbox, TimeProvider clock)
{
    public const int MaxNameLength = 100;
    public const int MinWindowMinutes = 5;
    public const int MaxWindowMinutes = 1440;
    public const int MaxForEvaluations = 1440;
    public const int MaxCooldownMinutes = 7 * 1440;
    public const int MaxRulesPerTeam = 200;
    public const int MaxSnoozeMinutes = 7 * 1440;
    public const int MaxPageSize = 200;

    /// <summary>How far back the edit page's preview replays a rule.</summary>
    public static readonly TimeSpan PreviewRange = TimeSpan.FromDays(7);

    public async Task<IReadOnlyList<AlertRuleOverview>> ListAsync(CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var rules = await db.AlertRules.AsNoTracking().OrderBy(r => r.Name).ToListAsync(ct);
        var states = (await db.AlertStates.AsNoTracking().ToListAsync(ct)).ToLookup(s => s.RuleId);
        return rules.Select(r => new AlertRuleOverview(r, states[r.Id].OrderBy(s => s.GroupKey, StringComparer.Ordinal).ToList())).ToList();
    }

    public async Task<AlertRuleOverview> GetAsync(Guid ruleId, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var rule = await db.AlertRules.AsNoTracking().SingleOrDefaultAsync(r => r.Id == ruleId, ct) ?? throw NotFound();
        var states = await db.AlertStates.AsNoTracking().Where(s => s.RuleId == ruleId).ToListAsync(ct);
        return new AlertRuleOverview(rule, states.OrderBy(s => s.GroupKey, StringComparer.Ordinal).ToList());
    }

    public async Task<AlertRule> CreateAsync(AlertRuleDefinition definition, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        var clean = await ValidateAsync(definition, ct);
        await using var db = await dbFactory.CreateAsync(ct);
        if (await db.AlertRules.CountAsync(ct) >= MaxRulesPerTeam)
        {
            throw new DomainValidationException("name", $"A team may have at most {MaxRulesPerTeam} alert rules.");
        }

        await RequireUniqueNameAsync(db, clean.Name!, null, ct);
        var now = clock.GetUtcNow();
        var rule = new AlertRule { Id = Uuid7.Create(now), TeamId = teamId, Name = clean.Name!, CreatedBy = team.UserId, CreatedAt = now };
        Fill(rule, clean, now);
        db.AlertRules.Add(rule);
        await db.SaveChangesAsync(ct);
        return rule;
    }

    /// <summary>
    /// Changes a rule. States are kept when only its name, channels, severity, cooldown or enabled flag change; a change of
    /// what is measured or how it is judged starts every group afresh (OK), so a state never mixes two definitions.
    /// </summary>
    public async Task<AlertRule> UpdateAsync(Guid ruleId, AlertRuleDefinition definition, CancellationToken ct = default)
    {
        RequireManage();
        var clean = await ValidateAsync(definition, ct);
        await using var db = await dbFactory.CreateAsync(ct);
        var rule = await db.AlertRules.SingleOrDefaultAsync(r => r.Id == ruleId, ct) ?? throw NotFound();
        await RequireUniqueNameAsync(db, clean.Name!, ruleId, ct);
        var measuredBefore = (rule.Metric, rule.MetricKey, rule.FiltersJson, rule.WindowMinutes, rule.ConditionOp, rule.ConditionValue, rule.GroupBy,
            rule.ForEvaluations, rule.MinSamples);
        Fill(rule, clean, clock.GetUtcNow());
        if (measuredBefore != (rule.Metric, rule.MetricKey, rule.FiltersJson, rule.WindowMinutes, rule.ConditionOp, rule.ConditionValue, rule.GroupBy,
            rule.ForEvaluations, rule.MinSamples))
        {
            await db.AlertStates.Where(s => s.RuleId == ruleId).ExecuteDeleteAsync(ct);
        }

        await db.SaveChangesAsync(ct);
        return rule;
    }

    /// <summary>Deletes a rule with its states, evaluations and events.</summary>
    public async Task DeleteAsync(Guid ruleId, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        if (await db.AlertRules.Where(r => r.Id == ruleId).ExecuteDeleteAsync(ct) == 0)
        {
            throw NotFound();
        }

        await db.AlertStates.Where(s => s.RuleId == ruleId).ExecuteDeleteAsync(ct);
        await db.AlertEvaluations.Where(s => s.RuleId == ruleId).ExecuteDeleteAsync(ct);
        await db.AlertEvents.Where(s => s.RuleId == ruleId).ExecuteDeleteAsync(ct);
    }

    /// <summary>State changes, newest first; of one rule when given. The cursor is the last event's id (ids are time-ordered UUIDv7).</summary>
    public async Task<AlertEventPage> EventsAsync(Guid? ruleId = null, string? cursor = null, int limit = 50, CancellationToken ct = default)
    {
        RequireView();
        if (limit is < 1 or > MaxPageSize)
        {
            throw new DomainValidationException("limit", $"Must be from 1 to {MaxPageSize}.");
        }

        Guid? before = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            before = Guid.TryParse(cursor, out var id) ? id : throw new DomainValidationException("cursor", "Not a cursor this list gave.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var query = db.AlertEvents.AsNoTracking();
        if (ruleId is { } r)
        {
            query = query.Where(e => e.RuleId == r);
        }

        if (before is { } b)
        {
            var at = await db.AlertEvents.Where(e => e.Id == b).Select(e => (DateTimeOffset?)e.At).SingleOrDefaultAsync(ct)
                ?? throw new DomainValidationException("cursor", "Not a cursor this list gave.");
            query = query.Where(e => e.At < at || (e.At == at && e.Id.CompareTo(b) < 0));
        }

        var rows = await query.OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Take(limit + 1).ToListAsync(ct);
        var page = rows.Take(limit).ToList();
        return new AlertEventPage(page, rows.Count > limit ? page[^1].Id.ToString() : null);
    }

    /// <summary>A rule's evaluations since <paramref name="since"/> (default: the retention, a week), newest first; of one group when given.</summary>
    public async Task<IReadOnlyList<AlertEvaluation>> EvaluationsAsync(
        Guid ruleId, string? group = null, DateTimeOffset? since = null, int limit = 500, CancellationToken ct = default)
    {
        RequireView();
        if (limit is < 1 or > 10_080)
        {
            throw new DomainValidationException("limit", "Must be from 1 to 10080.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        if (!await db.AlertRules.AnyAsync(r => r.Id == ruleId, ct))
        {
            throw NotFound();
        }

        var from = since ?? clock.GetUtcNow() - AlertRunner.EvaluationRetention;
        var query = db.AlertEvaluations.AsNoTracking().Where(e => e.RuleId == ruleId && e.EvaluatedAt >= from);
        if (group is not null)
        {
            query = query.Where(e => e.GroupKey == group);
        }

        return await query.OrderByDescending(e => e.EvaluatedAt).ThenBy(e => e.GroupKey).Take(limit).ToListAsync(ct);
    }

    /// <summary>Marks a firing alert as seen by the caller (cleared when it resolves).</summary>
    public Task<AlertState> AcknowledgeAsync(Guid ruleId, string group, CancellationToken ct = default) =>
        ChangeStateAsync(ruleId, group, (state, actor, now) =>
        {
            if (state.Status != AlertStatus.Firing)
            {
                throw new ConflictException("Only a firing alert can be acknowledged.");
            }

            state.AcknowledgedAt = now;
            state.AcknowledgedBy = actor;
            return $"Acknowledged by {actor}.";
        }, ct);

    /// <summary>No notifications for this alert for <paramref name="minutes"/> (0 ends a snooze); it is still evaluated.</summary>
    public Task<AlertState> SnoozeAsync(Guid ruleId, string group, int minutes, CancellationToken ct = default)
    {
        if (minutes is < 0 or > MaxSnoozeMinutes)
        {
            throw new DomainValidationException("minutes", $"Must be from 0 (end the snooze) to {MaxSnoozeMinutes}.");
        }

        return ChangeStateAsync(ruleId, group, (state, actor, now) =>
        {
            state.SnoozedUntil = minutes == 0 ? null : now + TimeSpan.FromMinutes(minutes);
            return minutes == 0 ? $"Snooze ended by {actor}." : $"Snoozed by {actor} until {state.SnoozedUntil:yyyy-MM-dd HH:mm} UTC.";
        }, ct);
    }

    /// <summary>
    /// How <paramref name="definition"/> would have behaved over the last 7 days: one read of minute cells (hour cells for
    /// windows of an hour or more, or for anomaly baselines too long for minutes), then <see cref="AlertEvaluator"/> replayed at
    /// each step with the states it produced. Steps are a minute, or an hour for hour cells; the rule's "sustained for N
    /// evaluations" is scaled to the step, so the preview shows how it would have fired, at the resolution of the cells.
    /// </summary>
    public async Task<AlertPreview> PreviewAsync(AlertRuleDefinition definition, CancellationToken ct = default)
    {
        var teamId = RequireView();
        var clean = await ValidateAsync(definition with { ChannelIds = [] }, ct, nameRequired: false);
        var rule = new AlertRule { Id = Guid.Empty, TeamId = teamId, Name = clean.Name ?? "Preview" };
        Fill(rule, clean, clock.GetUtcNow());
        var end = AlertRuleEvaluation.WindowEnd(clock.GetUtcNow());
        var start = end - PreviewRange;
        var width = TimeSpan.FromMinutes(rule.WindowMinutes);
        var lookBack = width * AlertWindows.WindowsNeeded(rule);
        var hourly = rule.WindowMinutes >= 60;
        var interval = hourly ? MetricInterval.Hour : MetricInterval.Minute;
        // A step's read merges its look-back's cells: anomaly steps a whole window (its baseline is windows anyway), others
        // about a fifteenth of one, so a week's replay merges well under a million cells whatever the rule.
        var stepMinutes = rule.ConditionOp == AlertConditionOp.Anomaly
            ? Math.Max(interval.Length().TotalMinutes, Math.Floor(rule.WindowMinutes / interval.Length().TotalMinutes) * interval.Length().TotalMinutes)
            : Math.Max(interval.Length().TotalMinutes, Math.Floor(rule.WindowMinutes / 15.0 / interval.Length().TotalMinutes) * interval.Length().TotalMinutes);
        var step = TimeSpan.FromMinutes(stepMinutes);
        var readFrom = interval.Floor(start - lookBack);
        var cells = await reader.ReadAsync(new AnalyticsQuery(rule.Filters.ToAnalytics(readFrom, end), interval, AlertWindows.Dimension(rule.GroupBy)), ct);
        var replay = new AlertRule
        {
            Id = rule.Id, TeamId = teamId, Name = rule.Name, Metric = rule.Metric, MetricKey = rule.MetricKey, FiltersJson = rule.FiltersJson,
            WindowMinutes = rule.WindowMinutes, ConditionOp = rule.ConditionOp, ConditionValue = rule.ConditionValue, MinSamples = rule.MinSamples,
            GroupBy = rule.GroupBy, ForEvaluations = Math.Max(1, (int)Math.Ceiling(rule.ForEvaluations / step.TotalMinutes)),
            CooldownMinutes = rule.CooldownMinutes,
        };
        var byBucket = cells.GroupBy(c => c.Bucket).OrderBy(g => g.Key).ToList();
        var states = new Dictionary<string, AlertState>(StringComparer.Ordinal);
        var points = new List<AlertPreviewPoint>();
        var first = interval.Floor(start) + interval.Length();
        var lo = 0;
        var window = new List<MetricCell>();
        for (var t = first; t <= end; t += step)
        {
            // Cells in [t − lookBack, t): a sliding list, so each cell is added and dropped once.
            window.RemoveAll(c => c.Bucket < t - lookBack);
            while (lo < byBucket.Count && byBucket[lo].Key < t)
            {
                window.AddRange(byBucket[lo].Where(c => c.Bucket >= t - lookBack));
                lo++;
            }

            var keep = states.Values.Where(s => s.Status is AlertStatus.Pending or AlertStatus.Firing).Select(s => s.GroupKey).ToHashSet(StringComparer.Ordinal);
            var measurements = AlertWindows.Measure(replay, window, t, keep);
            foreach (var o in AlertEvaluator.Evaluate(replay, measurements, states, t))
            {
                if (o.State.Status != AlertStatus.Ok || states.ContainsKey(o.Group) || rule.GroupBy == AlertGroupBy.None)
                {
                    states[o.Group] = o.State;
                }

                points.Add(new AlertPreviewPoint(t, o.Group, o.Measurement.Value, o.Measurement.Samples, o.Decision, o.State.Status, o.Notice));
            }
        }

        return new AlertPreview(start, end, step, points);
    }

    private async Task<AlertState> ChangeStateAsync(Guid ruleId, string group, Func<AlertState, string, DateTimeOffset, string> change, CancellationToken ct)
    {
        var teamId = RequireManage();
        var actor = team.UserId is { } user ? await members.FindNameAsync(user, ct) ?? user
            : team.ApiKeyId is { } key ? $"API key {key}" : "someone";
        await using var db = await dbFactory.CreateAsync(ct);
        var rule = await db.AlertRules.AsNoTracking().SingleOrDefaultAsync(r => r.Id == ruleId, ct) ?? throw NotFound();
        var state = await db.AlertStates.SingleOrDefaultAsync(s => s.RuleId == ruleId && s.GroupKey == group, ct)
            ?? throw new NotFoundException("This rule has no alert for that group.");
        var now = clock.GetUtcNow();
        var message = change(state, actor, now);
        db.AlertEvents.Add(new AlertEvent
        {
            Id = Uuid7.Create(now), TeamId = teamId, RuleId = ruleId, RuleName = rule.Name, GroupKey = group, At = now, FromStatus = state.Status,
            ToStatus = state.Status, Value = state.LastValue, Samples = state.LastSamples, Message = message, Actor = actor,
            WindowFrom = now, WindowTo = now,
        });
        await db.SaveChangesAsync(ct);
        return state;
    }

    private static string? Filter(string field, string? value) => Require.Filter(field, value, IngestionLimits.MaxShortText);

    private static void Fill(AlertRule rule, AlertRuleDefinition d, DateTimeOffset now)
    {
        rule.Name = d.Name ?? rule.Name;
        rule.Metric = d.Metric;
        rule.MetricKey = d.MetricKey;
        rule.FiltersJson = AlertJson.WriteFilters(d.Filters);
        rule.WindowMinutes = d.WindowMinutes;
        rule.ConditionOp = d.Op;
        rule.ConditionValue = d.Value;
        rule.ForEvaluations = d.ForEvaluations;
        rule.MinSamples = d.MinSamples;
        rule.CooldownMinutes = d.CooldownMinutes;
        rule.GroupBy = d.GroupBy;
        rule.Severity = d.Severity;
        rule.ChannelIds = [.. d.ChannelIds ?? []];
        rule.Enabled = d.Enabled;
        rule.UpdatedAt = now;
    }

    private async Task<AlertRuleDefinition> ValidateAsync(AlertRuleDefinition d, CancellationToken ct, bool nameRequired = true)
    {
        ArgumentNullException.ThrowIfNull(d);
        var name = nameRequired || !string.IsNullOrWhiteSpace(d.Name) ? Require.Text("name", d.Name, MaxNameLength) : null;
        string? key = null;
        if (d.Metric.NeedsKey())
        {
            key = Require.Text("metric_key", d.MetricKey, IngestionLimits.MaxShortText);
        }
        else if (!string.IsNullOrWhiteSpace(d.MetricKey))
        {
            throw new DomainValidationException("metric_key", $"Only {Metric.ReasonRejectionRate.Name()} (a reason) and {Metric.ScoreMean.Name()} (a score's name) take a key.");
        }

        var f = d.Filters ?? new AlertFilters();
        f = new AlertFilters(Filter("model", f.Model), Filter("provider", f.Provider), Filter("environment", f.Environment), Filter("tag", f.Tag),
            Filter("experiment", f.Experiment), Filter("variant", f.Variant), Filter("user_id", f.UserId));
        Range("window_minutes", d.WindowMinutes, MinWindowMinutes, MaxWindowMinutes);
        Range("for_evaluations", d.ForEvaluations, 1, MaxForEvaluations);
        Range("min_samples", d.MinSamples, 0, 1_000_000);
        Range("cooldown_minutes", d.CooldownMinutes, 0, MaxCooldownMinutes);
        if (!double.IsFinite(d.Value))
        {
            throw new DomainValidationException("condition.value", "Must be a number.");
        }

        switch (d.Op)
        {
            case AlertConditionOp.ChangePct when d.Value == 0:
                throw new DomainValidationException("condition.value", "A change in percent: positive for a rise (50 = by more than 50 %), negative for a fall.");
            case AlertConditionOp.Anomaly when d.Value is < 1 or > 20:
                throw new DomainValidationException("condition.value", "The number of robust standard deviations (k), from 1 to 20; 3.5 is usual.");
            case AlertConditionOp.Above or AlertConditionOp.Below when d.Metric.IsRate() && d.Value is < 0 or > 1:
                throw new DomainValidationException("condition.value", "Rates are from 0 to 1 (0.2 is 20 %).");
        }

        var channels = (d.ChannelIds ?? []).Distinct().ToList();
        if (channels.Count > 0)
        {
            var unknown = await outbox.UnknownChannelsAsync(channels, ct);
            if (unknown.Count > 0)
            {
                throw new DomainValidationException("channel_ids", $"Not a notification channel of this team: {string.Join(", ", unknown)}.");
            }
        }

        return d with { Name = name, MetricKey = key, Filters = f, ChannelIds = channels };
    }

    private static void Range(string field, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            throw new DomainValidationException(field, $"Must be from {min} to {max}.");
        }
    }

    private static async Task RequireUniqueNameAsync(IEvalDbContext db, string name, Guid? except, CancellationToken ct)
    {
        var names = await db.AlertRules.Where(r => except == null || r.Id != except).Select(r => r.Name).ToListAsync(ct);
        if (names.Any(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new DomainValidationException("name", "Another alert rule of this team has that name.");
        }
    }

    private Guid RequireView() => team.Can(Permission.ViewTraces) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Reading alert rules needs an API key with the 'read' scope.");

    private Guid RequireManage() => team.Can(Permission.ManageAlerts) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Managing alert rules needs an Admin, or an API key with the 'admin' scope.");

    private static NotFoundException NotFound() => new("No such alert rule in this team.");
}
