using EvalPlatform.Core.Alerts;

namespace EvalPlatform.Web.Components.Pages.Alerts;

/// <summary>A rule in a line, as the pages show it.</summary>
public static class AlertRuleText
{
    /// <summary>"Error rate above 20 % over 15 min, per user, for 3 evaluations, min 20 traces".</summary>
    public static string Summary(AlertRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var parts = new List<string> { $"{AlertText.Metric(rule.Metric, rule.MetricKey)} {AlertText.Condition(rule, null, null)} over {AlertText.Window(rule.WindowMinutes)}" };
        if (rule.GroupBy != AlertGroupBy.None)
        {
            parts.Add($"per {GroupNoun(rule.GroupBy)}");
        }

        if (rule.ForEvaluations > 1)
        {
            parts.Add($"for {rule.ForEvaluations} evaluations");
        }

        if (rule.MinSamples > 0)
        {
            parts.Add($"min {rule.MinSamples} {AlertText.SampleNoun(rule.Metric, rule.MinSamples)}");
        }

        var filters = Filters(rule.Filters);
        if (filters.Length > 0)
        {
            parts.Add(filters);
        }

        return string.Join(", ", parts);
    }

    public static string GroupNoun(AlertGroupBy by) => by switch
    {
        AlertGroupBy.Model => "model",
        AlertGroupBy.Environment => "environment",
        AlertGroupBy.UserId => "user",
        _ => "",
    };

    public static string Group(AlertGroupBy by, string group) => by == AlertGroupBy.None ? "all traces" : group.Length == 0 ? $"(no {GroupNoun(by)})" : group;

    public static string Filters(AlertFilters f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return string.Join(", ", new[]
        {
            ("model", f.Model), ("provider", f.Provider), ("environment", f.Environment), ("tag", f.Tag), ("experiment", f.Experiment),
            ("variant", f.Variant), ("user", f.UserId),
        }.Where(p => p.Item2 is not null).Select(p => $"{p.Item1} {p.Item2}"));
    }
}
